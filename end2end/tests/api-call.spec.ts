// "Show the API call" on the create forms (VM, VDC, SSH key, template, firewall rule): the REST request shown for
// what is filled in is the real thing — run with curl and an API key's secret, it creates that VM,
// that key.
import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { hydrated, signUp, uniqueEmail } from './helpers';

test('the VM form shows the curl and cs calls for what is filled in, and the curl call works', async ({ page }) => {
  await signUp(page, 'Scripted Ltd', uniqueEmail('api-call'));
  // An API key for the call.
  await page.goto('/settings');
  await hydrated(page);
  const keys = page.getByRole('region', { name: 'API keys' });
  await keys.getByLabel('Key name').fill('from-the-form');
  await keys.getByRole('button', { name: 'Make key' }).click();
  const secret = (await keys.getByRole('status').getByRole('definition').nth(1).textContent())!.trim();

  await page.goto('/vms/new');
  await hydrated(page);
  await page.getByLabel('VDC or zone').selectOption({ label: 'Madrid (mad1), ES' });
  await page.getByLabel('Name').fill('scripted-1');
  await page.getByLabel(/^xs \(Wren\)/).check();
  await page.getByText('Show the API call').click();
  const rest = page.getByLabel('REST request');
  await expect(rest).toContainText('"zone":"mad1","name":"scripted-1"');
  await expect(rest).toContainText('"size":"xs"');
  await expect(page.getByLabel('CloudStack command'))
    .toContainText('cs deployVirtualMachine zoneid=mad1 templateid=');
  await expect(page.getByLabel('CloudStack command')).toContainText('serviceofferingid=xs name=scripted-1');

  // What it shows is what a shell runs: the VM is made, and the dashboard lists it.
  const answer = execFileSync('sh', ['-c', (await rest.textContent())!], {
    env: { ...process.env, MERIDIAN_SECRET: secret },
    encoding: 'utf8',
  });
  expect(JSON.parse(answer).vm.name).toBe('scripted-1');
  await page.goto('/vms');
  await expect(page.getByRole('table', { name: 'VMs' }).getByRole('link', { name: 'scripted-1' })).toBeVisible();

  // The VDC form too: its call is a POST, and a CloudStack network.
  await page.goto('/vdcs');
  await hydrated(page);
  await page.getByLabel('Name').fill('scripted-vdc');
  await page.getByLabel('Zone').selectOption({ label: 'Milan (mil1), IT' });
  await page.getByText('Show the API call').click();
  await expect(page.getByLabel('REST request')).toContainText('{"name":"scripted-vdc","zone":"mil1"}');
  await expect(page.getByLabel('CloudStack command')).toHaveText('cs createNetwork name=scripted-vdc zoneid=mil1');

  // The SSH key form: its curl adds the key, and the page lists it; CloudStack registers a pair.
  const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIATtkVZY1NbgPpq7r1+NcsULekVB9xZJnG7ATrZWo5z5 e2e@meridian';
  await page.goto('/keys');
  await hydrated(page);
  await page.getByLabel('Name').fill('from-curl');
  await page.getByLabel('Public key').fill(KEY);
  await page.getByText('Show the API call').click();
  await expect(page.getByLabel('CloudStack command'))
    .toHaveText(`cs registerSSHKeyPair name=from-curl publickey='${KEY}'`);
  const added = execFileSync('sh', ['-c', (await page.getByLabel('REST request').textContent())!], {
    env: { ...process.env, MERIDIAN_SECRET: secret },
    encoding: 'utf8',
  });
  expect(JSON.parse(added).name).toBe('from-curl');
  await page.reload();
  await expect(page.getByRole('table', { name: 'SSH keys' })).toContainText('from-curl');

  // The template form: REST only, and it says so.
  await page.goto('/templates');
  await hydrated(page);
  await page.getByLabel('Name').fill('web-base');
  await page.getByText('Show the API call').click();
  await expect(page.getByLabel('REST request')).toContainText('"name":"web-base","base":');
  await expect(page.getByText("CloudStack's API has no command for this: use the REST request.")).toBeVisible();

  // A firewall rule: ports as numbers in the body, and its curl adds the rule; CloudStack would
  // put it on a public address, which Madrid does not have yet, and the command says so.
  await page.goto('/networks');
  await hydrated(page);
  const rule = page.getByRole('form', { name: 'Add a firewall rule in mad1' });
  await rule.getByLabel('Port', { exact: true }).fill('8443');
  await rule.getByText('Show the API call').click();
  const ruleRest = rule.getByLabel('REST request');
  await expect(ruleRest).toContainText('{"zone":"mad1","protocol":"tcp","port_from":8443,"source":"0.0.0.0/0"}');
  await expect(rule.getByLabel('CloudStack command')).toContainText('# CloudStack puts a rule on a public address');
  const made = execFileSync('sh', ['-c', (await ruleRest.textContent())!], {
    env: { ...process.env, MERIDIAN_SECRET: secret },
    encoding: 'utf8',
  });
  expect(JSON.parse(made).zone).toBe('mad1');
  await page.reload();
  await expect(page.getByRole('list', { name: 'Firewall rules in mad1' })).toContainText('TCP 8443');
});
