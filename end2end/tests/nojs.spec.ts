// Before the WASM arrives (a slow phone) or when it never does, every form still works as a plain
// HTML form: a refused one comes back with its field errors, a good one moves on.
import { expect, test } from '@playwright/test';
import { PASSWORD, uniqueEmail } from './helpers';

test.use({ javaScriptEnabled: false });

test('without JavaScript: sign up, see a field error, create a VDC', async ({ page }) => {
  const email = uniqueEmail('nojs');
  await page.goto('/signup');
  await page.getByLabel('Organisation name').fill(`No script ${Date.now()}`);
  await page.getByLabel('Work e-mail').fill(email);
  // Too short: refused next to its field, and nothing was created.
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Create your Meridian account' })).toBeVisible();
  await expect(page.getByText('Use at least 12 characters.')).toBeVisible();
  await page.getByLabel('Organisation name').fill(`No script ${Date.now()}`);
  await page.getByLabel('Work e-mail').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();

  await page.goto('/vdcs');
  await page.getByLabel('Name').fill('Plain Form');
  await page.getByLabel('Zone').selectOption({ label: 'London (lon1), GB' });
  await page.getByRole('button', { name: 'Create VDC' }).click();
  await expect(page.getByRole('form', { name: 'Create VDC' }).getByText('Use lowercase letters, digits and hyphens only')).toBeVisible();
  await expect(page.getByRole('link', { name: 'Plain Form' })).toHaveCount(0);
  await page.getByLabel('Name').fill('plain-form');
  await page.getByLabel('Zone').selectOption({ label: 'London (lon1), GB' });
  await page.getByRole('button', { name: 'Create VDC' }).click();
  await expect(page.getByRole('link', { name: 'plain-form' })).toBeVisible();

  // A VM from the plain form lands on its own page, its creation under way.
  await page.goto('/vms/new');
  await page.getByLabel('Name', { exact: true }).fill('no-script-vm');
  await page.getByRole('button', { name: 'Create VM' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'no-script-vm' })).toBeVisible();
  await expect(page).toHaveURL(/\/vms\/[0-9a-f-]{36}$/);
});
