// Browser tests against a running lab (`scripts/lab.sh up`: real host agents and VMs), apart from
// the default suite, which starts a simulated server itself. Usage, from end2end/:
//   MERIDIAN_LAB_URL=http://127.0.0.1:3950 npx playwright test --config lab.config.ts
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: './lab',
  timeout: 300_000,
  expect: { timeout: 30_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: process.env.MERIDIAN_LAB_URL ?? 'http://127.0.0.1:3950',
    viewport: { width: 1280, height: 900 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    },
    trace: 'off',
  },
});
