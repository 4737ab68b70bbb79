// A real VM's serial console in the browser (needs a lab: see ../lab.config.ts): xterm.js on the VM
// page, typed into with the keyboard, the guest's output live; read-only for a viewer.
import { test, expect, type Page } from '@playwright/test';
import { hydrated, signUp, uniqueEmail, PASSWORD } from '../tests/helpers';

/** Calls a dashboard server function from the page (same origin, the page's session). */
async function serverFn(page: Page, name: string, form: Record<string, string>): Promise<unknown> {
  return page.evaluate(async ([name, form]) => {
    const answer = await fetch(`/fn/${name}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
    if (!answer.ok) throw new Error(`${name}: ${answer.status} ${await answer.text()}`);
    return answer.json();
  }, [name, form] as const);
}

test('an owner types into a real VM\'s console; a viewer only watches', async ({ page, browser, request }) => {
  await signUp(page, 'Console Labs', uniqueEmail('console'));
  // The VM through REST with an API key: quicker than the wizard, which other tests cover.
  const key = (await serverFn(page, 'api_key_create', { name: 'e2e-console' })) as { secret: string };
  const auth = { Authorization: `Bearer ${key.secret}` };
  const vdc = await (await request.post('/api/v1/vdcs', { headers: auth, data: { name: 'console', zone: 'lon1' } })).json();
  const accepted = await (await request.post('/api/v1/vms', {
    headers: auth, data: { vdc_id: vdc.id, name: 'shell', template: 'debian-12', size: 'xs' },
  })).json();
  await expect.poll(async () => (await (await request.get(`/api/v1/jobs/${accepted.job.id}`, { headers: auth })).json()).state,
    { timeout: 240_000 }).toBe('succeeded');

  await page.goto(`/vms/${accepted.vm.id}`);
  await hydrated(page);
  const section = page.getByRole('region', { name: 'Console' });
  await expect(section.getByRole('heading', { name: 'Console' })).not.toContainText('simulated');
  await expect(page.getByRole('status').filter({ hasText: 'Connected' })).toBeVisible();
  const terminal = page.getByRole('group', { name: 'Serial console terminal' });
  await expect(terminal).toBeVisible();
  await expect(page.getByRole('button', { name: 'Reconnect' })).toHaveCount(0);
  // The server-rendered lines give way to the live terminal.
  await expect(page.getByLabel('Console output')).toBeHidden();
  await page.getByLabel('Serial console input').focus();
  // The shell starts just after the ready line: type until it answers.
  await expect(async () => {
    await page.keyboard.type('echo pw-$((6*7))');
    await page.keyboard.press('Enter');
    await expect(terminal).toContainText('pw-42', { timeout: 3_000 });
  }).toPass({ timeout: 60_000 });
  await page.screenshot({ path: 'screenshots/vm-console.png', fullPage: true });

  // A viewer sees the console read-only.
  const invite = (await serverFn(page, 'user_invite', { email: uniqueEmail('viewer'), role: 'viewer' })) as string;
  await page.goto('/overview');
  const viewer = await (await browser.newContext()).newPage();
  await viewer.goto(invite);
  await hydrated(viewer);
  await viewer.getByLabel('Choose a password').fill(PASSWORD);
  await viewer.getByRole('button', { name: 'Join' }).click();
  await expect(viewer.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
  await viewer.goto(`/vms/${accepted.vm.id}`);
  await hydrated(viewer);
  await expect(viewer.getByRole('note').filter({ hasText: 'Read-only' })).toBeVisible();
  await expect(viewer.getByRole('status').filter({ hasText: 'read-only' })).toBeVisible();
  await expect(viewer.getByLabel('Serial console (read-only)')).toBeAttached();
});
