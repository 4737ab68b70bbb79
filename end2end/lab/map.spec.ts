// The map with a lab running (see ../lab.config.ts; `scripts/test.sh` runs it with zones lon1 and
// nyc1): the host agents probe each other over the lab's backbone, and the link between their zones
// shows the measured round trip, labelled measured, at or above the fibre limit and near the model.
import { test, expect } from '@playwright/test';
import { hydrated, signUp, uniqueEmail } from '../tests/helpers';

/** The number in "12.3 ms". */
function ms(text: string | null): number {
  const match = /([\d.]+) ms/.exec(text ?? '');
  if (!match) throw new Error(`no milliseconds in ${JSON.stringify(text)}`);
  return Number(match[1]);
}

test('the link between the lab\'s zones shows its measured round trip, labelled measured', async ({ page }) => {
  await signUp(page, 'Map Labs', uniqueEmail('lab-map'));
  // Agents probe every 10 s and a probe round takes their latest measurement: within a minute.
  await expect(async () => {
    await page.goto('/map');
    await hydrated(page);
    await expect(page.getByRole('status').filter({ hasText: /Simulated except \d+ measured link/ }))
      .toBeVisible({ timeout: 2_000 });
  }).toPass({ timeout: 120_000 });

  await page.getByText('All 24 backbone links').click();
  const row = page.getByRole('table', { name: 'Backbone links' }).getByRole('row')
    .filter({ hasText: 'London – New York' });
  await expect(row).toContainText(/measured, ±[\d.]+ ms, \d+ % lost/);
  const cells = row.getByRole('cell');
  const live = ms(await cells.nth(3).textContent());
  const modelled = ms(await cells.nth(4).textContent());
  const fibre = ms(await cells.nth(5).textContent());
  expect(live).toBeGreaterThanOrEqual(fibre);
  expect(Math.abs(live - modelled)).toBeLessThanOrEqual(0.15 * modelled);
  // A link no agent measures keeps the model's figure, without the note.
  const other = page.getByRole('table', { name: 'Backbone links' }).getByRole('row')
    .filter({ hasText: 'Hong Kong – Singapore' });
  await expect(other).not.toContainText('measured');
  await page.screenshot({ path: 'screenshots/lab-map-measured.png', fullPage: true });
});
