/**
 * The simulator against a real server process: a small ward enrolls over EST and streams over
 * mutual-TLS MQTT (every message acknowledged, readable through the API), and every attack
 * scenario is defended.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliBackground, curl, exited, freePort, waitFor } from './support/processes.js';

let dir: string;
let data: string;
let server: ReturnType<typeof cliBackground> | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pulsegate-sim-'));
  data = join(dir, 'd');
  const port = await freePort();
  expect(
    cli(['init', '--data', data, '--port', String(port), '--mqtt-port', String(await freePort())]).code,
  ).toBe(0);
  server = cliBackground(['serve', '--data', data]);
  await waitFor(
    () => curl(['--cacert', join(data, 'pki/ca.pem'), `https://localhost:${port}/readyz`]).status === 200,
  );
}, 60_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await exited(server);
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('pulsegate sim', () => {
  it('streams a ward with every message acknowledged', () => {
    const r = cli([
      'sim',
      '--data',
      data,
      '--devices',
      '6',
      '--rate',
      '4',
      '--duration',
      '4',
      '--prefix',
      'ward',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const totals = JSON.parse(r.stdout) as { devices: number; sent: number; acked: number; failed: number };
    expect(totals.devices).toBe(6);
    expect(totals.acked).toBeGreaterThan(30);
    expect(totals.failed).toBe(0);
  });

  it('runs the attack scenarios: each is defended and the monitor reports it', () => {
    // new-address and off-hours need a device with a learned history (test/monitor-scenarios.test.ts).
    const names = [
      'wrong-ca',
      'topic-spoof',
      'flood',
      'malformed',
      'replay',
      'auth-storm',
      'size-jump',
      'cloned-cert',
    ];
    const r = cli(['sim', '--data', data, '--attack', ...names, '--prefix', 'atk', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const results = JSON.parse(r.stdout) as Array<{
      attack: string;
      defended: boolean;
      observed: string;
      alert?: { rule: string; raised: boolean };
    }>;
    expect(results.map((x) => x.attack)).toEqual(names);
    for (const x of results) expect(x.defended, `${x.attack}: ${x.observed}`).toBe(true);
    for (const x of results.filter((y) => y.alert))
      expect(x.alert!.raised, `${x.attack}: ${x.alert!.rule}`).toBe(true);
    expect(results.find((x) => x.attack === 'malformed')!.observed).toContain('impossible value: closed');
  });
});
