// Billing: the hours of a VM that ran are on the bill, named per VM, bandwidth at $0.00, one
// projection on the billing page and the overview, and the CSVs download.
import { test, expect } from '@playwright/test';
import { readFile } from 'node:fs/promises';
import { hydrated, signUp, uniqueEmail } from './helpers';

test('the billing page lists the hours of a VM that ran, and the invoice CSV downloads', async ({ page }) => {
  await signUp(page, 'Billable Ltd', uniqueEmail('bill'));
  await page.getByRole('link', { name: 'VDCs' }).click();
  await hydrated(page);
  await page.getByLabel('Name').fill('sin');
  await page.getByLabel('Zone').selectOption({ label: 'Singapore (sin1), SG' });
  await page.getByRole('button', { name: 'Create VDC' }).click();
  await page.getByRole('link', { name: 'Create VM here' }).click();
  await hydrated(page);
  await page.getByLabel('Name').fill('meter-1');
  await page.getByLabel(/^xs \(Wren\)/).check();
  await page.getByRole('button', { name: 'Create VM' }).click();
  await expect(page.locator('.badge-running')).toBeVisible({ timeout: 30_000 });
  // Let it run for a couple of seconds, then stop it: stopping meters the time it ran.
  await page.waitForTimeout(2_500);
  await page.getByRole('button', { name: 'Stop' }).click();
  await expect(page.locator('.badge-stopped')).toBeVisible({ timeout: 30_000 });

  await page.getByRole('link', { name: 'Billing' }).click();
  const lines = page.getByRole('table', { name: 'Invoice lines' });
  await expect(lines.getByRole('row').filter({ hasText: 'VM xs (Wren)' })).toHaveCount(1);
  await expect(lines.getByRole('row').filter({ hasText: 'Backbone traffic between zones (always free)' })).toContainText('$0.00');
  await expect(lines.getByRole('row').filter({ hasText: 'Internet traffic (always free)' })).toContainText('$0.00');
  // Each VM's charges are named, with a link to it.
  const byVm = page.getByRole('table', { name: 'Charges by VM' });
  await expect(byVm.getByRole('link', { name: 'meter-1' })).toHaveAttribute('href', /^\/vms\//);
  await expect(byVm.getByRole('row').filter({ hasText: 'meter-1' })).toContainText('sin1');
  // The overview says the same projection.
  const projected = (await page.getByRole('region', { name: 'Projected' }).locator('.tile-figure').textContent())!.trim();
  await page.getByRole('link', { name: 'Overview' }).click();
  await expect(page.getByText(`Projected for the month: ${projected}`)).toBeVisible();
  await page.getByRole('link', { name: 'Billing' }).click();
  await expect(byVm).toBeVisible();
  await page.screenshot({ path: 'screenshots/billing.png', fullPage: true });

  const download = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Invoice (CSV)' }).click();
  const csv = await readFile(await (await download).path(), 'utf8');
  expect(csv.split('\n')[0]).toBe('description,quantity,unit,unit_price_usd,amount_usd');
  expect(csv).toContain('VM xs (Wren)');
  expect(csv).toMatch(/"Total",,,,\d+\.\d+/);
});

test('a dedicated host shows its price before create, on the VM and as its own line on the bill', async ({ page }) => {
  await signUp(page, 'Alone Ltd', uniqueEmail('dedicated'));
  await page.goto('/vms/new');
  await hydrated(page);
  await page.getByLabel('Name').fill('alone-1');
  await page.getByLabel(/^xs \(Wren\)/).check();
  const price = page.getByRole('region', { name: 'Price' });
  // xs: $0.0175 an hour; a dedicated host adds half of it.
  await expect(price).toContainText('$0.0175 per hour while running');
  await expect(price).not.toContainText('dedicated host');
  await page.getByLabel(/^Dedicated host: no other tenant's VMs on the same host \(\+50 % on the compute\)/).check();
  await expect(price).toContainText('$0.02625 per hour while running');
  await expect(price).toContainText('A dedicated host adds 50 % to the compute: $0.00875 per hour, included.');
  await page.getByRole('button', { name: 'Create VM' }).click();
  await expect(page.locator('.badge-running')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByText('$0.02625 per hour while running')).toBeVisible();
  await page.waitForTimeout(2_500);
  await page.getByRole('button', { name: 'Stop' }).click();
  await expect(page.locator('.badge-stopped')).toBeVisible({ timeout: 30_000 });

  await page.getByRole('link', { name: 'Billing' }).click();
  const lines = page.getByRole('table', { name: 'Invoice lines' });
  await expect(lines.getByRole('row').filter({ hasText: 'Dedicated host for a VM xs (Wren): 50 % of its compute' }))
    .toHaveCount(1);
});
