// API keys: made in Settings with the secret shown once, used by a CloudStack-signed request,
// shown as used, and refused once revoked.
import { test, expect, type APIRequestContext } from '@playwright/test';
import { createHmac } from 'node:crypto';
import { hydrated, signUp, uniqueEmail } from './helpers';

/** Runs a CloudStack command signed as CloudStack clients sign it; returns the HTTP status. */
async function cloudstack(request: APIRequestContext, apiKey: string, secret: string, command: string): Promise<number> {
  const params: Record<string, string> = { apiKey, command, response: 'json' };
  const signed = Object.keys(params)
    .sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()))
    .map((name) => `${name}=${encodeURIComponent(params[name])}`)
    .join('&')
    .toLowerCase();
  const signature = createHmac('sha1', secret).update(signed).digest('base64');
  const response = await request.get('/client/api', { params: { ...params, signature } });
  return response.status();
}

test('an API key is shown once, works for the CloudStack API, and stops when revoked', async ({ page, request }) => {
  await signUp(page, 'Automators', uniqueEmail('keys-api'));
  await page.goto('/settings');
  await hydrated(page);
  const keys = page.getByRole('region', { name: 'API keys' });
  await expect(keys.getByText('No API keys yet')).toBeVisible();

  // A name that is not a name is refused next to the field, and nothing is made.
  await keys.getByLabel('Key name').fill('Deploy Bot!');
  await keys.getByRole('button', { name: 'Make key' }).click();
  await expect(keys.locator('.field-error').first()).not.toBeEmpty();
  await expect(keys.getByRole('table', { name: 'API keys' })).toHaveCount(0);

  await keys.getByLabel('Key name').fill('deploy-bot');
  await keys.getByRole('button', { name: 'Make key' }).click();
  const made = keys.getByRole('status');
  await expect(made).toContainText('Meridian does not keep it');
  const values = made.getByRole('definition');
  const apiKey = (await values.nth(0).textContent())!.trim();
  const secret = (await values.nth(1).textContent())!.trim();
  expect(apiKey).toMatch(/^mk_[0-9a-f]{32}$/);
  const table = keys.getByRole('table', { name: 'API keys' });
  await expect(table.getByRole('row', { name: /deploy-bot/ })).toContainText('never');

  expect(await cloudstack(request, apiKey, secret, 'listZones')).toBe(200);
  expect(await cloudstack(request, apiKey, 'not the secret', 'listZones')).toBe(401);

  // After a reload the secret is gone for good, and the key shows it was used.
  await page.reload();
  await hydrated(page);
  await expect(page.getByText(secret)).toHaveCount(0);
  await expect(table.getByRole('row', { name: /deploy-bot/ })).not.toContainText('never');

  await table.getByRole('button', { name: 'Revoke deploy-bot' }).click();
  await expect(keys.getByText('No API keys yet')).toBeVisible();
  expect(await cloudstack(request, apiKey, secret, 'listZones')).toBe(401);
  await page.screenshot({ path: 'screenshots/settings-api-keys.png', fullPage: true });
});
