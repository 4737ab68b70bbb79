// Zero set-up in every zone: a new customer creates a VM in a zone they never used, with no VDC
// made first; its VDC is made for it, and the next VM there goes into the same one.
import { test, expect } from '@playwright/test';
import { hydrated, signUp, uniqueEmail } from './helpers';

test('a VM is created in a zone the tenant never used, its VDC made for it', async ({ page }) => {
  await signUp(page, 'Anywhere Ltd', uniqueEmail('zones'));
  await page.goto('/vms/new');
  await hydrated(page);
  // The keyboard's first stop skips the navigation: the focus lands on the content.
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.locator('main#content')).toBeFocused();
  const where = page.getByLabel('VDC or zone');
  await expect(where.locator('optgroup[label="Your VDCs"]')).toHaveCount(0);
  await where.selectOption({ label: 'Singapore (sin1), SG' });
  await page.getByLabel('Name').fill('edge-1');
  await page.getByLabel(/^xs \(Wren\)/).check();
  await page.getByRole('button', { name: 'Create VM' }).click();
  await expect(page.locator('.badge-running')).toBeVisible({ timeout: 30_000 });

  await page.goto('/vdcs');
  await hydrated(page);
  await expect(page.getByRole('link', { name: 'default-sin1' })).toBeVisible();

  // The next VM's form offers the VDC, not the zone again.
  await page.goto('/vms/new');
  await hydrated(page);
  await expect(where.locator('optgroup[label="Your VDCs"] option')).toHaveText([/^default-sin1 — Singapore/]);
  await expect(where.locator('option', { hasText: 'Singapore (sin1), SG' })).toHaveCount(1);
});
