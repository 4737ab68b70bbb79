// Stacks: the nine-node MongoDB replica set over Los Angeles, London and Berlin in one click,
// followed live, with its containers; then deleted with everything it made.
import { test, expect } from '@playwright/test';
import { hydrated, signUp, uniqueEmail } from './helpers';

test('the 9-node MongoDB stack deploys live over three zones and deletes cleanly', async ({ page }) => {
  await signUp(page, 'Replica Ltd', uniqueEmail('stack'));
  await page.getByRole('link', { name: 'Stacks' }).click();
  await hydrated(page);
  await expect(page.getByRole('region', { name: 'No stacks yet' })).toBeVisible();
  // Its price before it is made: nine VMs by the hour and by the month, their disks included.
  await expect(page.getByText(/^9 VMs: \$[\d.]+ per hour while running, ≈ \$[\d,.]+ a month with their 9 × \d+ GiB of disk/))
    .toBeVisible();

  // A name is offered, so one click is enough.
  await expect(page.getByLabel('Name')).toHaveValue('mongo-1');
  // A bad name is refused next to the field, and nothing is made.
  await page.getByLabel('Name').fill('Replica Set');
  await page.getByRole('button', { name: 'Create stack' }).click();
  await expect(page.getByText('Use lowercase letters, digits and hyphens only')).toBeVisible();

  await page.getByLabel(/MongoDB replica set, 9 nodes/).check();
  await page.getByLabel('Name').fill('rs0');
  // The same by REST, as the form shows it.
  await page.getByText('Show the API call').click();
  await expect(page.getByLabel('REST request')).toContainText(`-d '{"template":"mongodb-9","name":"rs0"}'`);
  await expect(page.getByLabel('REST request')).toContainText('/api/v1/stacks');
  await page.getByRole('button', { name: 'Create stack' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Stack rs0' })).toBeVisible();
  const timeline = page.getByRole('table', { name: 'Timeline' });
  await expect(timeline.getByRole('row')).toHaveCount(10);
  await expect(page.getByRole('status').filter({ hasText: 'State: ready' })).toBeVisible({ timeout: 45_000 });
  await expect(page.getByRole('timer')).toHaveText(/^Up in \d+\.\d s$/);
  for (const zone of ['lax1', 'lon1', 'ber1']) {
    await expect(timeline.getByRole('rowheader', { name: new RegExp(`^rs0-${zone}-`) })).toHaveCount(3);
  }
  const members = page.getByRole('table', { name: 'Members' });
  await expect(members.getByRole('row').filter({ hasText: 'mongod (mongo:7.0): running' })).toHaveCount(9);
  // One connection string over the nine members' private addresses, in the replica set.
  const url = (await page.getByRole('region', { name: 'Connect' }).getByLabel('Connection string').textContent())!;
  expect(url).toMatch(/^mongodb:\/\/(\d+\.\d+\.\d+\.\d+:27017,){8}\d+\.\d+\.\d+\.\d+:27017\/\?replicaSet=rs0$/);
  for (const cell of await members.getByRole('row').locator('td:nth-child(4)').allTextContents()) {
    expect(url).toContain(`${cell}:27017`);
  }
  await page.screenshot({ path: 'screenshots/stack.png', fullPage: true });

  await page.getByRole('button', { name: 'Delete stack' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'State: deleted' })).toBeVisible({ timeout: 45_000 });
  await page.getByRole('link', { name: 'VDCs' }).click();
  await expect(page.getByRole('region', { name: 'No VDCs yet' })).toBeVisible();
});

test('a latency budget rules out a stack whose zones are too far, saying which and why', async ({ page }) => {
  await signUp(page, 'Near Ltd', uniqueEmail('stack-budget'));
  await page.goto('/stacks');
  await hydrated(page);
  const form = page.getByRole('form', { name: 'Create stack' });
  await form.getByText('Latency budget (optional)').click();
  await form.getByLabel('Round trip at most (ms)').fill('30');
  await form.getByLabel('Measured from').selectOption({ label: 'London (lon1), GB' });
  const mongo = form.getByRole('radio', { name: /MongoDB replica set/ });
  await expect(mongo).toBeDisabled();
  await expect(form).toContainText(/Ruled out: Light in fibre needs [\d.]+ ms for a round trip between London and Los Angeles/);
  // Far enough, it is offered again.
  await form.getByLabel('Round trip at most (ms)').fill('250');
  await expect(mongo).toBeEnabled();
});
