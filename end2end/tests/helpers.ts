// Shared steps for Meridian's browser tests.
import { expect, type Page } from '@playwright/test';

export const PASSWORD = 'correct horse battery staple';

/** A unique address so tests never collide on the shared database. */
export function uniqueEmail(prefix: string): string {
  return `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
}

/** Waits until the WASM bundle has hydrated the page, so client-side behaviour is live. */
export async function hydrated(page: Page): Promise<void> {
  await page.locator('body[data-hydrated="true"]').waitFor({ state: 'attached', timeout: 30_000 });
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
