// Templates: the creator checks cloud-config, and a VM boots from a tenant template.
import { test, expect } from '@playwright/test';
import { hydrated, signUp, uniqueEmail } from './helpers';

test('a tenant template with cloud-config is created, checked, and used for a VM', async ({ page }) => {
  await signUp(page, 'Template Works', uniqueEmail('tpl'));
  await page.getByRole('link', { name: 'Templates' }).click();
  await hydrated(page);
  await expect(page.getByRole('table', { name: 'Built-in templates' }).getByText('Debian 12 (bookworm)')).toBeVisible();

  await page.getByLabel('Name').fill('web-base');
  await page.getByLabel('Base image').selectOption({ label: 'Debian 12 (bookworm)' });
  await page.getByLabel('Cloud-config').fill('packages:\n  - nginx\n');
  await page.getByRole('button', { name: 'Create template' }).click();
  await expect(page.getByRole('form', { name: 'Create template' }).getByText(/#cloud-config/).last()).toBeVisible();
  await expect(page.getByRole('table', { name: 'Your templates' })).toHaveCount(0);

  await page.getByLabel('Cloud-config').fill('#cloud-config\npackages:\n  - nginx\n');
  await page.getByRole('button', { name: 'Create template' }).click();
  await expect(page.getByRole('table', { name: 'Your templates' }).getByText('web-base')).toBeVisible();

  await page.getByRole('link', { name: 'VDCs' }).click();
  await hydrated(page);
  await page.getByLabel('Name').fill('mad');
  await page.getByLabel('Zone').selectOption({ label: 'Madrid (mad1), ES' });
  await page.getByRole('button', { name: 'Create VDC' }).click();
  await page.getByRole('link', { name: 'Create VM here' }).click();
  await hydrated(page);
  await page.getByLabel('Name').fill('nginx-1');
  await page.getByLabel('web-base (yours, on Debian 12 (bookworm))').check();
  await page.getByRole('button', { name: 'Create VM' }).click();
  await expect(page.locator('.badge-running')).toBeVisible({ timeout: 30_000 });
  const properties = page.getByRole('region', { name: 'VM properties' });
  await expect(properties.locator('.property', { hasText: 'Template' }).locator('dd')).toHaveText('web-base');
  await expect(page.getByRole('region', { name: 'Console' })).toContainText('Debian GNU/Linux 12');
});
