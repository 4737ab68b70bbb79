// Security headers as a browser receives them: pages carry a script policy with their own nonce
// and still hydrate under it (no inline script is refused); assets and errors carry the strict
// default; nothing may frame Meridian.
import { test, expect } from '@playwright/test';
import { hydrated } from './helpers';

test('pages run under a nonce script policy, and assets and errors carry the strict one', async ({ page, request }) => {
  const refused: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Content-Security-Policy/i.test(message.text())) refused.push(message.text());
  });
  const response = await page.goto('/login');
  const policy = response?.headers()['content-security-policy'] ?? '';
  expect(policy).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9_-]+' 'wasm-unsafe-eval'/);
  expect(policy).toContain("frame-ancestors 'none'");
  await hydrated(page);
  // Hydration ran (the body is marked by the WASM app) and the browser refused nothing.
  await expect(page.getByRole('button', { name: 'Log in' })).toBeEnabled();
  expect(refused, refused.join('\n')).toEqual([]);

  // The bundle as the page names it: by a hash of each file's content, so it is cached for a year.
  const bundle = [
    await page.locator('link[rel="modulepreload"]').getAttribute('href'),
    await page.locator('link[rel="preload"][as="fetch"]').getAttribute('href'),
    await page.locator('link[rel="stylesheet"]').first().getAttribute('href'),
  ];
  for (const path of bundle) {
    expect(path).toMatch(/^\/pkg\/meridian\.[0-9a-f]{16}\.(js|wasm|css)$/);
    const asset = await request.get(path!);
    expect(asset.status(), path!).toBe(200);
    expect(asset.headers()['cache-control'], path!).toBe('public, max-age=31536000, immutable');
  }
  expect(response?.headers()['cache-control']).toBe('private, no-store');
  for (const path of [...bundle, '/healthz', '/no/such/asset.png']) {
    const asset = await request.get(path!);
    const headers = asset.headers();
    expect(headers['x-content-type-options'], path!).toBe('nosniff');
    expect(headers['referrer-policy'], path!).toBe('strict-origin-when-cross-origin');
    expect(headers['content-security-policy'], path!).toContain("frame-ancestors 'none'");
  }
});
