// The staff console: a support user inspects a tenant read-only (banner, reason in the tenant's
// audit log, changes refused); an admin suspends a tenant, which ends its session and refuses
// its creates, and unsuspends it.
import { test, expect, type Page } from '@playwright/test';
import { hydrated, logIn, signUp, staffCreate, staffLogIn, uniqueEmail } from './helpers';

async function openTenant(page: Page, search: string, name: string): Promise<void> {
  await page.getByLabel('Search tenants').fill(search);
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('table', { name: 'Tenants' }).getByRole('link', { name }).click();
  await expect(page.getByRole('heading', { level: 1, name: `Tenant ${name}` })).toBeVisible();
  await hydrated(page);
}

test('a support user inspects a tenant read-only, with the reason in its audit log', async ({ page, browser }) => {
  const tenant = `Inspected ${Date.now()}`;
  await signUp(page, tenant, uniqueEmail('inspected'));
  await page.getByRole('link', { name: 'VDCs' }).click();
  await hydrated(page);
  await page.getByLabel('Name').fill('zurich');
  await page.getByLabel('Zone').selectOption({ label: 'Zurich (zrh1), CH' });
  await page.getByRole('button', { name: 'Create VDC' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'VDC zurich' })).toBeVisible();

  const supportEmail = staffCreate('support');
  const staffContext = await browser.newContext();
  const staff = await staffContext.newPage();
  // A tenant password does not open the console.
  await staff.goto('/staff/login');
  await hydrated(staff);
  await staff.getByLabel('E-mail').fill(supportEmail);
  await staff.getByLabel('Password').fill('not the password at all');
  await staff.getByRole('button', { name: 'Log in' }).click();
  await expect(staff.getByRole('alert')).toHaveText('Wrong e-mail or password.');
  await staffLogIn(staff, supportEmail);
  // The list comes a page at a time, in the order asked for.
  await staff.getByLabel('Order').selectOption({ label: 'Name, A to Z' });
  await staff.getByRole('button', { name: 'Search' }).click();
  await expect(staff).toHaveURL(/sort=name/);
  await expect(staff.getByRole('navigation', { name: 'Pages of tenants' })).toContainText('Page 1');
  await openTenant(staff, tenant, tenant);
  await expect(staff.getByRole('button', { name: 'Suspend tenant' })).toBeDisabled();
  // Staff read the quota in the customer's units.
  await expect(staff.getByRole('table', { name: 'Quota use' }).getByRole('row').filter({ hasText: 'Memory' }))
    .toContainText('128 GiB');

  // A reason is required, next to its field.
  await staff.getByRole('button', { name: 'Inspect read-only' }).click();
  await expect(staff.getByText(/Say why, in at least 8 characters/)).toBeVisible();
  await staff.getByLabel('Reason', { exact: true }).fill('ticket 9001: VDC questions');
  await staff.getByRole('button', { name: 'Inspect read-only' }).click();

  const banner = staff.getByRole('region', { name: 'Support inspection' });
  await expect(banner).toContainText('Read-only support inspection');
  await expect(banner).toContainText('ticket 9001: VDC questions');
  await expect(staff.getByTestId('tenant-name')).toHaveText(tenant);
  // The header names the inspection, not a role the staff member does not have.
  await expect(staff.getByRole('banner').getByText('Support inspection, read-only')).toBeVisible();
  await staff.getByRole('link', { name: 'VDCs' }).click();
  await expect(staff.getByRole('table', { name: 'Your VDCs' })).toContainText('zurich');
  await expect(banner).toBeVisible();
  // The create form's button is off, and says it is the inspection, not a viewer's role.
  await expect(staff.getByRole('button', { name: 'Create VDC' })).toBeDisabled();
  await expect(staff.getByRole('button', { name: 'Create VDC' }))
    .toHaveAccessibleDescription('Support inspection is read-only: nothing can be changed.');
  await staff.screenshot({ path: 'screenshots/staff-inspection.png', fullPage: true });

  // A change is refused by the server, whatever the page offers, and nothing is created.
  const origin = new URL(staff.url()).origin;
  const refused = await staff.request.post('/fn/vdc_create', { form: { name: 'sneaky', zone: 'lon1' }, headers: { Origin: origin } });
  expect(refused.status()).toBe(403);
  expect(await refused.text()).toContain('read-only');
  await staff.reload();
  await expect(staff.getByRole('table', { name: 'Your VDCs' })).not.toContainText('sneaky');

  await hydrated(staff);
  await banner.getByRole('button', { name: 'End inspection' }).click();
  await expect(staff.getByRole('heading', { level: 1, name: `Tenant ${tenant}` })).toBeVisible();
  await expect(staff.getByRole('region', { name: 'Support inspection' })).toHaveCount(0);

  // Capacity per zone and the job queue across tenants (the demo tenant's VMs were created).
  await staff.getByRole('link', { name: 'Capacity' }).click();
  const capacity = staff.getByRole('table', { name: 'Capacity by zone' });
  // 16 zones between the header and the totals, each resource with a bar; sorting puts the
  // fullest zone first.
  await expect(capacity.getByRole('row')).toHaveCount(18);
  await expect(capacity.getByRole('row').last()).toContainText('All zones');
  await expect(capacity.getByRole('meter', { name: 'vCPUs used in All zones' })).toBeVisible();
  await capacity.getByRole('link', { name: 'vCPUs used' }).click();
  await expect(capacity.getByRole('columnheader', { name: 'vCPUs used' })).toHaveAttribute('aria-sort', 'descending');
  const shares = await capacity.locator('tbody meter[aria-label^="vCPUs"]').evaluateAll(
    (meters) => meters.map((m) => Number(m.getAttribute('value')) / Math.max(1, Number(m.getAttribute('max')))));
  expect(shares).toEqual([...shares].sort((a, b) => b - a));
  // Each backbone link says what cutting it would do across tenants: the demo tenant's London and
  // New York VMs would talk the long way round.
  const atlantic = staff.getByRole('table', { name: 'Backbone links' }).getByRole('row').filter({ hasText: 'London – New York' });
  await expect(atlantic).toContainText(/\d+ tenants?, \d+ VMs?; worst: .+ → [\d.]+ ms \(\+[\d.]+ ms\)|cut off/);
  // The queue opens on every recent job, each row to the second, how long it took, and a link to
  // its tenant.
  await staff.getByRole('link', { name: 'Jobs' }).click();
  await expect(staff.getByRole('link', { name: 'All recent' })).toHaveAttribute('aria-current', 'page');
  const jobs = staff.getByRole('table', { name: 'Jobs' });
  const job = jobs.getByRole('row').filter({ hasText: 'vm_create' }).first();
  await expect(job).toContainText(/\d{2}:\d{2}:\d{2} UTC/);
  await expect(job).toContainText(/\d+\.\d s|\d+ min \d{2} s/);
  await expect(job.getByRole('link').first()).toHaveAttribute('href', /^\/staff\/tenants\//);
  await expect(staff.getByText('only admins can cancel or retry jobs')).toBeVisible();
  await staffContext.close();

  // The tenant's owner reads who inspected, when and why, and the refused change.
  await page.goto('/settings');
  const audit = page.getByRole('table', { name: 'Audit log' });
  const start = audit.getByRole('row').filter({ hasText: 'support.inspect_start' });
  await expect(start).toHaveCount(1);
  await expect(start).toContainText(supportEmail);
  await expect(start).toContainText('ticket 9001: VDC questions');
  await expect(audit.getByRole('row').filter({ hasText: 'vdc.create' }).filter({ hasText: 'forbidden' })).toHaveCount(1);
  await expect(audit.getByRole('row').filter({ hasText: 'support.inspect_end' })).toHaveCount(1);
});

test('an admin suspends a tenant: its session ends, its create is refused, and it can come back', async ({ page, browser }) => {
  const tenant = `Suspended ${Date.now()}`;
  const ownerEmail = uniqueEmail('suspended');
  await signUp(page, tenant, ownerEmail);
  await page.getByRole('link', { name: 'VDCs' }).click();
  await hydrated(page);

  const adminContext = await browser.newContext();
  const admin = await adminContext.newPage();
  await staffLogIn(admin, staffCreate('admin'));
  await openTenant(admin, ownerEmail, tenant);
  await admin.getByLabel('Reason for suspension').fill('unpaid invoices, ticket 4242');
  // Suspending logs every user out: the admin types the tenant's name first.
  await admin.getByRole('button', { name: 'Suspend tenant' }).click();
  // (The refused attempt also lands in the audit log below, with the same words.)
  await expect(admin.getByRole('form', { name: 'Suspend tenant' }).getByText(`Type ${tenant} to confirm.`)).toBeVisible();
  await expect(admin.getByLabel('Tenant', { exact: true })).toContainText('Active');
  await admin.getByLabel("Type the tenant's name to suspend it").fill(tenant);
  await admin.getByRole('button', { name: 'Suspend tenant' }).click();
  await expect(admin.getByLabel('Tenant', { exact: true })).toContainText('Suspended: unpaid invoices, ticket 4242');
  await admin.screenshot({ path: 'screenshots/staff-tenant.png', fullPage: true });

  // The tenant's open page can no longer create anything, and its session is gone.
  await page.getByLabel('Name').fill('after-suspension');
  await page.getByLabel('Zone').selectOption({ label: 'London (lon1), GB' });
  await page.getByRole('button', { name: 'Create VDC' }).click();
  await expect(page.getByRole('form', { name: 'Create VDC' }).getByRole('alert')).toHaveText('Sign in to continue.');
  await page.goto('/vdcs');
  await expect(page.getByRole('heading', { level: 1, name: 'Log in to Meridian' })).toBeVisible();
  await logIn(page, ownerEmail);
  await expect(page.getByRole('alert')).toContainText('suspended');

  await admin.getByRole('button', { name: 'Unsuspend' }).click();
  await expect(admin.getByLabel('Tenant', { exact: true })).toContainText('Active');
  await adminContext.close();
  await logIn(page, ownerEmail);
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
  await page.goto('/vdcs');
  await expect(page.getByText('No VDCs yet')).toBeVisible();
});
