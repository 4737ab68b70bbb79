// Browser tests drive Debian's Chromium (no browser download) against a freshly built Meridian
// on a fresh SQLite database, started by Playwright itself.
import { defineConfig } from '@playwright/test';

const port = Number(process.env.MERIDIAN_E2E_PORT ?? 3311);
const dataDir = process.env.MERIDIAN_E2E_DATA_DIR ?? '../target/e2e-data';

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    viewport: { width: 1280, height: 800 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    },
    trace: 'off',
  },
  webServer: {
    command: `rm -rf ${dataDir} && exec ../target/debug/meridian serve --listen 127.0.0.1:${port} ` +
      `--data-dir ${dataDir} --site-root ../target/site --log warn --sim-timing 200ms --demo`,
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
  },
});
