/**
 * The documented operator flow with real processes and real clients: `pulsegate init`, then
 * `pulsegate serve`, then curl over HTTPS trusting the installation's CA.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliBackground, curl, exited, freePort, tick, waitFor } from './support/processes.js';

let dir: string;
let data: string;
let port: number;
let server: ReturnType<typeof cliBackground> | undefined;

function fingerprint(root: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (!name.startsWith('pulsegate.db')) h.update(`${p}:${st.mode}:`).update(readFileSync(p));
    }
  };
  walk(root);
  return h.digest('hex');
}

/** A GET over HTTPS with the installation's admin token (curl, trusting its CA). */
function adminGet(path: string) {
  const token = readFileSync(join(data, 'secrets/admin.token'), 'utf8').trim();
  return curl([
    '--cacert',
    join(data, 'pki/ca.pem'),
    '-H',
    `Authorization: Bearer ${token}`,
    `https://localhost:${port}${path}`,
  ]);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pulsegate-cli-'));
  data = join(dir, 'd');
  port = await freePort();
  const init = cli(['init', '--data', data, '--port', String(port), '--mqtt-port', String(await freePort())]);
  expect(init.code, init.stderr).toBe(0);
  // A short request timeout, so the slow-body test below need not wait the default 30 s.
  server = cliBackground(['serve', '--data', data], { PULSEGATE_SERVER_REQUEST_TIMEOUT_SECONDS: '2' });
  await waitFor(
    () => curl(['--cacert', join(data, 'pki/ca.pem'), `https://localhost:${port}/healthz`]).status === 200,
  );
}, 60_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await exited(server);
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('init and serve', () => {
  it('init writes secrets with mode 0600 and the CA for clients', () => {
    for (const f of ['master.key', 'admin.token', 'server.key', 'issuing-ca.key', 'root-ca.key']) {
      expect(statSync(join(data, 'secrets', f)).mode & 0o777, f).toBe(0o600);
    }
    expect(readFileSync(join(data, 'pki/ca.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
  });

  it('drops a client that trickles its request body (server.requestTimeoutSeconds)', async () => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: readFileSync(join(data, 'pki/ca.pem')),
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    const started = Date.now();
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.write(
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user',
    );
    const trickle = setInterval(() => socket.writable && socket.write(' '), 500);
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    clearInterval(trickle);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('init keeps the audit verifier key outside the database, the same key the server publishes', () => {
    const vkey = readFileSync(join(data, 'pki/audit-verifier.vkey'), 'utf8').trim();
    const res = adminGet('/api/v1/audit/verifier');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).vkey).toBe(vkey);
  });

  it('answers /healthz over HTTPS with the installation CA, and refuses TLS below 1.2', () => {
    const res = curl(['--cacert', join(data, 'pki/ca.pem'), `https://localhost:${port}/healthz`]);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ status: 'ok' });
    const old = curl([
      '--cacert',
      join(data, 'pki/ca.pem'),
      '--tlsv1.0',
      '--tls-max',
      '1.1',
      `https://localhost:${port}/healthz`,
    ]);
    expect(old.code).not.toBe(0);
    const plain = curl([`http://localhost:${port}/healthz`]);
    expect(plain.status).not.toBe(200);
  });

  it('names the port init was given in its SMART token endpoint (server.publicUrl follows --port)', () => {
    const res = curl([
      '--cacert',
      join(data, 'pki/ca.pem'),
      `https://localhost:${port}/.well-known/smart-configuration`,
    ]);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).token_endpoint).toBe(`https://localhost:${port}/oauth/token`);
  });

  it('gives an unauthenticated /api/v1 call 401 problem+json', () => {
    const res = curl([
      '--cacert',
      join(data, 'pki/ca.pem'),
      '-D',
      '-',
      `https://localhost:${port}/api/v1/devices`,
    ]);
    expect(res.status).toBe(401);
    expect(res.body.toLowerCase()).toContain('content-type: application/problem+json');
    expect(res.body).toContain('"code":"AUTH_REQUIRED"');
  });

  it('accepts the admin token from secrets/admin.token', () => {
    const token = readFileSync(join(data, 'secrets/admin.token'), 'utf8').trim();
    const res = adminGet('/api/v1/me');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ name: 'admin', role: 'admin' });
    const devices = curl([
      '--cacert',
      join(data, 'pki/ca.pem'),
      '-H',
      `Authorization: Bearer ${token}`,
      '-H',
      'content-type: application/json',
      '-d',
      '{"id":"mon-7","type":"patient-monitor","vendor":"Acme","model":"X"}',
      `https://localhost:${port}/api/v1/devices`,
    ]);
    expect(devices.status).toBe(201);
  });

  it('serves its OpenAPI document with every /api/v1 route in it', () => {
    const res = curl(['--cacert', join(data, 'pki/ca.pem'), `https://localhost:${port}/api/v1/openapi.json`]);
    const doc = JSON.parse(res.body) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    for (const p of [
      '/api/v1/devices',
      '/api/v1/devices/{id}',
      '/api/v1/auth/login',
      '/api/v1/audit/checkpoint',
      '/oauth/token',
    ]) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
  });

  it('protects /metrics and serves it to the admin', () => {
    expect(curl(['--cacert', join(data, 'pki/ca.pem'), `https://localhost:${port}/metrics`]).status).toBe(
      401,
    );
    const token = readFileSync(join(data, 'secrets/admin.token'), 'utf8').trim();
    const res = curl([
      '--cacert',
      join(data, 'pki/ca.pem'),
      '-H',
      `Authorization: Bearer ${token}`,
      `https://localhost:${port}/metrics`,
    ]);
    expect(res.status).toBe(200);
    expect(res.body).toContain('pulsegate_http_requests_total');
  });

  it('init refuses an existing installation and changes nothing', async () => {
    const before = fingerprint(data);
    await tick();
    const again = cli(['init', '--data', data]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('INSTALL_EXISTS');
    expect(fingerprint(data)).toBe(before);
  });

  it('never writes the admin token into the server log', async () => {
    const token = readFileSync(join(data, 'secrets/admin.token'), 'utf8').trim();
    expect(server!.output()).not.toContain(token);
    expect(server!.output()).not.toContain('/api/v1/devices?');
  });

  it('stops cleanly on SIGTERM', async () => {
    server!.kill('SIGTERM');
    expect(await exited(server!)).toBe(0);
  });

  it('runs retention from the command line over telemetry and alerts, and audits it', async () => {
    await tick();
    const run = cli(['retention', 'run', '--data', data, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({
      deletedReadings: 0,
      followers: { alerts: { cleared: 0, shreddedKeys: 0 } },
    });
    expect(report.shreddedBefore).toMatch(/^\d{4}-\d\d$/);
    await tick();
    const verified = cli(['audit', 'verify', '--data', data, '--json']);
    expect(verified.code).toBe(0);
    await tick();
    const exported = cli(['audit', 'export', '--data', data]);
    expect(exported.stdout).toContain('telemetry.retention');
  });

  it('exits 2 on a bad command line and 1 with a code on a missing installation', async () => {
    await tick();
    expect(cli(['frobnicate']).code).toBe(2);
    // With --json a usage error is one JSON object on stderr, without help text.
    for (const args of [
      ['frobnicate', '--json'],
      ['user', 'add', '--json'],
      ['audit', 'verify', '--json', '--bogus'],
      ['init', '--json', '--data', join(dir, 'typo'), '--databse-url=postgres://u:s3cret@db/x'],
    ]) {
      await tick();
      const bad = cli(args);
      expect(bad.code, args.join(' ')).toBe(2);
      const lines = bad.stderr.trim().split('\n');
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({
        error: { code: 'CLI_USAGE', message: expect.any(String) },
      });
      expect(bad.stderr).not.toContain('s3cret');
    }
    // Without --json too: the option's name, not its value.
    await tick();
    const typo = cli(['init', '--data', join(dir, 'typo'), '--databse-url=postgres://u:s3cret@db/x']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('--databse-url');
    expect(typo.stderr).not.toContain('s3cret');
    await tick();
    const missing = cli(['migrate', '--data', join(dir, 'nowhere')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('INSTALL_MISSING');
    await tick();
    expect(cli(['--help']).code).toBe(0);
    await tick();
    expect(cli(['user', 'add', '--help']).stdout).toContain('--care-unit');
  });
});
