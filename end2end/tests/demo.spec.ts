// The sales demo: one-click log-in, the guided tour (skippable, restartable), and the reset.
import { test, expect } from '@playwright/test';
import { hydrated } from './helpers';

test('one click into the demo, a guided tour through the pitch, and a reset', async ({ page }) => {
  await page.goto('/login');
  await hydrated(page);
  await page.getByRole('button', { name: 'Try the demo' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
  await expect(page.getByTestId('tenant-name')).toHaveText('Northwind Traders (demo)');
  const bar = page.getByRole('region', { name: 'Demo' });
  await expect(bar).toContainText('simulated');

  await bar.getByRole('link', { name: 'Guided tour' }).click();
  const tour = page.getByRole('region', { name: 'Guided tour' });
  await expect(tour).toContainText('Step 1 of 5');
  const pages = ['Networks', 'Backbone map', 'Bandwidth', 'Stacks'];
  for (const [i, heading] of pages.entries()) {
    await tour.getByRole('link', { name: 'Next' }).click();
    await expect(page.getByRole('heading', { level: 1, name: heading })).toBeVisible();
    await expect(tour).toContainText(`Step ${i + 2} of 5`);
    // Each step opens at what it describes, with the card beside it, not on top of the page.
    if (heading === 'Backbone map') {
      await expect(page.getByRole('heading', { level: 2, name: 'Path finder' })).toBeInViewport();
      await expect(tour).toBeInViewport();
    }
  }
  await expect(tour).toContainText('MongoDB replica set');
  await tour.getByRole('link', { name: 'Skip the tour' }).click();
  await expect(page.getByRole('region', { name: 'Guided tour' })).toHaveCount(0);

  // The demo user adds a VDC; the reset puts the seeded demo back without it.
  await page.getByRole('link', { name: 'VDCs' }).click();
  await hydrated(page);
  await page.getByLabel('Name').fill('scratch');
  await page.getByLabel('Zone').selectOption({ label: 'Zurich (zrh1), CH' });
  await page.getByRole('button', { name: 'Create VDC' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'VDC scratch' })).toBeVisible();
  // The reset asks first.
  const demoBar = page.getByRole('region', { name: 'Demo' });
  await demoBar.getByText('Reset demo').click();
  await expect(demoBar).toContainText('What was changed in it is thrown away.');
  await demoBar.getByRole('button', { name: 'Yes, reset the demo' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
  // While the seeded VMs are built again the bar says how far it has got, then goes quiet.
  await expect(demoBar.getByText(/Putting the demo back/)).toHaveCount(0, { timeout: 30_000 });
  await page.getByRole('link', { name: 'VDCs' }).click();
  const vdcs = page.getByRole('table', { name: 'Your VDCs' });
  await expect(vdcs.getByRole('row')).toHaveCount(5);
  await expect(vdcs).not.toContainText('scratch');
  await page.screenshot({ path: 'screenshots/demo.png', fullPage: true });
});
