// Shared steps for Meridian's browser tests.
import { execFileSync } from 'node:child_process';
import { expect, type Page } from '@playwright/test';

export const PASSWORD = 'correct horse battery staple';

/** A unique address so tests never collide on the shared database. */
export function uniqueEmail(prefix: string): string {
  return `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
}

/** Waits until the WASM bundle has hydrated the page, so client-side behaviour is live. */
export async function hydrated(page: Page): Promise<void> {
  try {
    await page.locator('body[data-hydrated="true"]').waitFor({ state: 'attached', timeout: 30_000 });
  } catch (error) {
    // Say what the page got of the bundle and what it logged: a rare timeout here is unexplained.
    const bundle = await page
      .evaluate(() => ({
        readyState: document.readyState,
        // How the document itself came (a transfer size of 0 is a cache), and whether its inline
        // scripts carry a nonce (a page whose policy has none cannot run them).
        document: (() => {
          const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
          return nav ? `status ${nav.responseStatus} transfer ${nav.transferSize} B type ${nav.type}` : 'no entry';
        })(),
        scripts: [...document.scripts].map((s) => (s.src ? 'src' : s.nonce ? 'inline+nonce' : 'inline')),
        bundle: performance
          .getEntriesByType('resource')
          .filter((r) => r.name.includes('/pkg/'))
          .map((r) => {
            const t = r as PerformanceResourceTiming;
            return `${t.name} status ${t.responseStatus} transfer ${t.transferSize} B in ${Math.round(t.duration)} ms`;
          }),
      }))
      .catch(() => null);
    // And what it said: a panic during hydration shows in the console and as a page error.
    const said = await page
      .consoleMessages({ filter: 'since-navigation' })
      .then((messages) => messages.map((m) => `${m.type()}: ${m.text().slice(0, 2000)}`))
      .catch(() => []);
    const errors = await page
      .pageErrors({ filter: 'since-navigation' })
      .then((list) => list.map((e) => String(e).slice(0, 2000)))
      .catch(() => []);
    throw new Error(
      `the page did not hydrate in 30 s; what it loaded: ${JSON.stringify(bundle)}\n` +
        `console: ${JSON.stringify(said)}\npage errors: ${JSON.stringify(errors)}\n${error}`,
    );
  }
}

/** Signs up a new tenant through the form and waits for the overview. */
export async function signUp(page: Page, tenant: string, email: string, password = PASSWORD): Promise<void> {
  await page.goto('/signup');
  await hydrated(page);
  await page.getByLabel('Organisation name').fill(tenant);
  await page.getByLabel('Work e-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
}

/** Logs in through the form. */
export async function logIn(page: Page, email: string, password = PASSWORD): Promise<void> {
  await page.goto('/login');
  await hydrated(page);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

const dataDir = process.env.MERIDIAN_E2E_DATA_DIR ?? '../target/e2e-data';

/** Creates a staff account the only way there is: the `meridian staff create` command. */
export function staffCreate(role: 'support' | 'admin'): string {
  const email = uniqueEmail(role);
  execFileSync('../target/debug/meridian',
    ['staff', 'create', '--email', email, '--role', role, '--data-dir', dataDir, '--log', 'warn'],
    { input: `${PASSWORD}\n` });
  return email;
}

/** Signs a staff member in at the staff console. */
export async function staffLogIn(page: Page, email: string): Promise<void> {
  await page.goto('/staff/login');
  await hydrated(page);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Tenants' })).toBeVisible();
}

