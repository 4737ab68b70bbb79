// The tenant console: VDCs, the VM create form, live provisioning, operations, networks, isolation.
import { test, expect, type Page } from '@playwright/test';
import { hydrated, signUp, uniqueEmail } from './helpers';

async function createVdc(page: Page, name: string, zoneLabel: string): Promise<void> {
  await page.getByRole('link', { name: 'VDCs' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'VDCs' })).toBeVisible();
  await hydrated(page);
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Zone').selectOption({ label: zoneLabel });
  await page.getByRole('button', { name: 'Create VDC' }).click();
  await expect(page.getByRole('heading', { level: 1, name: `VDC ${name}` })).toBeVisible();
}

test('create a VDC in Hong Kong and a VM in it, watch it reach Running live, then operate it', async ({ page }) => {
  await signUp(page, 'Harbour Labs', uniqueEmail('hk'));
  await expect(page.getByText('Your resources will appear here')).toBeVisible();
  await createVdc(page, 'hk-prod', 'Hong Kong (hkg1), HK');

  await page.getByRole('link', { name: 'Create VM here' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Create a VM' })).toBeVisible();
  await hydrated(page);
  await page.getByLabel('Name').fill('web-1');
  await page.getByLabel('Ubuntu 24.04 LTS').check();
  await page.getByLabel(/^s \(Robin\)/).check();
  await expect(page.getByText(/\$0\.045 per hour while running/)).toBeVisible();
  await page.getByLabel(/Internet breakout/).check();
  await expect(page.getByText(/\$0\.05 per hour while running/)).toBeVisible();
  await page.screenshot({ path: 'screenshots/vm-wizard.png', fullPage: true });
  await page.getByRole('button', { name: 'Create VM' }).click();

  // The VM page follows provisioning live: no reload, the steps and then Running.
  await expect(page.getByRole('heading', { level: 1, name: 'VM web-1' })).toBeVisible();
  const progress = page.getByRole('region', { name: 'Progress' });
  await expect(progress).toBeVisible();
  // At once: what the VM is doing on its badge, the actions waiting for it, progress first.
  await expect(page.getByRole('status').filter({ hasText: 'provisioning…' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Stop' })).toBeDisabled();
  await expect(page.getByText('Wait until vm create finishes.').first()).toBeVisible();
  const cards = await page.locator('main section.card').evaluateAll((all) => all.map((c) => c.getAttribute('aria-label')));
  expect(cards.indexOf('Progress')).toBeLessThan(cards.indexOf('Actions'));
  await expect(page.locator('.badge-running')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole('button', { name: 'Stop' })).toBeEnabled();
  await expect(progress.getByText('vm create — succeeded')).toBeVisible();
  const properties = page.getByRole('region', { name: 'VM properties' });
  const privateIp = (await properties.locator('.property', { hasText: 'Private IP' }).locator('dd').innerText()).trim();
  expect(privateIp).toMatch(/^10\.0\.\d+\.\d+$/);
  await expect(properties.locator('.property', { hasText: 'Public IP' }).locator('dd')).toHaveText(/^198\.18\./);
  await expect(page.getByRole('region', { name: 'Console' })).toContainText('web-1 login:');
  // What a customer needs next: how to connect (Ubuntu's user, the public address), its VDC,
  // and a resize that starts from the size it has.
  const publicAddress = (await properties.locator('.property', { hasText: 'Public IP' }).locator('dd').innerText()).trim();
  await expect(page.getByRole('region', { name: 'Connect' }).getByLabel('SSH command')).toHaveText(`ssh ubuntu@${publicAddress}`);
  await expect(page.getByRole('link', { name: 'hk-prod' })).toHaveAttribute('href', /^\/vdcs\/[0-9a-f-]{36}$/);
  await expect(page.getByLabel('New size')).toHaveValue('s');
  await page.screenshot({ path: 'screenshots/vm-page.png', fullPage: true });

  // The private address is on the Networks page.
  await page.getByRole('link', { name: 'Networks' }).click();
  await expect(page.getByText('Private by default:')).toBeVisible();
  await expect(page.getByRole('cell', { name: privateIp })).toBeVisible();
  // Breakout: its public address is listed, and an inbound rule opens HTTPS; a bad port is refused.
  await hydrated(page);
  await expect(page.getByText(/Public addresses: 198\.18\.\d+\.\d+ \(web-1\)/)).toBeVisible();
  const ruleForm = page.getByRole('form', { name: 'Add a firewall rule in hkg1' });
  await ruleForm.getByLabel('Port', { exact: true }).fill('70000');
  await ruleForm.getByRole('button', { name: 'Add rule' }).click();
  await expect(ruleForm.getByText(/port/i).filter({ hasText: '65535' })).toBeVisible();
  await ruleForm.getByLabel('Port', { exact: true }).fill('443');
  await ruleForm.getByRole('button', { name: 'Add rule' }).click();
  await expect(page.getByRole('list', { name: 'Firewall rules in hkg1' }).getByText('TCP 443 from 0.0.0.0/0')).toBeVisible();
  await page.screenshot({ path: 'screenshots/networks.png', fullPage: true });

  // The overview counts it by zone and shows this month's (free) bandwidth.
  await page.getByRole('link', { name: 'Overview' }).click();
  const byZone = page.getByRole('table', { name: 'Resources by zone' });
  await expect(byZone.getByRole('row', { name: /Hong Kong \(hkg1\), HK\s+1\s+1 running/ })).toBeVisible();
  await expect(page.getByText('$0.00 charged')).toBeVisible();
  // Recent activity says what happened, not every step on the way.
  const activity = page.getByRole('region', { name: 'Recent activity' });
  await expect(activity).toContainText('web-1 was created');
  await expect(activity).not.toContainText('Done:');
  await page.screenshot({ path: 'screenshots/overview-with-resources.png', fullPage: true });

  // Stop and start, live; buttons not allowed in a state say why.
  await page.getByRole('link', { name: 'VMs' }).click();
  await page.getByRole('link', { name: 'web-1' }).click();
  await hydrated(page);
  await expect(page.getByRole('button', { name: 'Start' })).toBeDisabled();
  await expect(page.getByText('The VM is already running.')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Resize' })).toBeDisabled();
  await expect(page.getByText('Stop the VM before resizing it.')).toBeVisible();
  await page.getByRole('button', { name: 'Stop' }).click();
  await expect(page.locator('.badge-stopped')).toBeVisible({ timeout: 30_000 });
  // Resize while stopped: the new size is in place once the job is done, then start again.
  await page.getByLabel('New size').selectOption('m');
  await page.getByRole('button', { name: 'Resize' }).click();
  await expect(properties.locator('.property', { hasText: 'Size' }).locator('dd')).toHaveText(/^4 vCPU, 16 GiB RAM, 100 GiB disk$/, { timeout: 30_000 });
  await expect(page.getByRole('table', { name: 'VM events' }).getByRole('row').filter({ hasText: 'vm resize' })).toHaveCount(1);
  await page.getByRole('button', { name: 'Start' }).click();
  await expect(page.locator('.badge-running')).toBeVisible({ timeout: 30_000 });

  // Internet breakout closes and opens again on the running VM, each as a job.
  const publicIp = properties.locator('.property', { hasText: 'Public IP' }).locator('dd');
  await page.getByRole('button', { name: 'Remove public IP' }).click();
  await expect(progress.getByText('vm breakout close — succeeded')).toBeVisible({ timeout: 30_000 });
  await expect(publicIp).toHaveText('None (private only)');
  await page.getByRole('button', { name: 'Add public IP' }).click();
  await expect(progress.getByText('vm breakout open — succeeded')).toBeVisible({ timeout: 30_000 });
  await expect(publicIp).toHaveText(/^198\.18\./);
  await expect(page.getByRole('button', { name: 'Remove public IP' })).toBeEnabled();

  // Destroy asks for the name, and refuses a wrong one.
  await page.getByLabel("Type the VM's name to destroy it").fill('web-2');
  await page.getByRole('button', { name: 'Destroy VM' }).click();
  await expect(page.getByText('Type web-1 to confirm.')).toBeVisible();
  await page.getByLabel("Type the VM's name to destroy it").fill('web-1');
  await page.getByRole('button', { name: 'Destroy VM' }).click();
  await expect(page.locator('.badge-destroyed')).toBeVisible({ timeout: 30_000 });
  await page.getByRole('link', { name: 'VMs' }).click();
  await expect(page.getByText('You have no VMs yet.')).toBeVisible();
});

test('the VM form shows field errors next to the fields and creates nothing', async ({ page }) => {
  await signUp(page, 'Typo Inc', uniqueEmail('typo'));
  await createVdc(page, 'fra-main', 'Frankfurt (fra1), DE');
  await page.getByRole('link', { name: 'Create VM here' }).click();
  await hydrated(page);
  await page.getByLabel('Name').fill('Bad_Name');
  await page.getByRole('button', { name: 'Create VM' }).click();
  await expect(page.getByLabel('Name')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#vm-name-error')).not.toBeEmpty();
  await page.getByRole('link', { name: 'VMs' }).click();
  await expect(page.getByText('You have no VMs yet.')).toBeVisible();
});

test("another tenant never sees a VM, even by its address", async ({ page, browser }) => {
  await signUp(page, 'Owner Co', uniqueEmail('owner'));
  await createVdc(page, 'lon-a', 'London (lon1), GB');
  await page.getByRole('link', { name: 'Create VM here' }).click();
  await hydrated(page);
  await page.getByLabel('Name').fill('secret-1');
  await page.getByRole('button', { name: 'Create VM' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'VM secret-1' })).toBeVisible();
  const vmUrl = page.url();

  const other = await browser.newContext();
  const stranger = await other.newPage();
  await signUp(stranger, 'Nosy Ltd', uniqueEmail('nosy'));
  const response = await stranger.goto(vmUrl);
  expect(response?.status()).toBe(404);
  await expect(stranger.getByRole('heading', { name: 'Not found' })).toBeVisible();
  await expect(stranger.getByText('secret-1')).toHaveCount(0);
  await other.close();
});
