// Placement by a latency budget (issue #21 item 2): the VM form offers only the zones within the
// budget and says why the others are ruled out (physics, today's routes, residency). The server's
// refusal of a zone that does not fit, with the same reason, is tested over REST (server/tests/http.rs).
import { test, expect } from '@playwright/test';
import { hydrated, signUp, uniqueEmail } from './helpers';

test('a latency budget leaves only the zones that fit and says why the others are ruled out', async ({ page }) => {
  await signUp(page, 'Nearby Ltd', uniqueEmail('budget'));
  await page.goto('/vms/new');
  await hydrated(page);
  const where = page.getByLabel('VDC or zone');
  // Chosen before any budget: Hong Kong is on offer.
  await where.selectOption('zone:hkg1');
  await page.getByLabel('Name').fill('near-1');

  await page.getByText('Latency budget (optional)').click();
  await page.getByLabel('Round trip at most (ms)').fill('10');
  await page.getByLabel('Measured from').selectOption({ label: 'Frankfurt (fra1), DE' });
  await expect(where.getByRole('option', { name: 'Hong Kong (hkg1), HK — ruled out' })).toBeDisabled();
  await expect(where.getByRole('option', { name: /^Amsterdam \(ams1\), NL — [\d.]+ ms$/ })).toBeEnabled();
  await expect(where.getByRole('option', { name: 'Frankfurt (fra1), DE — 0.0 ms' })).toBeEnabled();
  const out = page.getByRole('list', { name: 'Zones ruled out' });
  await expect(out.getByRole('listitem').filter({ hasText: 'Hong Kong' })).toContainText('Light in fibre needs');
  await expect(page.getByText(/^Hong Kong does not fit\. Light in fibre needs/)).toBeVisible();

  // Still chosen (it was before the budget), it is ruled out: creating asks for another choice.
  await page.getByRole('button', { name: 'Create VM' }).click();
  await expect(page.locator('#vm-vdc-error')).toContainText('Choose one of your VDCs, or a zone');
  await expect(page).toHaveURL(/\/vms\/new$/);

  // A zone that fits is made.
  await where.selectOption('zone:ams1');
  await expect(page.getByText(/^Amsterdam fits: [\d.]+ ms of round trip\.$/)).toBeVisible();
  await page.getByRole('button', { name: 'Create VM' }).click();
  await expect(page).toHaveURL(/\/vms\/[0-9a-f-]{36}$/);
  await expect(page.getByText('Amsterdam', { exact: false }).first()).toBeVisible();
});
