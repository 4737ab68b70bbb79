// The backbone map: every zone and link drawn, the path finder against the fibre limit, latency
// budgets that respect physics, and the what-if cut rerouting traffic.
import { test, expect, type Page } from '@playwright/test';
import { hydrated, signUp, uniqueEmail } from './helpers';

/** The number in "12.3 ms". */
function ms(text: string | null): number {
  const match = /([\d.]+) ms/.exec(text ?? '');
  if (!match) throw new Error(`no milliseconds in ${JSON.stringify(text)}`);
  return Number(match[1]);
}

/** A figure of the path finder's result, by its label. */
async function figure(page: Page, label: string): Promise<number> {
  const figures = page.getByRole('region', { name: 'Route figures' });
  const term = page.locator('dt', { hasText: new RegExp(`^${label}$`) });
  return ms(await figures.locator('div.property').filter({ has: term }).locator('dd').textContent());
}

test('the map draws 16 zones and every backbone link, with the tenant\'s network marked', async ({ page }) => {
  await signUp(page, 'Mapped Ltd', uniqueEmail('map'));
  await page.getByRole('link', { name: 'VDCs' }).click();
  await hydrated(page);
  await page.getByLabel('Name').fill('hk');
  await page.getByLabel('Zone').selectOption({ label: 'Hong Kong (hkg1), HK' });
  await page.getByRole('button', { name: 'Create VDC' }).click();
  await page.getByRole('link', { name: 'Create VM here' }).click();
  await hydrated(page);
  await page.getByLabel('Name').fill('mapped-1');
  await page.getByLabel(/^xs \(Wren\)/).check();
  await page.getByRole('button', { name: 'Create VM' }).click();
  await expect(page.locator('.badge-running')).toBeVisible({ timeout: 30_000 });

  await page.getByRole('link', { name: 'Map' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Backbone map' })).toBeVisible();
  const map = page.getByRole('group', { name: 'Backbone map' });
  await expect(map.getByRole('img', { name: /^Zone / })).toHaveCount(16);
  await expect(map.getByRole('img', { name: /^Link / })).toHaveCount(24);
  await expect(map.getByRole('img', { name: /^Zone Hong Kong \(hkg1\), HK: on your private network, 1 of 1 VMs running/ })).toHaveCount(1);
  await expect(map.getByRole('img', { name: /^Zone Berlin/ })).not.toContainText('private network');
  await expect(page.getByText('Simulated', { exact: true })).toBeVisible();
  // The links table is the text alternative: one row per link, none faster than its fibre limit.
  await page.getByText('All 24 backbone links').click();
  const rows = page.getByRole('table', { name: 'Backbone links' }).getByRole('row');
  await expect(rows).toHaveCount(25);
  for (const row of await rows.all().then((all) => all.slice(1))) {
    const cells = await row.getByRole('cell').allTextContents();
    expect(ms(cells[3])).toBeGreaterThanOrEqual(ms(cells[5]));
  }
  // No label is printed over another, on the world map or the European inset (Chicago and New
  // York, London, London 2 and Slough crowd each other).
  const overlaps = await page.locator('svg.backbone-map').evaluateAll((maps) => maps.flatMap((svg) => {
    const boxes = [...svg.querySelectorAll('text.zone-name, text.edge-rtt')].map((t) => ({
      text: t.textContent, box: (t as SVGGraphicsElement).getBoundingClientRect(),
    }));
    const hits: string[] = [];
    for (const [i, a] of boxes.entries()) {
      for (const b of boxes.slice(i + 1)) {
        const overlap = a.box.left < b.box.right - 1 && b.box.left < a.box.right - 1
          && a.box.top < b.box.bottom - 1 && b.box.top < a.box.bottom - 1;
        if (overlap) hits.push(`${a.text} / ${b.text}`);
      }
    }
    return hits;
  }));
  expect(overlaps).toEqual([]);
  // The what-if menu is as wide as its card: its long names are not cut.
  const menu = await page.getByLabel('What if we cut').boundingBox();
  const card = await page.getByRole('region', { name: 'Path finder' }).boundingBox();
  expect(menu!.width).toBeGreaterThan(card!.width * 0.8);
  await page.screenshot({ path: 'screenshots/map.png', fullPage: true });
});

test('the path finder, the latency budget and the what-if cut agree with physics', async ({ page }) => {
  await signUp(page, 'Routes Ltd', uniqueEmail('route'));
  await page.getByRole('link', { name: 'Map' }).click();
  await hydrated(page);

  // London → Hong Kong: a route over the backbone, slower than light in fibre would allow.
  await page.getByLabel('From', { exact: true }).first().selectOption('lon1');
  await page.getByLabel('To', { exact: true }).selectOption('hkg1');
  const route = page.getByRole('list', { name: 'Route' });
  await expect(route.getByRole('listitem').first()).toHaveText('London (lon1)');
  await expect(route.getByRole('listitem').last()).toHaveText('Hong Kong (hkg1)');
  expect(await figure(page, 'Modelled round trip')).toBeGreaterThan(await figure(page, 'Fibre limit'));
  // Jitter and loss along the route, as with every link in the table.
  await expect(page.getByRole('region', { name: 'Route figures' }).locator('div.property', { hasText: 'Jitter and loss' }))
    .toContainText(/±[\d.]+ ms, [\d.]+ % lost/);
  await page.getByText('All 24 backbone links').click();
  await expect(page.getByRole('table', { name: 'Backbone links' }).getByRole('row').filter({ hasText: 'London – New York' }))
    .toContainText(/simulated, ±[\d.]+ ms, \d+ % lost/);

  // A 5 ms budget from Frankfurt lists only zones physics allows, and says which it rules out.
  await page.locator('#budget-from').selectOption('fra1');
  await page.getByLabel('Round trip at most (ms)').fill('5');
  const within = page.getByRole('table', { name: 'Zones within 5 ms' });
  await expect(within.getByRole('row')).not.toHaveCount(0);
  for (const row of await within.getByRole('row').all().then((all) => all.slice(1))) {
    const cells = await row.getByRole('cell').allTextContents();
    expect(ms(cells[2])).toBeLessThanOrEqual(5);
    expect(ms(cells[1])).toBeLessThanOrEqual(5);
  }
  const impossible = page.getByRole('list', { name: 'Physically impossible zones' });
  await expect(impossible).toContainText(/London \(lon1\): the fibre limit is 6\.[0-9] ms/);
  await page.getByLabel('Round trip at most (ms)').fill('-3');
  await expect(page.getByText('Enter a round trip between 0 and 1000 ms')).toBeVisible();

  // London → New York, then cut the London–New York link: traffic goes another way, slower.
  await page.getByLabel('To', { exact: true }).selectOption('nyc1');
  await expect(route.getByRole('listitem')).toHaveCount(2);
  const direct = await figure(page, 'Modelled round trip');
  await page.getByLabel('What if we cut').selectOption({ label: 'Link London – New York' });
  await expect(page.getByRole('status').filter({ hasText: 'Rerouted around the London – New York link' })).toBeVisible();
  await expect(route.getByRole('listitem')).not.toHaveCount(2);
  await expect(route.getByRole('listitem').last()).toHaveText('New York (nyc1)');
  const rerouted = await figure(page, 'Modelled round trip');
  expect(rerouted).toBeGreaterThan(direct);
  await expect(page.getByRole('group', { name: 'Backbone map' }).getByRole('img', { name: /^Link London – New York: .* cut in the what-if view/ })).toHaveCount(1);
  await page.screenshot({ path: 'screenshots/map-what-if.png', fullPage: true });
});

test('the what-if cut names the tenant\'s VMs and zone pairs it would slow or cut off', async ({ page }) => {
  await signUp(page, 'Impact Ltd', uniqueEmail('impact'));
  for (const [name, zone] of [['lon-1', 'London (lon1), GB'], ['nyc-1', 'New York (nyc1), US']]) {
    await page.goto('/vms/new');
    await hydrated(page);
    await page.getByLabel('VDC or zone').selectOption({ label: zone });
    await page.getByLabel('Name').fill(name);
    await page.getByRole('button', { name: 'Create VM' }).click();
    await expect(page).toHaveURL(/\/vms\/[0-9a-f-]{36}$/);
  }
  await page.goto('/map');
  await hydrated(page);
  const impact = page.getByRole('region', { name: 'What the cut does to your VMs' });
  await expect(impact).toHaveCount(0);

  await page.getByLabel('What if we cut').selectOption({ label: 'Link London – New York' });
  await expect(impact).toContainText('What cutting the London – New York link would do to your VMs');
  const row = impact.getByRole('table', { name: 'Your zone pairs that change' }).getByRole('row')
    .filter({ hasText: 'London – New York' });
  const cells = await row.getByRole('cell').allTextContents();
  expect(ms(cells[1])).toBeGreaterThan(ms(cells[0]));
  expect(cells[2]).toMatch(/^\+[\d.]+ ms$/);
  await expect(impact).toContainText('Your VMs there: London: lon-1; New York: nyc-1.');

  // A link their traffic does not use changes nothing of theirs.
  await page.getByLabel('What if we cut').selectOption({ label: 'Link Hong Kong – Singapore' });
  await expect(impact).toContainText('Nothing of yours changes');

  // A whole zone: its VMs are cut off.
  await page.getByLabel('What if we cut').selectOption({ label: 'Zone London' });
  await expect(impact.getByRole('paragraph').filter({ hasText: 'cut off' }))
    .toHaveText('Your VM in London would be cut off from your other zones: lon-1.');
  await expect(row.getByRole('cell').nth(2)).toHaveText('cut off');
});
