// Bulk actions on the VM list (issue #21 item 7): pick VMs, act on them at once, one job each; a VM
// that cannot take the action says why while the others go ahead; destroying many is confirmed once.
import { test, expect, type Page } from '@playwright/test';
import { hydrated, signUp, uniqueEmail } from './helpers';

/** Creates a VM named `name` in the form's first choice (the first VM makes that zone's VDC). */
async function createVm(page: Page, name: string): Promise<void> {
  await page.goto('/vms/new');
  await hydrated(page);
  await page.getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Create VM' }).click();
  await expect(page).toHaveURL(/\/vms\/[0-9a-f-]{36}$/);
}

test('VMs picked in the list stop and are destroyed together, each saying what happened', async ({ page }) => {
  await signUp(page, 'Bulk Operators', uniqueEmail('bulk'));
  for (const name of ['bulk-1', 'bulk-2', 'bulk-3']) {
    await createVm(page, name);
  }
  await page.goto('/vms');
  await hydrated(page);
  const table = page.getByRole('table', { name: 'VMs' });
  await expect(table.locator('.badge-running')).toHaveCount(3, { timeout: 60_000 });
  const bar = page.getByRole('form', { name: 'Act on selected VMs' });
  const results = page.getByRole('status', { name: 'What happened to each VM' });

  // Two picked: both stop, one job each.
  await expect(bar).toContainText('Select VMs in the table to act on several at once.');
  await page.getByRole('checkbox', { name: 'Select bulk-1' }).check();
  await page.getByRole('checkbox', { name: 'Select bulk-2' }).check();
  await expect(bar).toContainText('2 VMs selected');
  await bar.getByRole('button', { name: 'Stop', exact: true }).click();
  await expect(results).toContainText('Started on 2 VMs.');
  await expect(results.getByRole('listitem')).toHaveCount(2);
  await expect(bar).toContainText('Select VMs in the table');
  // The list follows the jobs by itself.
  await expect(table.locator('.badge-stopped')).toHaveCount(2, { timeout: 30_000 });

  // All three: the stopped ones are skipped with the reason, the running one stops.
  await page.getByRole('checkbox', { name: 'Select every VM shown' }).check();
  await expect(bar).toContainText('3 VMs selected');
  await bar.getByRole('button', { name: 'Stop', exact: true }).click();
  await expect(results).toContainText('Started on 1 VM; 2 VMs skipped.');
  await expect(results.getByRole('listitem').filter({ hasText: 'bulk-1' }))
    .toContainText('skipped: The VM is already stopped.');
  await expect(results.getByRole('listitem').filter({ hasText: 'bulk-3' })).toContainText('started');
  await expect(table.locator('.badge-stopped')).toHaveCount(3, { timeout: 30_000 });

  // Destroy all three, confirmed once: a wrong count destroys nothing and says what to type.
  await page.getByRole('checkbox', { name: 'Select every VM shown' }).check();
  await bar.getByText('Destroy…').click();
  const confirm = bar.getByLabel('Type the number of selected VMs to confirm');
  await confirm.fill('2');
  await bar.getByRole('button', { name: 'Destroy 3 VMs' }).click();
  await expect(bar.getByText('Type 3 to confirm destroying 3 VMs.')).toBeVisible();
  await expect(table.getByRole('row')).toHaveCount(4);
  await confirm.fill('3');
  await bar.getByRole('button', { name: 'Destroy 3 VMs' }).click();
  await expect(results).toContainText('Started on 3 VMs.');
  await expect(page.getByRole('region', { name: 'No VMs' })).toBeVisible({ timeout: 30_000 });
  // Nothing left to act on: the bar goes with the list.
  await expect(bar).toBeHidden();
});
