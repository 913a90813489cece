/**
 * The console: production bundle size (gzip, what the first page load needs) and time to a
 * usable fleet overview with 10,000 devices, in headless Chromium against a real server on
 * localhost (measured from navigation start to the overview's data rendered, from the browser's
 * own clock). Cold = a fresh browser context (empty cache); warm = a reload with cached assets.
 *
 *   npm run bench -- console [devices=10000] [runs=5]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config/index.js';
import { consoleBuilt, defaultWebRoot } from '../src/console/index.js';
import { DEVICE_TYPES, LIFECYCLES } from '../src/devices/index.js';
import { createInstallation, installationLayout } from '../src/installation/index.js';
import { createLogger } from '../src/logging/logger.js';
import { CHROMIUM, chromiumAvailable, launchChromium } from '../test/support/browser.js';
import { freePort } from '../test/support/processes.js';
import { printResult, printTable } from './_report.js';

const DEVICES = Number(process.argv[2] ?? 10_000);
const RUNS = Number(process.argv[3] ?? 5);
const TARGET_KB = 300;
const TARGET_MS = 1000;

// --- Bundle size ---------------------------------------------------------------------------------
const root = defaultWebRoot();
if (!consoleBuilt(root))
  execFileSync('npx', ['vite', 'build', '--config', 'web/vite.config.ts'], { stdio: 'inherit' });
const index = readFileSync(join(root, 'index.html'), 'utf8');
const initialFiles = [...index.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => m[1]!);
const gz = (file: string) => gzipSync(readFileSync(join(root, file)), { level: 9 }).length;
const initialGzip = gz('index.html') + initialFiles.reduce((n, f) => n + gz(f), 0);
const allAssets = readdirSync(join(root, 'assets'));
const totalGzip = allAssets.reduce((n, f) => n + gz(`assets/${f}`), 0);

// --- An installation with DEVICES devices ----------------------------------------------------------
const dir = mkdtempSync(join(tmpdir(), 'pulsegate-bench-console-'));
await createInstallation({
  dataDir: dir,
  settings: {
    server: { port: await freePort(), host: '127.0.0.1' },
    mqtt: { mode: 'off' },
    log: { level: 'silent' },
  },
  env: {},
});
const app = await createApp(loadConfig(dir, {}), { logger: createLogger({ level: 'silent' }), env: {} });
const now = Date.now();
const rows = Array.from({ length: DEVICES }, (_, i) => ({
  id: `bench-${String(i).padStart(6, '0')}`,
  type: DEVICE_TYPES[i % DEVICE_TYPES.length]!,
  vendor: `Vendor ${i % 17}`,
  model: `M-${i % 31}`,
  serial: `SN${i}`,
  firmware_version: `1.${i % 9}.0`,
  care_unit: `UNIT-${i % 40}`,
  bed: String(i % 30),
  ip_address: null,
  mac_address: null,
  owner: 'Clinical Engineering',
  lifecycle: LIFECYCLES[i % LIFECYCLES.length]!,
  certificate_status: i % 3 === 0 ? 'valid' : 'none',
  last_seen_at: now - (i % 3600) * 1000,
  created_at: now,
  updated_at: now,
  version: 1,
}));
for (let i = 0; i < rows.length; i += 500)
  await app.store.db
    .insertInto('devices')
    .values(rows.slice(i, i + 500))
    .execute();
const urls = await app.listen();
const password = readFileSync(installationLayout(dir).adminPassword, 'utf8').trim();
const { access_token: token } = await app.access.login({ username: 'admin', password }, {});

// --- Time to a usable overview ------------------------------------------------------------------------
const cold: number[] = [];
const returning: number[] = [];
const warm: number[] = [];
const inventory: number[] = [];
const search: number[] = [];
let browserNote = `Chromium at ${CHROMIUM}`;
if (!chromiumAvailable) browserNote = `no Chromium at ${CHROMIUM} (apt-get install chromium): timing skipped`;
else {
  const browser = await launchChromium();
  browserNote = `Chromium ${browser.version()}`;
  const measure = async (page: import('playwright-core').Page, go: () => Promise<unknown>) => {
    await go();
    await page.waitForSelector('[data-ready="overview"] [data-testid="devices-total"]', { timeout: 30_000 });
    const shown = await page.getByTestId('devices-total').textContent();
    if (shown !== DEVICES.toLocaleString('en-US') && Number(shown?.replace(/\D/g, '')) !== DEVICES)
      throw new Error(`overview shows ${shown} devices, expected ${DEVICES}`);
    return page.evaluate(() => performance.now());
  };
  for (let r = 0; r < RUNS + 1; r++) {
    const context = await browser.newContext({
      ignoreHTTPSErrors: true,
      viewport: { width: 1366, height: 900 },
    });
    await context.addInitScript((t) => sessionStorage.setItem('pulsegate.session', t), token);
    const page = await context.newPage();
    const c = await measure(page, () => page.goto(`${urls.api}/`));
    const w = await measure(page, () => page.reload());
    // A returning tab (its last GET /me remembered): the overview's data is asked for alongside /me.
    const tab = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1366, height: 900 } });
    await tab.addInitScript(
      ([t, p]) => {
        sessionStorage.setItem('pulsegate.session', t);
        sessionStorage.setItem('pulsegate.permissions', p);
      },
      [token, JSON.stringify(['devices:read', 'alerts:read'])] as const,
    );
    const tabPage = await tab.newPage();
    const ret = await measure(tabPage, () => tabPage.goto(`${urls.api}/`));
    await tab.close();
    // Inventory: first page of 50 sorted rows with the total, then a server-side search.
    let t0 = performance.now();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Devices' }).click();
    await page.waitForFunction(
      (n) => document.querySelector('[data-testid="device-count"]')?.textContent?.includes(`of ${n} devices`),
      DEVICES.toLocaleString('en-US'),
    );
    const inv = performance.now() - t0;
    t0 = performance.now();
    await page.getByLabel('Search').fill('M-7');
    await page.waitForFunction(
      () =>
        /of [0-9,]+ devices/.test(
          document.querySelector('[data-testid="device-count"]')?.textContent ?? '',
        ) && !document.querySelector('[data-testid="device-count"]')?.textContent?.includes('10,000'),
    );
    const found = performance.now() - t0;
    if (r > 0) {
      // run 0 warms the server (JIT, SQLite page cache)
      cold.push(c);
      warm.push(w);
      returning.push(ret);
      inventory.push(inv);
      search.push(found);
    }
    await context.close();
  }
  await browser.close();
}
await app.close();
rmSync(dir, { recursive: true, force: true });

const median = (xs: number[]) =>
  xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : Number.NaN;
const kb = (n: number) => (n / 1024).toFixed(1);
console.log(
  `\nConsole: ${DEVICES.toLocaleString('en-US')} devices, ${RUNS} runs, ${browserNote}; load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} (2 cores shared with other work: timings are pessimistic)\n`,
);
printTable([
  {
    measure: 'initial bundle (gzip: index.html + entry JS + CSS)',
    value: `${kb(initialGzip)} KB`,
    target: `<= ${TARGET_KB} KB`,
    ok: initialGzip / 1024 <= TARGET_KB ? 'yes' : 'NO',
  },
  {
    measure: `all assets (gzip, ${allAssets.length} files, lazy pages included)`,
    value: `${kb(totalGzip)} KB`,
    target: '',
    ok: '',
  },
  {
    measure: 'time to usable overview, cold cache (median)',
    value: `${median(cold).toFixed(0)} ms`,
    target: `<= ${TARGET_MS} ms`,
    ok: median(cold) <= TARGET_MS ? 'yes' : 'NO',
  },
  {
    measure: `inventory: first page of ${DEVICES.toLocaleString('en-US')} (median)`,
    value: `${median(inventory).toFixed(0)} ms`,
    target: '',
    ok: '',
  },
  {
    measure: 'inventory: search typed to rows shown (median, incl. 250 ms debounce)',
    value: `${median(search).toFixed(0)} ms`,
    target: '',
    ok: '',
  },
  {
    measure: 'time to usable overview, cold cache (worst)',
    value: `${Math.max(...cold).toFixed(0)} ms`,
    target: '',
    ok: '',
  },
  {
    measure: 'time to usable overview, cold cache, returning tab (median)',
    value: `${median(returning).toFixed(0)} ms`,
    target: `<= ${TARGET_MS} ms`,
    ok: median(returning) <= TARGET_MS ? 'yes' : 'NO',
  },
  {
    measure: 'time to usable overview, warm cache (median)',
    value: `${median(warm).toFixed(0)} ms`,
    target: `<= ${TARGET_MS} ms`,
    ok: median(warm) <= TARGET_MS ? 'yes' : 'NO',
  },
]);
printResult({
  name: 'console',
  devices: DEVICES,
  runs: RUNS,
  initialBundleGzipBytes: initialGzip,
  totalAssetsGzipBytes: totalGzip,
  overviewColdMsMedian: Math.round(median(cold)),
  overviewColdMsMax: Math.round(Math.max(...cold)),
  overviewWarmMsMedian: Math.round(median(warm)),
  overviewReturningTabMsMedian: Math.round(median(returning)),
  inventoryFirstPageMsMedian: Math.round(median(inventory)),
  inventorySearchMsMedian: Math.round(median(search)),
  targets: { initialBundleGzipBytes: TARGET_KB * 1024, overviewMs: TARGET_MS },
  loadAverage: loadavg()[0],
});
