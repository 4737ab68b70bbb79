// Autoscaling groups in the dashboard: a refused form changes nothing and says why next to the
// field; a group spreads its members over its zones, its page explains what it did, a new
// desired size is followed live, and deleting it takes its members away.
import { test, expect } from '@playwright/test';
import { hydrated, signUp, uniqueEmail } from './helpers';

test('a scaling group spreads its members, explains itself, follows a new size and is deleted', async ({ page }) => {
  await signUp(page, 'Spiky Ltd', uniqueEmail('groups'));
  await page.getByRole('link', { name: 'Scaling' }).click();
  await hydrated(page);
  await expect(page.getByRole('heading', { name: 'No scaling groups yet' })).toBeVisible();

  // No zone chosen: refused, next to the zones.
  const form = page.getByRole('form', { name: 'Create scaling group' });
  await form.getByLabel('Name').fill('web');
  await form.getByRole('button', { name: 'Create group' }).click();
  await expect(form.getByText('Choose at least one zone.')).toBeVisible();
  await expect(page.getByRole('heading', { name: 'No scaling groups yet' })).toBeVisible();

  // A latency budget: zones too far from London are offered no more, and say why.
  await form.getByText('Latency budget (optional)').click();
  await form.getByLabel('Round trip at most (ms)').fill('20');
  await form.getByLabel('Measured from').selectOption({ label: 'London (lon1), GB' });
  await expect(form.getByLabel('Singapore (sin1), SG')).toBeDisabled();
  await expect(form.getByRole('list', { name: 'Zones ruled out' })).toContainText('Singapore');
  await expect(form.getByLabel('Frankfurt (fra1), DE')).toBeEnabled();
  await form.getByLabel('London (lon1), GB').check();
  await form.getByLabel('Frankfurt (fra1), DE').check();
  await form.getByLabel('Grace period (seconds)').fill('30');
  await form.getByRole('button', { name: 'Create group' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Scaling group web' })).toBeVisible();
  await hydrated(page);

  const members = page.getByRole('table', { name: 'Members' });
  await expect(members.getByRole('row')).toHaveCount(3, { timeout: 30_000 });
  await expect(members).toContainText('London');
  await expect(members).toContainText('Frankfurt');
  await expect(members.getByText('running')).toHaveCount(2, { timeout: 30_000 });
  const decisions = page.getByRole('list', { name: 'Scaling decisions' });
  await expect(decisions).toContainText('Created with 2 members (between 2 and 5), scaling on cpu towards 60 %.');
  await expect(decisions).toContainText(/Added web-1 in (London|Frankfurt)\./);
  await expect(page.getByRole('img', { name: /^Desired size over the last day/ })).toBeVisible();

  // A new desired size by hand: a third member joins, and the page says why.
  const settings = page.getByRole('form', { name: 'Change scaling group' });
  await settings.getByLabel('Desired members').fill('3');
  await settings.getByRole('button', { name: 'Save' }).click();
  await expect(decisions).toContainText('Set to 3 members by hand.');
  await expect(members.getByRole('row')).toHaveCount(4, { timeout: 30_000 });
  // More than the most is refused next to the field.
  await settings.getByLabel('Desired members').fill('9');
  await settings.getByRole('button', { name: 'Save' }).click();
  await expect(settings.getByText('Choose 2 to 5 members.')).toBeVisible();
  await page.screenshot({ path: 'screenshots/scaling-group.png', fullPage: true });

  await page.getByRole('button', { name: 'Delete group and its members' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Scaling groups' })).toBeVisible();
  // Its members are destroyed (one still being made, once it is up), then the group goes.
  await expect(async () => {
    await page.reload();
    await expect(page.getByRole('heading', { name: 'No scaling groups yet' })).toBeVisible({ timeout: 2_000 });
  }).toPass({ timeout: 45_000 });
  await page.getByRole('link', { name: 'VMs', exact: true }).click();
  await expect(page.getByRole('table', { name: 'VMs' }).getByText(/^web-\d$/)).toHaveCount(0, { timeout: 30_000 });
});
