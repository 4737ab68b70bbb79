// Users and roles: an owner invites a viewer, who can look but not change anything, and every
// change lands in the audit log.
import { test, expect } from '@playwright/test';
import { readFile } from 'node:fs/promises';
import { PASSWORD, hydrated, signUp, uniqueEmail } from './helpers';

test('a viewer sees VMs but cannot change them, in the UI or by calling the server directly', async ({ page, browser }) => {
  await signUp(page, 'Team Co', uniqueEmail('team-owner'));
  await page.getByRole('link', { name: 'VDCs' }).click();
  await hydrated(page);
  await page.getByLabel('Name').fill('ams-main');
  await page.getByLabel('Zone').selectOption({ label: 'Amsterdam (ams1), NL' });
  await page.getByRole('button', { name: 'Create VDC' }).click();
  await page.getByRole('link', { name: 'Create VM here' }).click();
  await hydrated(page);
  await page.getByLabel('Name').fill('shared-1');
  await page.getByRole('button', { name: 'Create VM' }).click();
  await expect(page.locator('.badge-running')).toBeVisible({ timeout: 30_000 });
  const vmUrl = page.url();
  const vmId = vmUrl.split('/').pop()!;

  // The owner invites a viewer; the link is shown once.
  await page.getByRole('link', { name: 'Settings' }).click();
  await hydrated(page);
  const viewerEmail = uniqueEmail('viewer');
  await page.getByLabel('Their e-mail').fill(viewerEmail);
  await page.getByLabel('Role', { exact: true }).selectOption('viewer');
  await page.getByRole('button', { name: 'Create invitation' }).click();
  const link = await page.getByTestId('invite-link').innerText();
  expect(link).toMatch(/^\/invite\/[0-9a-f]{64}$/);

  const viewerContext = await browser.newContext();
  const viewer = await viewerContext.newPage();
  await viewer.goto(link);
  await hydrated(viewer);
  await viewer.getByLabel('Choose a password').fill(PASSWORD);
  await viewer.getByRole('button', { name: 'Join' }).click();
  await expect(viewer.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
  await expect(viewer.getByTestId('tenant-name')).toHaveText('Team Co');

  // The viewer sees the VM, with every action disabled and the reason shown.
  await viewer.goto(vmUrl);
  await hydrated(viewer);
  await expect(viewer.getByRole('heading', { level: 1, name: 'VM shared-1' })).toBeVisible();
  await expect(viewer.getByRole('button', { name: 'Stop' })).toBeDisabled();
  await expect(viewer.getByRole('button', { name: 'Destroy VM' })).toBeDisabled();
  const refusal = 'Viewers can look but not change anything; an owner can make you a member.';
  await expect(viewer.getByText(refusal).first()).toBeVisible();
  await viewer.screenshot({ path: 'screenshots/viewer-vm-page.png', fullPage: true });

  // Calling the server function directly is refused too, and nothing changes.
  // (with the page's Origin, as the page itself would send it: the role is what refuses it)
  const origin = new URL(viewer.url()).origin;
  const direct = await viewer.request.post('/fn/vm_operate', { form: { id: vmId, action: 'stop' }, headers: { Origin: origin } });
  expect(direct.status()).toBe(403);
  await viewer.reload();
  await expect(viewer.locator('.badge-running')).toBeVisible();
  // The create forms say so too, before anything is typed: their buttons are disabled, with why.
  await viewer.goto('/vdcs');
  await hydrated(viewer);
  const createVdc = viewer.getByRole('button', { name: 'Create VDC' });
  await expect(createVdc).toBeDisabled();
  await expect(createVdc).toHaveAccessibleDescription(refusal);
  await viewer.goto('/keys');
  await expect(viewer.getByRole('button', { name: 'Add key' })).toBeDisabled();
  await viewerContext.close();

  // The owner's audit log (opened afresh) has the invitation, the viewer joining, the refused stop.
  await page.goto('/settings');
  const audit = page.getByRole('table', { name: 'Audit log' });
  await expect(audit.getByRole('row').filter({ hasText: 'user.invite' })).toHaveCount(1);
  await expect(audit.getByRole('row').filter({ hasText: 'user.join' })).toHaveCount(1);
  await expect(audit.getByRole('row').filter({ hasText: 'vm.stop' }).filter({ hasText: 'forbidden' })).toHaveCount(1);
  await expect(audit.getByRole('row').filter({ hasText: 'vm.create' }).filter({ hasText: 'ok' })).toHaveCount(1);
  await page.screenshot({ path: 'screenshots/settings.png', fullPage: true });
});

test('an EU-only tenant sees New York greyed out, is refused it by the server, and gets residency evidence', async ({ page }) => {
  await signUp(page, 'Euro GmbH', uniqueEmail('eu'));
  await page.getByRole('link', { name: 'Settings' }).click();
  await hydrated(page);
  await page.getByLabel('Policy', { exact: true }).selectOption({ label: 'EU only' });
  await page.getByRole('button', { name: 'Save policy' }).click();
  await expect(page.getByTestId('residency-label')).toHaveText('EU only');

  await page.getByRole('link', { name: 'VDCs' }).click();
  await hydrated(page);
  const newYork = page.getByRole('option', { name: 'New York (nyc1), US — outside your residency policy (EU only)' });
  await expect(newYork).toBeDisabled();
  // The server refuses it too, whatever the form offers.
  const origin = new URL(page.url()).origin;
  const refused = await page.request.post('/fn/vdc_create', { form: { name: 'ny', zone: 'nyc1' }, headers: { Origin: origin } });
  expect(refused.status()).toBe(422);
  expect(await refused.text()).toMatch(/New York \(US\) is outside your residency policy/);
  await page.reload();
  await expect(page.getByText('No VDCs yet')).toBeVisible();

  await page.getByLabel('Name').fill('berlin');
  await page.getByLabel('Zone').selectOption({ label: 'Berlin (ber1), DE' });
  await page.getByRole('button', { name: 'Create VDC' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'VDC berlin' })).toBeVisible();
  await page.goto('/residency');
  await expect(page.getByRole('status')).toHaveText('The one resource is inside the policy.');
  const rows = page.getByRole('table', { name: 'Resources and where they are' }).getByRole('row');
  await expect(rows.filter({ hasText: 'berlin' })).toContainText('Berlin (ber1), DE');
  const download = page.waitForEvent('download');
  await page.screenshot({ path: 'screenshots/residency.png', fullPage: true });
  await page.getByRole('link', { name: 'Download (CSV)' }).click();
  const csv = await readFile(await (await download).path(), 'utf8');
  expect(csv).toContain('# Residency policy: EU only');
  expect(csv).toContain('VDC,"berlin",ber1,"Berlin",DE,yes');
});
