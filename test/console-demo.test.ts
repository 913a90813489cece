/**
 * The console in a real browser (Debian's Chromium through playwright-core) against `pulsegate
 * demo`: the real server process with a simulated ward enrolled over EST and streaming over
 * mutual-TLS MQTT. Logs in as the demo admin and the demo clinician, checks what each sees,
 * watches a device's vitals update live, quarantines it with a reason and finds the audit entry,
 * verifying its inclusion proof in the browser. Screenshots go to test-results/console/.
 * Finally: no token and no patient identifier in any URL, console message or server log line.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BrowserRecorder,
  chromiumAvailable,
  contrastProblems,
  launchChromium,
  screenshot,
} from './support/browser.js';
import { cli, cliBackground, exited, freePort, waitFor } from './support/processes.js';

const DEVICE = 'demo-icu-01-mon';
const OTHER_UNIT_DEVICE = 'demo-ccu-01-mon';
const PATIENT_ID = /MRN-\d{6}/;
/** Waits for the UI: generous, the machine may be busy. */
const WAIT = { timeout: 20_000 };

let demo: ReturnType<typeof cliBackground> | undefined;
let browser: Browser | undefined;
let base = '';
let adminPassword = '';
let clinicianPassword = '';
let dataDir = '';
const recorder = new BrowserRecorder();
const contexts: BrowserContext[] = [];

async function newPage(): Promise<Page> {
  const context = await browser!.newContext({
    ignoreHTTPSErrors: true, // the demo's CA is not in the browser's trust store
    viewport: { width: 1366, height: 900 },
  });
  contexts.push(context);
  recorder.watch(context);
  return context.newPage();
}

async function logIn(page: Page, user: string, password: string): Promise<void> {
  await page.goto(base);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('button', { name: 'Log out' }).waitFor({ timeout: 20_000 });
}

const latest = async (page: Page, testId: string) =>
  (await page.getByTestId(testId).locator('.muted').textContent()) ?? '';

describe.skipIf(!chromiumAvailable)('console against the demo (Chromium)', () => {
  beforeAll(async () => {
    const port = await freePort();
    demo = cliBackground(
      [
        'demo',
        '--port',
        String(port),
        '--mqtt-port',
        String(await freePort()),
        '--devices',
        '9',
        '--rate',
        '2',
      ],
      { PULSEGATE_LOG_LEVEL: 'info' },
    );
    await waitFor(() => demo!.output().includes('Press Ctrl-C to stop.'), 120_000);
    const out = demo.output();
    base = /Console:\s+(https:\/\/\S+\/)/.exec(out)![1]!;
    adminPassword = /Admin login:\s+admin \/ (\S+)/.exec(out)![1]!;
    clinicianPassword = /Clinician:\s+clinician \/ (\S+)/.exec(out)![1]!;
    dataDir = /demo installation in (\S+)/.exec(out)![1]!;
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    if (demo && demo.exitCode === null) {
      demo.kill('SIGTERM');
      const killer = setTimeout(() => demo?.kill('SIGKILL'), 30_000);
      await exited(demo);
      clearTimeout(killer);
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('admin: overview, inventory, add device, live vitals, quarantine and release with a reason, audit entry verified', async () => {
    const page = await newPage();
    await logIn(page, 'admin', adminPassword);

    // Fleet overview: the ward's devices, connected now and a live message rate.
    await page.locator('[data-ready="overview"]').waitFor();
    await expect
      .poll(async () => page.getByTestId('devices-total').textContent(), { timeout: 20_000 })
      .toBe('9');
    await expect
      .poll(async () => Number(await page.getByTestId('connected').textContent()), { timeout: 20_000 })
      .toBeGreaterThan(0);
    await expect
      .poll(async () => Number(await page.getByTestId('msgs-per-second').textContent()), { timeout: 20_000 })
      .toBeGreaterThan(0);
    for (const nav of ['Overview', 'Devices', 'Triage', 'Alerts', 'Incidents', 'Audit'])
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: nav }).waitFor();
    await screenshot(page, 'overview');
    expect(await contrastProblems(page), 'overview').toEqual([]);
    // A reload keeps the tab's session (sessionStorage) and asks for the overview's data alongside /me.
    await page.reload();
    await page.locator('[data-ready="overview"]').waitFor(WAIT);
    await page.setViewportSize({ width: 820, height: 1180 }); // tablet, portrait
    await screenshot(page, 'overview-tablet');
    await page.setViewportSize({ width: 1366, height: 900 });

    // Inventory: every device of the ward, server-side search narrows it.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Devices' }).click();
    await expect.poll(() => page.getByTestId('device-count').textContent(), WAIT).toContain('of 9 devices');
    await page.getByLabel('Search').fill('icu');
    await expect.poll(() => page.getByTestId('device-count').textContent(), WAIT).toContain('of 3 devices');
    await screenshot(page, 'inventory');

    // Add a device: the one-time enrollment token is shown once, as text and as a QR code.
    await page.getByRole('link', { name: 'Add device' }).click();
    await page.getByLabel(/Device id/).fill('console-added-01');
    await page.getByLabel(/Vendor/).fill('Acme');
    await page.getByLabel(/^Model/).fill('X1');
    await page.getByLabel(/Care unit/).fill('ICU');
    await page.getByRole('button', { name: /Register/ }).click();
    const enrollmentToken = (await page.getByTestId('enrollment-token').textContent()) ?? '';
    expect(enrollmentToken.length).toBeGreaterThan(20);
    recorder.tokens.push(enrollmentToken);
    await page.getByRole('img', { name: /QR code/ }).waitFor();
    await screenshot(page, 'add-device');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Devices' }).click();
    await expect.poll(() => page.getByTestId('device-count').textContent(), WAIT).toContain('of 10 devices');
    await page.getByLabel('Search').fill('demo-icu');
    await expect.poll(() => page.getByTestId('device-count').textContent(), WAIT).toContain('of 3 devices');

    // Device page: vitals charts update live as the simulated monitor streams.
    await page.getByRole('link', { name: DEVICE }).click();
    await page.getByTestId('vitals').waitFor({ timeout: 30_000 });
    const chart = 'vital-heart-rate';
    await page.getByTestId(chart).waitFor({ timeout: 30_000 });
    const before = await latest(page, chart);
    await expect.poll(() => latest(page, chart), { timeout: 30_000 }).not.toBe(before);
    expect(await page.getByTestId('cert-expiry').textContent()).not.toBe('—');
    // Units as clinicians write them, not as UCUM codes (mm[Hg], Cel).
    await page.getByTestId('vital-nibp-systolic').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('vital-nibp-systolic-latest').textContent()).toMatch(/^\d+(\.\d)? mmHg$/);
    await screenshot(page, 'device');
    expect(await contrastProblems(page), 'device').toEqual([]);

    // Quarantine with a reason: the new state shows on the page.
    await page.getByRole('button', { name: 'Quarantine…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel(/Reason/).fill('console test: suspicious traffic');
    await dialog.getByRole('button', { name: 'Quarantine' }).click();
    await expect
      .poll(() => page.getByTestId('lifecycle').textContent(), { timeout: 20_000 })
      .toBe('quarantined');
    await screenshot(page, 'device-quarantined');

    // The audit entry (actor and reason), and its inclusion proof checked in the browser.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).click();
    const row = page
      .getByTestId('audit-entries')
      .locator('tr', { hasText: DEVICE })
      .filter({ hasText: 'console test: suspicious traffic' })
      .first();
    await row.waitFor({ timeout: 20_000 });
    expect(await row.textContent()).toContain('admin');
    expect(await row.textContent()).toMatch(/quarantin/);
    const seq = Number(await row.locator('td').first().textContent());
    // Checkpoints are signed every few seconds: retry until the entry is in one. Each click
    // first shows "Checking…", so the answer is read once the check has settled (a proof result,
    // or "not in a signed checkpoint yet").
    await expect
      .poll(
        async () => {
          await row.getByRole('button', { name: `Verify entry ${seq}` }).click();
          const result = page.getByTestId(`verify-${seq}`);
          await result
            .or(row.getByText('Not in a signed checkpoint yet'))
            .first()
            .waitFor({ timeout: 10_000 });
          return (await result.count()) ? result.textContent() : '';
        },
        { timeout: 40_000, interval: 2000 },
      )
      .toContain('Included in the signed log');
    // Chromium verifies the Ed25519 checkpoint signature with WebCrypto itself (no JS fallback).
    expect(await page.getByTestId(`verify-${seq}`).textContent()).toContain('Ed25519 via webcrypto');
    await screenshot(page, 'audit');
    expect(await contrastProblems(page), 'audit').toEqual([]);

    // Release with a reason: the device goes back to registered and a new one-time token is shown once.
    await page.goto(`${base}devices/${DEVICE}`);
    await page.getByRole('button', { name: 'Release…' }).click();
    await page
      .getByRole('dialog')
      .getByLabel(/Reason/)
      .fill('console test: cleared by security');
    await page.getByRole('dialog').getByRole('button', { name: 'Release' }).click();
    await expect
      .poll(() => page.getByTestId('lifecycle').textContent(), { timeout: 20_000 })
      .toBe('registered');
    const releaseToken = (await page.getByTestId('enrollment-token').textContent()) ?? '';
    expect(releaseToken.length).toBeGreaterThan(20);
    recorder.tokens.push(releaseToken);
    await page.getByRole('img', { name: /QR code/ }).waitFor();
    await screenshot(page, 'device-released');

    // Pages whose APIs may not be installed show a clear state either way.
    for (const [nav, name] of [
      ['Triage', 'triage'],
      ['Alerts', 'alerts-empty'],
      ['Incidents', 'incidents-empty'],
    ] as const) {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: nav }).click();
      await page.locator('main h1').waitFor();
      await expect
        .poll(() => page.locator('main').textContent(), { timeout: 15_000 })
        .not.toContain('Loading…');
      await screenshot(page, name);
    }
  }, 180_000);

  it('clinician: logs in with the keyboard alone, sees only its own care unit, and no security pages', async () => {
    const page = await newPage();
    await page.goto(base);
    await screenshot(page, 'login');
    expect(await contrastProblems(page), 'login').toEqual([]);
    // The user name field has focus; Tab moves to the password; Enter submits.
    await page.keyboard.type('clinician');
    await page.keyboard.press('Tab');
    await page.keyboard.type(clinicianPassword);
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Log out' }).waitFor({ timeout: 20_000 });
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Triage' }).waitFor();
    expect(await nav.getByRole('link', { name: 'Audit' }).count()).toBe(0);
    expect(await page.getByTestId('who').textContent()).toContain('ICU');

    await nav.getByRole('link', { name: 'Devices' }).click();
    // The ward's three ICU devices and the one added above in ICU; none of CCU or WARD-3.
    await expect.poll(() => page.getByTestId('device-count').textContent(), WAIT).toContain('of 4 devices');
    const units = await page.locator('table.devices tbody tr td:nth-child(5)').allTextContents();
    expect(units).toEqual(['ICU', 'ICU', 'ICU', 'ICU']);
    await screenshot(page, 'clinician-devices');
    expect(await contrastProblems(page), 'clinician-devices').toEqual([]);

    await nav.getByRole('link', { name: 'Overview' }).click();
    await expect.poll(() => page.getByTestId('devices-total').textContent(), { timeout: 20_000 }).toBe('4');
    await screenshot(page, 'clinician-overview');

    // Another unit's device: the API refuses, the page says so.
    await page.goto(`${base}devices/${OTHER_UNIT_DEVICE}`);
    await expect.poll(() => page.locator('main').textContent(), { timeout: 20_000 }).toContain('may not see');

    // Triage: the ICU's patients by NEWS2, and nobody else's; a patient page with live vitals.
    await nav.getByRole('link', { name: 'Triage' }).click();
    const rows = page.getByTestId('triage').locator('tbody tr');
    await expect.poll(() => rows.count(), { timeout: 60_000 }).toBeGreaterThan(0);
    const triageUnits = await rows.locator('td:nth-child(2)').allTextContents();
    expect(new Set(triageUnits)).toEqual(new Set(['ICU']));
    await screenshot(page, 'clinician-triage');
    expect(await contrastProblems(page), 'triage').toEqual([]);
    await rows.first().locator('th a').click();
    await page.getByRole('heading', { name: /NEWS2/ }).waitFor(WAIT);
    await page.getByTestId('vitals').waitFor({ timeout: 30_000 });
    expect(page.url()).toMatch(/\/triage\/patient\/demo-icu-/);
    await screenshot(page, 'clinician-patient');
  }, 90_000);

  it('alerts: a simulated attack raises alerts; acknowledge and resolve with a reason; incident view', async () => {
    // A cloned device identity (the same certificate connected from two places): a critical alert.
    const attack = cli(['sim', '--data', dataDir, '--attack', 'cloned-cert']);
    expect(attack.code, attack.stderr).toBe(0);
    const page = await newPage();
    await logIn(page, 'admin', adminPassword);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Alerts' }).click();
    const title = 'One device identity is connected from two places';
    await page.getByTestId('alerts').getByRole('link', { name: title }).first().waitFor({ timeout: 30_000 });
    await screenshot(page, 'alerts');

    await page.getByTestId('alerts').getByRole('link', { name: title }).first().click();
    await expect.poll(() => page.getByTestId('alert-state').textContent(), WAIT).toBe('open');
    expect(await page.locator('pre.evidence').textContent()).not.toBe('{}');
    await page.getByRole('button', { name: 'Acknowledge…' }).click();
    await page
      .getByRole('dialog')
      .getByLabel(/Reason/)
      .fill('console test: investigating');
    await page.getByRole('dialog').getByRole('button', { name: 'Acknowledge' }).click();
    await expect.poll(() => page.getByTestId('alert-state').textContent(), WAIT).toBe('acknowledged');
    await page.getByRole('button', { name: 'Resolve…' }).click();
    // The reason is required: an empty one is refused in the dialog.
    await page.getByRole('dialog').getByRole('button', { name: 'Resolve' }).click();
    expect(await page.getByRole('dialog').isVisible()).toBe(true);
    await page
      .getByRole('dialog')
      .getByLabel(/Reason/)
      .fill('console test: test clone removed');
    await page.getByRole('dialog').getByRole('button', { name: 'Resolve' }).click();
    await expect.poll(() => page.getByTestId('alert-state').textContent(), WAIT).toBe('resolved');
    await expect
      .poll(() => page.locator('section', { hasText: 'History' }).textContent(), WAIT)
      .toContain('console test: test clone removed');
    await screenshot(page, 'alert');

    // Incidents: the list, and the first incident with its alerts (when the monitor grouped any).
    await nav.getByRole('link', { name: 'Incidents' }).click();
    await expect.poll(() => page.locator('main').textContent(), WAIT).not.toContain('Loading…');
    await screenshot(page, 'incidents');
    const incident = page.locator('main table a[href^="/incidents/"]').first();
    if ((await incident.count()) > 0) {
      await incident.click();
      await page.getByTestId('alerts').waitFor(WAIT);
      expect(await page.getByTestId('alerts').locator('tbody tr').count()).toBeGreaterThan(0);
    }
    await screenshot(page, 'incident');
  }, 120_000);

  it('puts no token or patient identifier in a URL, a console message or a server log line; no CSP refusal', async () => {
    // The strict CSP held without refusing anything the console needed, and no script failed.
    expect(
      recorder.console.filter((m) => /Content Security Policy|Refused to|Trusted Type/i.test(m)),
    ).toEqual([]);
    expect(recorder.errors).toEqual([]);
    const adminToken = readFileSync(join(dataDir, 'secrets/admin.token'), 'utf8').trim();
    const secrets = [adminToken, ...recorder.tokens];
    expect(recorder.tokens.length).toBeGreaterThanOrEqual(2);
    expect(recorder.urls.length).toBeGreaterThan(10);
    const serverLines = demo!.output().split('\n');
    expect(serverLines.filter((l) => l.includes('"request completed"')).length).toBeGreaterThan(10);
    const haystacks: Array<[string, string[]]> = [
      ['URL', recorder.urls],
      ['console message', recorder.console],
      ['page error', recorder.errors],
      ['server log line', serverLines],
    ];
    for (const [what, lines] of haystacks) {
      for (const line of lines) {
        for (const secret of secrets) expect(line.includes(secret), `${what} holds a token`).toBe(false);
        expect(PATIENT_ID.test(line), `${what} holds a patient identifier: ${line.slice(0, 120)}`).toBe(
          false,
        );
        if (what !== 'server log line' || line.startsWith('{'))
          expect(/access_token|authorization/i.test(line), `${what}: ${line.slice(0, 120)}`).toBe(false);
      }
    }
  });
});
