// Accounts end to end: sign-up, log-out, log-in, wrong passwords, cross-site refusal, hydration.
import { test, expect } from '@playwright/test';
import { PASSWORD, hydrated, logIn, signUp, uniqueEmail } from './helpers';

test('sign up lands on the overview with the tenant name, and log out ends the session', async ({ page }) => {
  const email = uniqueEmail('owner');
  await signUp(page, 'Acme Orbital', email);
  await expect(page.getByTestId('tenant-name')).toHaveText('Acme Orbital');
  await expect(page.getByRole('link', { name: 'Create your first VDC' })).toBeVisible();
  await page.screenshot({ path: 'screenshots/overview.png', fullPage: true });

  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('heading', { name: 'Log in to Meridian' })).toBeVisible();
  // The old session is gone on the server: the overview sends us back to log in.
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
});

test('a wrong password shows an error and creates no session; the right one logs in', async ({ page, context }) => {
  const email = uniqueEmail('login');
  await signUp(page, 'Login Test Ltd', email);
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('heading', { name: 'Log in to Meridian' })).toBeVisible();
  await context.clearCookies();

  await logIn(page, email, 'not the right password');
  await expect(page.getByRole('alert')).toHaveText('Wrong e-mail or password.');
  await page.screenshot({ path: 'screenshots/login-error.png' });
  const cookies = await context.cookies();
  expect(cookies.find((c) => c.name === 'meridian.sid')).toBeUndefined();
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);

  await logIn(page, email);
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
  await expect(page.getByTestId('tenant-name')).toHaveText('Login Test Ltd');
  const session = (await context.cookies()).find((c) => c.name === 'meridian.sid');
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe('Lax');
});

test('sign-up field errors appear next to the fields and nothing is created', async ({ page }) => {
  const email = uniqueEmail('dup');
  await signUp(page, 'First Co', email);
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('heading', { name: 'Log in to Meridian' })).toBeVisible();

  await page.goto('/signup');
  await hydrated(page);
  // Client-side: the browser runs the server's own rule as soon as the field is left (proves hydration).
  await page.getByLabel('Password').fill('short');
  await page.getByLabel('Password').press('Tab');
  await expect(page.getByText('Use at least 12 characters.')).toBeVisible();
  await expect(page.getByLabel('Password')).toHaveAttribute('aria-invalid', 'true');

  // Server-side: a taken address is refused next to the e-mail field.
  await page.getByLabel('Organisation name').fill('Second Co');
  await page.getByLabel('Work e-mail').fill(email.toUpperCase());
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByText('An account with this e-mail address already exists. Log in instead.')).toBeVisible();
  await expect(page.getByLabel('Work e-mail')).toHaveAttribute('aria-invalid', 'true');
  await page.screenshot({ path: 'screenshots/signup-errors.png' });

  // The original owner still logs in to the original tenant.
  await logIn(page, email);
  await expect(page.getByTestId('tenant-name')).toHaveText('First Co');
});

test('cross-site POSTs to log-in and to a server function are refused, even with a session cookie', async ({ page, context }) => {
  const email = uniqueEmail('csrf');
  await signUp(page, 'Forgery Target', email);
  const forged = { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' };

  // page.request shares the browser context's cookies: the forged request carries a valid session.
  const change = await page.request.post('/fn/account_password_change', {
    headers: forged,
    form: { current_password: PASSWORD, new_password: 'attacker chosen password' },
  });
  expect(change.status()).toBe(403);
  expect((await change.json()).error.code).toBe('cross_site_request');

  const login = await page.request.post('/fn/account_login', {
    headers: { Origin: 'https://evil.example' },
    form: { email, password: PASSWORD },
  });
  expect(login.status()).toBe(403);

  // Nothing changed: the original password still works.
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('heading', { name: 'Log in to Meridian' })).toBeVisible();
  await logIn(page, email);
  await expect(page.getByTestId('tenant-name')).toHaveText('Forgery Target');
});

test('a real cross-site form in the browser cannot log anyone in', async ({ page, baseURL }) => {
  const email = uniqueEmail('xsite');
  await signUp(page, 'Cross Site Co', email);
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('heading', { name: 'Log in to Meridian' })).toBeVisible();

  // An attacker's page on another site (served by Playwright, no network) auto-submits a form to Meridian.
  const target = new URL('/fn/account_login', baseURL).toString();
  await page.route('http://attacker.test/**', (route) => route.fulfill({
    contentType: 'text/html',
    body: `<form method="POST" action="${target}">
             <input name="email" value="${email}"><input name="password" value="${PASSWORD}">
           </form><script>document.forms[0].submit()</script>`,
  }));
  await page.goto('http://attacker.test/');
  await expect(page.getByText('This request came from another site and was refused.')).toBeVisible();

  // And no session was created for the victim's site.
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
});
