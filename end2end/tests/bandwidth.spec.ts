// Bandwidth: traffic shows on charts at $0.00, caps are validated, set and removed, and the
// allowance alert is set.
import { test, expect, type Page } from '@playwright/test';
import { hydrated, signUp, uniqueEmail } from './helpers';

async function vmIn(page: Page, vdc: string, zoneLabel: string, vm: string): Promise<void> {
  await page.getByRole('link', { name: 'VDCs' }).click();
  await hydrated(page);
  await page.getByLabel('Name').fill(vdc);
  await page.getByLabel('Zone').selectOption({ label: zoneLabel });
  await page.getByRole('button', { name: 'Create VDC' }).click();
  await page.getByRole('link', { name: 'Create VM here' }).click();
  await hydrated(page);
  await page.getByLabel('Name').fill(vm);
  await page.getByLabel(/^xs \(Wren\)/).check();
  await page.getByRole('button', { name: 'Create VM' }).click();
  await expect(page.locator('.badge-running')).toBeVisible({ timeout: 30_000 });
}

test('the bandwidth page charts the traffic at $0.00 and manages caps and the alert', async ({ page }) => {
  await signUp(page, 'Chatty Ltd', uniqueEmail('bw'));
  await vmIn(page, 'ams', 'Amsterdam (ams1), NL', 'talker-ams');
  await vmIn(page, 'sin', 'Singapore (sin1), SG', 'talker-sin');
  // Stopping a VM meters the traffic it sent while it ran.
  await page.waitForTimeout(2_000);
  await page.getByRole('button', { name: 'Stop' }).click();
  await expect(page.locator('.badge-stopped')).toBeVisible({ timeout: 30_000 });

  await page.getByRole('link', { name: 'Bandwidth' }).click();
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1, name: 'Bandwidth' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Charged' })).toContainText('$0.00');
  await expect(page.getByRole('img', { name: /Traffic sent per (hour|day) this month by VMs in (.*, )?Singapore/ })).toBeVisible();
  await expect(page.getByRole('img', { name: /busiest is/ })).toBeVisible();
  await expect(page.getByRole('table', { name: 'Traffic by VM' }).getByRole('row').filter({ hasText: 'talker-sin' })).toContainText('$0.00');
  await expect(page.getByRole('table', { name: 'Cost elsewhere' }).getByRole('row')).toHaveCount(3);

  // A cap needs a rate in range, next to the field; then it is in force, and can go again.
  const caps = page.getByRole('form', { name: 'Set a rate cap' });
  await caps.getByLabel('VM', { exact: true }).selectOption({ label: 'talker-ams (ams1)' });
  await caps.getByLabel('Rate (Mb/s)').fill('0');
  await caps.getByRole('button', { name: 'Set cap' }).click();
  await expect(caps.getByText('Enter a rate between 1 and 100000 Mb/s.')).toBeVisible();
  await caps.getByLabel('Rate (Mb/s)').fill('50');
  await caps.getByRole('button', { name: 'Set cap' }).click();
  const inForce = page.getByRole('table', { name: 'Rate caps in force' });
  await expect(inForce.getByRole('row').filter({ hasText: 'VM talker-ams' })).toContainText('50 Mb/s');
  await caps.getByLabel('A zone pair').check();
  await caps.getByLabel('Between').selectOption('ams1');
  await caps.getByLabel('And').selectOption('ams1');
  await caps.getByLabel('Rate (Mb/s)').fill('200');
  await caps.getByRole('button', { name: 'Set cap' }).click();
  await expect(caps.getByText('Choose two different zones')).toBeVisible();
  await caps.getByLabel('And').selectOption('sin1');
  await caps.getByRole('button', { name: 'Set cap' }).click();
  await expect(inForce.getByRole('row').filter({ hasText: 'Amsterdam ↔ Singapore' })).toContainText('200 Mb/s');
  await page.getByRole('button', { name: 'Remove the cap on VM talker-ams' }).click();
  await expect(inForce.getByRole('row').filter({ hasText: 'VM talker-ams' })).toHaveCount(0);

  const alert = page.getByRole('form', { name: 'Set the allowance alert' });
  await alert.getByLabel('Alert at (% of the allowance)').fill('80');
  await alert.getByRole('button', { name: 'Set alert' }).click();
  await expect(page.getByText('Alert set at 80 % of the allowance')).toBeVisible();
  await page.screenshot({ path: 'screenshots/bandwidth.png', fullPage: true });
});
