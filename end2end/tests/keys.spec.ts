// SSH keys: validated when added, chosen in the VM form, installed into the VM.
import { test, expect } from '@playwright/test';
import { hydrated, signUp, uniqueEmail } from './helpers';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIATtkVZY1NbgPpq7r1+NcsULekVB9xZJnG7ATrZWo5z5 e2e@meridian';
const FINGERPRINT = 'SHA256:BzL7OGVVNpssVqhTxClo40SxD2JYxqjay/SMTzdDWPg'; // as `ssh-keygen -lf` prints it

test('an SSH key is checked, listed with its fingerprint, and installed into a new VM', async ({ page }) => {
  await signUp(page, 'Keyholders', uniqueEmail('keys'));
  await page.getByRole('link', { name: 'SSH keys' }).click();
  await hydrated(page);
  await expect(page.getByText('No SSH keys yet')).toBeVisible();

  await page.getByLabel('Name').fill('laptop');
  await page.getByLabel('Public key').fill('ssh-ed25519 not-base64!!');
  await page.getByRole('button', { name: 'Add key' }).click();
  await expect(page.getByRole('form', { name: 'Add SSH key' }).locator('.field-error').nth(1)).not.toBeEmpty();
  await expect(page.getByRole('table', { name: 'SSH keys' })).toHaveCount(0);

  await page.getByLabel('Public key').fill(KEY);
  await page.getByRole('button', { name: 'Add key' }).click();
  await expect(page.getByRole('table', { name: 'SSH keys' }).getByText(FINGERPRINT)).toBeVisible();

  await page.getByRole('link', { name: 'VDCs' }).click();
  await hydrated(page);
  await page.getByLabel('Name').fill('zrh');
  await page.getByLabel('Zone').selectOption({ label: 'Zurich (zrh1), CH' });
  await page.getByRole('button', { name: 'Create VDC' }).click();
  await page.getByRole('link', { name: 'Create VM here' }).click();
  await hydrated(page);
  await page.getByLabel('Name').fill('keyed-1');
  // Until a key is chosen, the form says the console will be the only way in.
  await expect(page.getByText('No key chosen: you will reach this VM only through its console.')).toBeVisible();
  await page.getByLabel(`SSH key laptop (${FINGERPRINT})`).check();
  await expect(page.getByText('No key chosen: you will reach this VM only through its console.')).toBeHidden();
  await page.getByRole('button', { name: 'Create VM' }).click();
  await expect(page.locator('.badge-running')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole('region', { name: 'Console' })).toContainText(`authorized key ${FINGERPRINT}`);
});
