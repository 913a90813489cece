/**
 * The monitoring CLI with real processes: `pulsegate serve` runs, a device without owner or
 * location is registered over HTTPS, then `pulsegate monitor check`, `alerts list|show|ack|resolve|
 * false-positive` and `incidents list|show` work the findings on the same installation, every
 * change audited; bad input exits non-zero with a stable code.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliBackground, curl, exited, freePort, tick, waitFor } from './support/processes.js';

let dir: string;
let data: string;
let port: number;
let server: ReturnType<typeof cliBackground> | undefined;

const json = <T>(r: { code: number | null; stdout: string; stderr: string }): T => {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pulsegate-monitor-cli-'));
  data = join(dir, 'd');
  port = await freePort();
  expect(
    cli(['init', '--data', data, '--port', String(port), '--mqtt-port', String(await freePort())]).code,
  ).toBe(0);
  server = cliBackground(['serve', '--data', data]);
  const ca = join(data, 'pki/ca.pem');
  await waitFor(() => curl(['--cacert', ca, `https://localhost:${port}/readyz`]).status === 200, 30_000);
  const token = readFileSync(join(data, 'secrets/admin.token'), 'utf8').trim();
  const created = curl([
    '--cacert',
    ca,
    '-H',
    `Authorization: Bearer ${token}`,
    '-H',
    'Content-Type: application/json',
    '--data-binary',
    JSON.stringify({ id: 'cli-orphan-1', type: 'infusion-pump', vendor: 'Acme', model: 'P1' }),
    `https://localhost:${port}/api/v1/devices`,
  ]);
  expect(created.status, created.body).toBe(201);
}, 90_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await exited(server);
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('pulsegate alerts, incidents and monitor check', () => {
  it('works fleet findings from the command line', async () => {
    await tick();
    const check = json<{
      findings: Array<{ rule: string; deviceId: string; outcome: string; alertId: string }>;
    }>(cli(['monitor', 'check', '--data', data, '--check', 'no-owner-location', '--json']));
    const mine = check.findings.filter((f) => f.deviceId === 'cli-orphan-1');
    expect(mine.map((f) => [f.rule, f.outcome]).sort()).toEqual([
      ['fleet.no-location', 'created'],
      ['fleet.no-owner', 'created'],
    ]);
    const owner = mine.find((f) => f.rule === 'fleet.no-owner')!.alertId;
    const location = mine.find((f) => f.rule === 'fleet.no-location')!.alertId;

    const list = json<{ items: Array<{ id: string }> }>(
      cli(['alerts', 'list', '--data', data, '--device', 'cli-orphan-1', '--json']),
    );
    expect(list.items.map((a) => a.id).sort()).toEqual([owner, location].sort());
    await tick();
    const human = cli(['alerts', 'list', '--data', data, '--state', 'open']);
    expect(human.stdout).toContain('fleet.no-owner');

    const shown = json<{ evidence: Record<string, unknown>; history: unknown[]; incidentId: string }>(
      cli(['alerts', 'show', owner, '--data', data, '--json']),
    );
    expect(shown.evidence).toEqual({ missing: 'owner', check: 'no-owner-location' });
    expect(shown.incidentId).toBeTruthy();

    await tick();
    expect(json<{ state: string }>(cli(['alerts', 'ack', owner, '--data', data, '--json'])).state).toBe(
      'acknowledged',
    );
    await tick();
    expect(cli(['alerts', 'resolve', owner, '--data', data]).code).not.toBe(0); // --reason is required
    const resolved = json<{ state: string; history: Array<{ change: string; reason: string | null }> }>(
      cli(['alerts', 'resolve', owner, '--data', data, '--reason', 'owner assigned', '--json']),
    );
    expect(resolved.state).toBe('resolved');
    expect(resolved.history.at(-1)).toMatchObject({ change: 'resolved', reason: 'owner assigned' });
    expect(
      json<{ state: string }>(
        cli(['alerts', 'false-positive', location, '--data', data, '--reason', 'mobile cart', '--json']),
      ).state,
    ).toBe('false-positive');

    const incidents = json<{ items: Array<{ id: string; state: string; deviceIds: string[] }> }>(
      cli(['incidents', 'list', '--data', data, '--json']),
    );
    const incident = incidents.items.find((i) => i.id === shown.incidentId)!;
    expect(incident).toMatchObject({ state: 'resolved', deviceIds: ['cli-orphan-1'] });
    const detail = json<{ alerts: Array<{ id: string }> }>(
      cli(['incidents', 'show', incident.id, '--data', data, '--json']),
    );
    expect(detail.alerts.map((a) => a.id).sort()).toEqual([owner, location].sort());

    // Every change is in the audit log, with the CLI operator as actor.
    const exported = cli(['audit', 'export', '--data', data]);
    expect(exported.code, exported.stderr).toBe(0);
    for (const action of [
      'monitor.check',
      'alert.acknowledge',
      'alert.resolve',
      'alert.false-positive',
      'alert.read',
    ])
      expect(exported.stdout, action).toContain(action);
  }, 120_000);

  it('refuses bad input with a stable code', async () => {
    const cases: Array<[string[], string]> = [
      [['alerts', 'list', '--state', 'bogus'], 'VALIDATION_FAILED'],
      [['alerts', 'list', '--limit', '0'], 'VALIDATION_FAILED'],
      [['alerts', 'show', 'al_missing'], 'ALERT_NOT_FOUND'],
      [['alerts', 'ack', 'al_missing'], 'ALERT_NOT_FOUND'],
      [['incidents', 'show', 'in_missing'], 'INCIDENT_NOT_FOUND'],
      [['incidents', 'list', '--state', 'closed'], 'VALIDATION_FAILED'],
      [['monitor', 'check', '--check', 'bogus'], 'MONITOR_CHECK_UNKNOWN'],
    ];
    for (const [args, code] of cases) {
      await tick(); // let the worker answer Vitest between blocking CLI runs
      const r = cli([...args, '--data', data, '--json']);
      expect(r.code, args.join(' ')).toBe(1);
      expect(JSON.parse(r.stderr).error.code, args.join(' ')).toBe(code);
    }
  }, 120_000);
});
