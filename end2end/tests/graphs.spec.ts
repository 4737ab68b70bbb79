// A VM's graphs: CPU and network over the last hour (a point a minute) and day (a point an hour),
// drawn on the server, labelled simulated for the simulator's VMs, with the figures as text.
import { test, expect } from '@playwright/test';
import { hydrated } from './helpers';

test('a VM page charts its CPU and network over the hour and the day, the figures as text', async ({ page }) => {
  test.setTimeout(240_000);
  await page.goto('/login');
  await hydrated(page);
  await page.getByRole('button', { name: 'Try the demo' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
  await page.goto('/vms');
  await hydrated(page);
  await page.getByRole('table', { name: 'VMs' }).getByRole('link').first().click();
  // The VM page's code is loaded on demand: its heading says it arrived.
  await expect(page.getByRole('heading', { level: 1, name: /^VM / })).toBeVisible();
  const graphs = page.getByRole('region', { name: 'CPU and network' });
  // The demo's history reaches the graphs once the meter has replayed it: seconds after start,
  // longer after a reset (the demo test resets it just before) on a busy machine. Until then the
  // graphs show only the minutes the meter saw live.
  await expect(async () => {
    await page.reload();
    await expect(graphs.getByRole('img', { name: /^CPU \(simulated\)/ })).toBeVisible({ timeout: 3_000 });
    await expect(graphs).toContainText(/over [3-9]\d minutes it ran/, { timeout: 1_000 });
  }).toPass({ timeout: 180_000 });
  await hydrated(page);
  await expect(graphs).toContainText(
    /CPU \(simulated\) averaged \d+\.\d % and peaked at \d+\.\d % over \d+ minutes it ran; it received [\d.]+ \w+\/s and sent [\d.]+ \w+\/s on average\./,
  );
  await expect(graphs.getByRole('img', { name: /^Network \(simulated\): bytes a second received and sent, per minute/ })).toBeVisible();
  await graphs.getByText('The figures').click();
  const figures = graphs.getByRole('table', { name: 'CPU and network figures' });
  await expect(figures.getByRole('row').nth(30)).toBeVisible();
  await expect(figures.getByRole('row').nth(1)).toContainText(/\d\d:\d\d UTC\s*\d+\.\d %/);

  // The day: a point an hour.
  await graphs.getByLabel('Over').selectOption({ label: 'The last day (per hour)' });
  await expect(graphs).toContainText(/over 2[0-4] hours it ran/);
  await expect(graphs.getByRole('img', { name: /^CPU \(simulated\), % of the VM's vCPUs, per hour/ })).toBeVisible();
  await graphs.scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'screenshots/vm-graphs.png', fullPage: true });
});
