// First load as a browser sees it: for the log-in page, the overview, the map and the VM list, on
// loopback and on a slow-4G phone profile (150 ms round trip, 1.6 Mb/s down, 750 kb/s up, CPU 4×
// slower), with an empty cache and again with a warm one. Prints, per page and profile, the median
// and range over the runs of: time to hydrated (the WASM app took over the server's HTML), the
// largest contentful paint, bytes transferred (compressed, as on the wire) and the WASM's share.
//
// Usage: node bench/first-load.mjs http://127.0.0.1:PORT [runs]   (a server started with --demo;
// scripts/bench-first-load.sh builds, starts one and calls this)
import { chromium } from '@playwright/test';

const base = process.argv[2];
const runs = Number(process.argv[3] ?? 5);
if (!base) {
  console.error('usage: node bench/first-load.mjs BASE_URL [runs]');
  process.exit(2);
}

const PROFILES = {
  loopback: null,
  'slow 4G': { latency: 150, down: 1.6e6 / 8, up: 750e3 / 8, cpu: 4 },
};
const PAGES = [
  { name: 'log-in', path: '/login', signedIn: false },
  { name: 'overview', path: '/', signedIn: true },
  { name: 'map', path: '/map', signedIn: true },
  { name: 'VM list', path: '/vms', signedIn: true },
];

// Records when hydration finished (the app marks <body data-hydrated="true">), in the page's own
// clock (milliseconds since navigation start), and the largest contentful paint.
const PROBE = () => {
  window.__lcp = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) window.__lcp = entry.startTime;
  }).observe({ type: 'largest-contentful-paint', buffered: true });
  const watch = () => {
    const body = document.body;
    if (body && body.dataset.hydrated === 'true') {
      window.__hydratedAt = performance.now();
      return true;
    }
    return false;
  };
  new MutationObserver((_, observer) => {
    if (watch()) observer.disconnect();
  }).observe(document, { attributes: true, subtree: true, attributeFilter: ['data-hydrated'], childList: true });
};

// One log-in to the demo tenant; the signed-in pages reuse its cookie (log-ins are rate-limited).
async function demoSession(browser) {
  const context = await browser.newContext();
  const tab = await context.newPage();
  await tab.goto(`${base}/login`);
  await tab.locator('body[data-hydrated="true"]').waitFor({ state: 'attached' });
  await tab.getByRole('button', { name: 'Try the demo' }).click();
  await tab.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  const state = await context.storageState();
  await context.close();
  return state;
}

async function measure(browser, session, page, profile, warm) {
  const context = await browser.newContext({
    viewport: { width: 412, height: 860 },
    storageState: page.signedIn ? session : undefined,
  });
  const tab = await context.newPage();
  await tab.addInitScript(PROBE);
  const errors = [];
  tab.on('pageerror', (e) => errors.push(String(e).slice(0, 500)));
  const waitHydrated = async (timeout) => {
    try {
      await tab.locator('body[data-hydrated="true"]').waitFor({ state: 'attached', timeout });
    } catch (e) {
      throw new Error(`${page.path} did not hydrate: ${errors.join('; ') || e.message}`);
    }
  };
  const cdp = await context.newCDPSession(tab);
  await cdp.send('Network.enable');
  if (!warm) await cdp.send('Network.clearBrowserCache');
  else {
    // The warm visit: the page once, so the bundle is in the cache.
    await tab.goto(`${base}${page.path}`);
    await waitHydrated(30_000);
  }
  if (profile) {
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: profile.latency, downloadThroughput: profile.down, uploadThroughput: profile.up,
    });
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: profile.cpu });
  }
  const urls = new Map();
  let bytes = 0;
  let wasm = 0;
  let files = 0;
  cdp.on('Network.responseReceived', (e) => urls.set(e.requestId, e.response.url));
  cdp.on('Network.loadingFinished', (e) => {
    bytes += e.encodedDataLength;
    if ((urls.get(e.requestId) ?? '').endsWith('.wasm')) {
      wasm += e.encodedDataLength;
      files += 1;
    }
  });
  await tab.goto(`${base}${page.path}`, { waitUntil: 'commit' });
  await waitHydrated(120_000);
  await tab.waitForLoadState('load');
  // LCP is final once the page is hydrated and idle for a moment.
  await tab.waitForTimeout(300);
  const { hydrated, lcp } = await tab.evaluate(() => ({ hydrated: window.__hydratedAt, lcp: window.__lcp }));
  await context.close();
  return { hydrated, lcp, bytes, wasm, files };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const range = (xs) => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const session = await demoSession(browser);
console.log(`${runs} runs each, against ${base}; times in ms, sizes in bytes as transferred`);
console.log(['page', 'profile', 'cache', 'hydrated (median, range)', 'LCP (median, range)', 'bytes', 'of which WASM', 'WASM files'].join(' | '));
for (const page of PAGES) {
  for (const [profileName, profile] of Object.entries(PROFILES)) {
    for (const warm of [false, true]) {
      const results = [];
      for (let i = 0; i < runs; i++) results.push(await measure(browser, session, page, profile, warm));
      const h = results.map((r) => r.hydrated);
      const l = results.map((r) => r.lcp);
      console.log([
        page.name, profileName, warm ? 'warm' : 'cold',
        `${Math.round(median(h))} (${range(h)})`, `${Math.round(median(l))} (${range(l)})`,
        median(results.map((r) => r.bytes)), median(results.map((r) => r.wasm)), median(results.map((r) => r.files)),
      ].join(' | '));
    }
  }
}
await browser.close();
