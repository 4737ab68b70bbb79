// Meridian on a phone (390×844): the navigation folds under a Menu switch, and no page scrolls
// sideways — tables and the world map scroll inside themselves. Screenshots at phone width.
import { test, expect, type Page } from '@playwright/test';
import { hydrated, signUp, staffCreate, staffLogIn, uniqueEmail } from './helpers';

test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });

/** Fails unless the page is no wider than the screen. */
async function fitsTheScreen(page: Page, what: string): Promise<void> {
  const widths = await page.evaluate(() => ({
    page: document.documentElement.scrollWidth,
    screen: document.documentElement.clientWidth,
  }));
  expect(widths.page, `${what} scrolls sideways: ${JSON.stringify(widths)}`).toBeLessThanOrEqual(widths.screen);
}

test('a customer uses Meridian on a phone: menu, overview, a VM, the map', async ({ page }) => {
  await signUp(page, 'Pocket Ltd', uniqueEmail('phone'));
  await hydrated(page);
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav).toBeHidden();
  await fitsTheScreen(page, 'the overview');
  await page.screenshot({ path: 'screenshots/phone-overview.png', fullPage: true });

  // The menu opens, leads to a page, and closes behind it.
  await page.getByLabel('Menu').check();
  await expect(nav).toBeVisible();
  await nav.getByRole('link', { name: 'VMs' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Virtual machines' })).toBeVisible();
  await expect(nav).toBeHidden();

  await page.goto('/vms/new');
  await hydrated(page);
  await fitsTheScreen(page, 'the VM form');
  await page.getByLabel('VDC or zone').selectOption({ label: 'London (lon1), GB' });
  await page.getByLabel('Name').fill('pocket-1');
  await page.getByLabel(/^xs \(Wren\)/).check();
  await page.getByRole('button', { name: 'Create VM' }).click();
  await expect(page.locator('.badge-running')).toBeVisible({ timeout: 30_000 });
  // It has no breakout: its create says so rather than "Open internet breakout — done".
  const progress = page.getByRole('region', { name: 'Progress' });
  await expect(progress.getByRole('listitem').filter({ hasText: 'Internet breakout: none (private only)' }))
    .toContainText('skipped');
  await expect(progress).not.toContainText('Open internet breakout');
  await fitsTheScreen(page, 'the VM page');
  await page.screenshot({ path: 'screenshots/phone-vm.png', fullPage: true });

  await page.goto('/map');
  await hydrated(page);
  const map = page.getByRole('group', { name: 'Backbone map' }).first();
  await expect(map).toBeVisible();
  await fitsTheScreen(page, 'the map page');
  // The world map stays readable: wider than the screen, panned inside its frame.
  const box = await page.locator('.backbone-map').first().boundingBox();
  expect(box?.width ?? 0).toBeGreaterThanOrEqual(600);
  await page.screenshot({ path: 'screenshots/phone-map.png', fullPage: true });
});

test('support staff read a tenant on a phone', async ({ page }) => {
  const tenant = `Pocket Staff ${Date.now()}`;
  await signUp(page, tenant, uniqueEmail('phone-tenant'));
  await staffLogIn(page, staffCreate('support'));
  await fitsTheScreen(page, 'the staff tenant list');
  await page.getByLabel('Search tenants').fill(tenant);
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('table', { name: 'Tenants' }).getByRole('link', { name: tenant }).click();
  await expect(page.getByRole('heading', { level: 1, name: `Tenant ${tenant}` })).toBeVisible();
  await hydrated(page);
  await fitsTheScreen(page, 'the staff tenant page');
  await page.screenshot({ path: 'screenshots/phone-staff-tenant.png', fullPage: true });
});
