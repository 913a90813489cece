/**
 * The account and maintenance commands as an operator's script runs them, one process each:
 * `user add|list|disable|enable`, `token create`, `migrate` and `keys rotate-master`, with and
 * without `--json`; bad input exits 1 with its code and changes nothing, a bad command line
 * exits 2.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, initWithCli, tick } from './support/processes.js';

let dir: string;
let data: string;

const json = (r: { code: number | null; stdout: string; stderr: string }) => {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};

beforeAll(async () => {
  ({ dir, data } = await initWithCli('pulsegate-accounts-cli-'));
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('pulsegate user, token, migrate and keys', () => {
  it('adds, lists, disables and re-enables users; a generated password is shown once', async () => {
    const added = json(
      cli([
        'user',
        'add',
        '--data',
        data,
        '--json',
        '--username',
        'nurse.kim',
        '--role',
        'clinician',
        '--care-unit',
        'ICU',
        'CCU',
      ]),
    );
    expect(added.user).toMatchObject({ username: 'nurse.kim', role: 'clinician', careUnits: ['ICU', 'CCU'] });
    expect(added.password).toMatch(/^\S{20,}$/);
    // A password from standard input is never echoed.
    const piped = cli(
      ['user', 'add', '--data', data, '--username', 'auditor.lee', '--role', 'auditor', '--password-stdin'],
      {},
      'a long enough passphrase for the auditor\n',
    );
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).not.toContain('passphrase');

    await tick();
    const list = json(cli(['user', 'list', '--data', data, '--json'])) as Array<{
      username: string;
      disabled: boolean;
    }>;
    expect(list.map((u) => u.username).sort()).toEqual(['admin', 'auditor.lee', 'nurse.kim']);
    await tick();
    expect(cli(['user', 'list', '--data', data]).stdout).toContain('nurse.kim');

    await tick();
    expect(json(cli(['user', 'disable', '--data', data, '--json', 'nurse.kim']))).toEqual({
      username: 'nurse.kim',
      disabled: true,
    });
    await tick();
    const disabled = json(cli(['user', 'list', '--data', data, '--json'])) as Array<{
      username: string;
      disabled: boolean;
    }>;
    expect(disabled.find((u) => u.username === 'nurse.kim')?.disabled).toBe(true);
    await tick();
    expect(json(cli(['user', 'enable', '--data', data, '--json', 'nurse.kim'])).disabled).toBe(false);
  });

  it('refuses bad accounts with a code, exit 1, and stores nothing', async () => {
    await tick();
    const users = () => cli(['user', 'list', '--data', data, '--json']).stdout;
    const before = users();
    for (const [args, code] of [
      [['--username', 'x1', '--role', 'wizard'], 'VALIDATION_FAILED'],
      [['--username', 'nurse.kim', '--role', 'clinician'], 'USER_EXISTS'],
      [['--username', "bad'; drop table users; --", '--role', 'auditor'], 'VALIDATION_FAILED'],
      [['--username', 'v1', '--role', 'vendor-service'], 'VALIDATION_FAILED'],
    ] as const) {
      const r = cli(['user', 'add', '--data', data, '--json', ...args]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(JSON.parse(r.stderr).error.code, args.join(' ')).toBe(code);
    }
    await tick();
    const missing = cli(['user', 'disable', '--data', data, 'nobody']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('USER_NOT_FOUND');
    expect(users()).toBe(before);
  });

  it('creates an API token with a lifetime, printed once; bad TTLs and users are refused', async () => {
    const created = json(
      cli(['token', 'create', '--data', data, '--json', '--user', 'nurse.kim', '--ttl', '1h']),
    );
    expect(created.token).toMatch(/^pgt_/);
    expect(created.expiresAt - Date.now()).toBeGreaterThan(3_500_000);
    expect(created.expiresAt - Date.now()).toBeLessThanOrEqual(3_600_000);
    await tick();
    expect(cli(['token', 'create', '--data', data, '--user', 'nurse.kim', '--ttl', 'soon']).stderr).toContain(
      'VALIDATION_FAILED',
    );
    await tick();
    expect(cli(['token', 'create', '--data', data, '--user', 'nobody']).stderr).toContain('USER_NOT_FOUND');
  });

  it('gives a token 30 days unless --ttl says otherwise, and refuses more than 365 days', async () => {
    const DAY_MS = 86_400_000;
    await tick();
    const plain = json(cli(['token', 'create', '--data', data, '--json', '--user', 'nurse.kim']));
    expect(Math.abs(plain.expiresAt - (Date.now() + 30 * DAY_MS))).toBeLessThan(120_000);
    const year = json(
      cli(['token', 'create', '--data', data, '--json', '--user', 'nurse.kim', '--ttl', '365d']),
    );
    expect(Math.abs(year.expiresAt - (Date.now() + 365 * DAY_MS))).toBeLessThan(120_000);
    for (const ttl of ['366d', '8761h', '59s']) {
      await tick(); // let the worker answer Vitest between blocking CLI runs
      const r = cli(['token', 'create', '--data', data, '--user', 'nurse.kim', '--ttl', ttl]);
      expect(r.code, ttl).toBe(1);
      expect(r.stderr, ttl).toContain('error VALIDATION_FAILED: --ttl must be from 1m to 365d');
    }
    await tick();
    expect(cli(['token', 'create', '--help']).stdout).toContain('default 30d');
  }, 120_000);

  it('refuses a vendor access window that is not RFC 3339 and a malformed or empty token lifetime', async () => {
    await tick();
    const users = () => cli(['user', 'list', '--data', data, '--json']).stdout;
    const before = users();
    const vendor = ['user', 'add', '--data', data, '--username', 'vendor.x', '--role', 'vendor-service'];
    // Date.parse read `1` as 2001-01-01 and rolled 30 February over into March.
    for (const args of [
      ['--not-before', '1'],
      ['--not-after', '2024-02-30T00:00:00Z'],
      ['--not-after', 'March 3, 2030'],
    ]) {
      const r = cli([...vendor, '--device', 'pump-1', ...args]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toContain('error VALIDATION_FAILED');
      expect(r.stderr).toContain('RFC 3339');
    }
    expect(users()).toBe(before);
    // An empty --ttl was read as "no lifetime given" and made a token that never expires.
    for (const ttl of ['', ' ', '1w', '-1h', '1.5h']) {
      await tick(); // let the worker answer Vitest between blocking CLI runs
      const r = cli(['token', 'create', '--data', data, '--user', 'nurse.kim', '--ttl', ttl]);
      expect(r.code, JSON.stringify(ttl)).toBe(1);
      expect(r.stderr, JSON.stringify(ttl)).toContain('error VALIDATION_FAILED: --ttl');
    }
  }, 120_000);

  it('migrate reports each migration, already applied on an installed database', async () => {
    await tick();
    const report = json(cli(['migrate', '--data', data, '--json']));
    expect(report.ok).toBe(true);
    expect(report.migrations.length).toBeGreaterThan(10);
    expect(report.migrations.every((m: { status: string }) => m.status === 'already-applied')).toBe(true);
    await tick();
    expect(cli(['migrate', '--data', data]).stdout).toContain('already-applied');
  });

  it('rotates the master key without re-encrypting data; the old key no longer opens the installation', async () => {
    const oldKey = readFileSync(join(data, 'secrets', 'master.key'), 'utf8');
    await tick();
    const rotated = json(cli(['keys', 'rotate-master', '--data', data, '--json']));
    expect(rotated.rewrapped).toBeGreaterThan(0);
    expect(readFileSync(join(data, 'secrets', 'master.key'), 'utf8')).not.toBe(oldKey);
    // Everything still opens with the new key; the old one is refused by its check value.
    expect(json(cli(['user', 'list', '--data', data, '--json'])).length).toBe(3);
    await tick();
    const old = cli(['user', 'list', '--data', data], { PULSEGATE_MASTER_KEY: oldKey.trim() });
    expect(old.code).toBe(1);
    expect(old.stderr).toContain('KEY_MASTER_WRONG');
  });

  it('exits 2 on a bad command line, with --json too', async () => {
    await tick();
    const r = cli(['user', 'add', '--data', data, '--json', '--role', 'auditor']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--username');
    await tick();
    expect(cli(['user', 'frobnicate', '--data', data]).code).toBe(2);
  });
});
