/**
 * `pulsegate init` with bad input, as an operator meets it: a bad flag or PULSEGATE_* value exits 1
 * with its code and leaves nothing behind (a data directory that existed keeps exactly what it
 * held), so the corrected command succeeds instead of finding a half-built installation. And
 * `serve` refuses bad clinical limits at start-up, also with clinical monitoring off.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices } from '../src/app.js';
import { loadConfig } from '../src/config/index.js';
import { cli, cliBackground, exited, freePort, initWithCli, tick } from './support/processes.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pulsegate-init-cli-'));
});
const madeDirs: string[] = [];
afterAll(() => {
  for (const d of [dir, ...madeDirs]) rmSync(d, { recursive: true, force: true });
});

let n = 0;
const fresh = () => join(dir, `d${++n}`);
/** A data directory that exists already and holds a file of the operator's. */
function existing(): string {
  const data = fresh();
  mkdirSync(data);
  writeFileSync(join(data, 'notes.txt'), 'mine\n');
  return data;
}

function refused(args: string[], env: Record<string, string>, code: string) {
  const r = cli(['init', ...args], env);
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toContain(`error ${code}`);
  return r.stderr;
}

describe('pulsegate init with bad input', () => {
  it('refuses bad flags and PULSEGATE_* values before writing anything; the corrected run succeeds', async () => {
    const cases: Array<[string[], Record<string, string>, string, string]> = [
      [['--port', '70000'], {}, 'CONFIG_INVALID', 'server.port'],
      [['--public-url', 'http://pulsegate.example'], {}, 'CONFIG_INVALID', 'server.publicUrl'],
      [['--database-url', 'mysql://root@db/x'], {}, 'CONFIG_INVALID', 'database.url'],
      [[], { PULSEGATE_MONITOR_TIME_ZONE: 'Mars/Olympus' }, 'CONFIG_INVALID', 'monitor.timeZone'],
      [
        [],
        { PULSEGATE_CLINICAL_LIMITS: '{"icu":{"sp02":{"low":90}}}' },
        'CLINICAL_LIMITS_INVALID',
        'clinical.limits.icu.sp02',
      ],
      [[], { PULSEGATE_MASTER_KEY: 'not-a-key' }, 'KEY_MASTER_MISSING', 'PULSEGATE_MASTER_KEY'],
    ];
    for (const [args, env, code, names] of cases) {
      const absent = fresh();
      expect(refused(['--data', absent, ...args], env, code), args.join(' ')).toContain(names);
      expect(existsSync(absent), `${args.join(' ')} ${JSON.stringify(env)}`).toBe(false);
    }

    // A directory that was there keeps exactly what it held, and the corrected command succeeds.
    const data = existing();
    refused(['--data', data, '--port', '70000'], {}, 'CONFIG_INVALID');
    refused(['--data', data], { PULSEGATE_MONITOR_TIME_ZONE: 'Mars/Olympus' }, 'CONFIG_INVALID');
    expect(readdirSync(data)).toEqual(['notes.txt']);
    await tick();
    const port = await freePort();
    const ok = cli(['init', '--data', data, '--port', String(port)]);
    expect(ok.code, ok.stderr).toBe(0);
    // Tokens' issuer and audience follow the port clients reach.
    expect(loadConfig(data, {}).server.publicUrl).toBe(`https://localhost:${port}`);
    expect(readdirSync(data)).toEqual(
      expect.arrayContaining(['notes.txt', 'pki', 'pulsegate.db', 'pulsegate.yaml', 'secrets']),
    );
    // And a second init still refuses to overwrite it.
    refused(['--data', data], {}, 'INSTALL_EXISTS');

    // The admin token init writes expires like any other: in 30 days.
    const services = await createServices(loadConfig(data, {}), { env: {} });
    try {
      const [token] = await services.access.listApiTokens('admin');
      expect(token!.expiresAt! - token!.createdAt).toBe(30 * 86_400_000);
    } finally {
      await services.close();
    }
  }, 120_000);

  it('removes what it made when a later step fails (an unreachable database), and only that', async () => {
    const closed = await freePort();
    const url = `postgres://nobody@127.0.0.1:${closed}/none`;
    const absent = fresh();
    await tick();
    expect(cli(['init', '--data', absent, '--database-url', url]).code).toBe(1);
    expect(existsSync(absent)).toBe(false);
    const kept = existing();
    await tick();
    const refused = cli(['init', '--data', kept, '--database-url', url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error SERVICE_UNREACHABLE: .*ECONNREFUSED/m);
    expect(readdirSync(kept)).toEqual(['notes.txt']);
    await tick();
    const asJson = cli(['init', '--data', kept, '--database-url', url, '--json']);
    expect(JSON.parse(asJson.stderr.trim().split('\n').at(-1)!)).toMatchObject({
      error: { code: 'SERVICE_UNREACHABLE' },
    });
  }, 60_000);
});

describe('pulsegate serve with bad clinical limits', () => {
  it('refuses at start-up with CLINICAL_LIMITS_INVALID naming the key, also with clinical monitoring off', async () => {
    await tick();
    const made = await initWithCli('pulsegate-limits-');
    madeDirs.push(made.dir);
    const { data } = made;
    for (const limits of [
      '{"ICU":{"spo2":{"low":85}},"icu":{"spo2":{"low":88}}}',
      '{"ward-3":{"heart-rate":{"low":140}}}',
    ]) {
      const serve = cliBackground(['serve', '--data', data], {
        PULSEGATE_CLINICAL_ENABLED: 'false',
        PULSEGATE_CLINICAL_LIMITS: limits,
      });
      // A server that starts despite the limits is stopped, and the test fails on its exit code.
      const timer = setTimeout(() => serve.kill('SIGTERM'), 20_000);
      const code = await exited(serve);
      clearTimeout(timer);
      expect(code, serve.output()).toBe(1);
      expect(serve.output()).toContain('error CLINICAL_LIMITS_INVALID');
      expect(serve.output()).toContain('clinical.limits.');
    }
  }, 60_000);
});
