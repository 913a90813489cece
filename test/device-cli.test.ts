/**
 * `pulsegate device ...` on a real installation (the built CLI, SQLite): register, list, show,
 * token, bind, quarantine and release; bad input gets `error CODE` with exit 1 and stores nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, tick } from './support/processes.js';

let dir: string;
let data: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pulsegate-device-cli-'));
  data = join(dir, 'd');
  const init = cli(['init', '--data', data]);
  expect(init.code, init.stderr).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface CliJson {
  device: { id: string; lifecycle: string };
  enrollmentToken: { token: string };
  certificates: unknown[];
  items: Array<{ id: string }>;
  token: string;
}
const json = (r: { stdout: string }) => JSON.parse(r.stdout) as CliJson;
const listIds = () => json(cli(['device', 'list', '--data', data, '--json'])).items.map((d) => d.id);

describe('pulsegate device', () => {
  it('registers, lists, shows and binds a device, and prints a one-time enrollment token', async () => {
    await tick();
    const add = cli([
      'device',
      'add',
      '--data',
      data,
      '--json',
      '--id',
      'pump-cli-01',
      '--type',
      'infusion-pump',
      '--vendor',
      'Acme',
      '--model',
      'P9',
      '--care-unit',
      'ICU',
      '--ip',
      '10.1.2.3',
      '--mac',
      'AA-BB-CC-DD-EE-FF',
      '--token',
    ]);
    expect(add.code, add.stderr).toBe(0);
    const out = json(add);
    expect(out.device).toMatchObject({
      id: 'pump-cli-01',
      type: 'infusion-pump',
      lifecycle: 'registered',
      macAddress: 'aa:bb:cc:dd:ee:ff',
    });
    expect(out.enrollmentToken.token).toMatch(/^\S{20,}$/);

    expect(listIds()).toEqual(['pump-cli-01']);
    await tick();
    const human = cli(['device', 'list', '--data', data, '--care-unit', 'ICU']);
    expect(human.stdout).toContain('pump-cli-01');
    await tick();
    const show = json(cli(['device', 'show', '--data', data, '--json', 'pump-cli-01']));
    expect(show.device.id).toBe('pump-cli-01');
    expect(show.certificates).toEqual([]);

    await tick();
    const bind = cli([
      'device',
      'bind',
      '--data',
      data,
      'pump-cli-01',
      '--patient',
      'MRN-CLI-7',
      '--until',
      '2030-01-01T00:00:00Z',
    ]);
    expect(bind.code, bind.stderr).toBe(0);
    expect(bind.stdout + bind.stderr).not.toContain('MRN-CLI-7');
    await tick();
    const token = json(cli(['device', 'token', '--data', data, '--json', 'pump-cli-01']));
    expect(token.token).not.toBe(out.enrollmentToken.token);
    // The identifier can come on standard input, out of the process list and shell history.
    const piped = cli(
      ['device', 'bind', '--data', data, 'pump-cli-01', '--patient', '-', '--from', '2030-01-01T00:00:00Z'],
      { USER: 'oncall' },
      'MRN-CLI-8\n',
    );
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout + piped.stderr).not.toContain('MRN-CLI-8');
    // Changes made from the command line are audited as the operator.
    const audit = cli(['audit', 'export', '--data', data]).stdout.split('\n').filter(Boolean);
    const byAction = (action: string) =>
      audit
        .map((l) => JSON.parse(l))
        .filter((e) => e.action?.[0]?.code === action || JSON.stringify(e).includes(`"${action}"`));
    expect(byAction('device.create').length).toBeGreaterThan(0);
    expect(audit.join('\n')).toContain('cli:oncall');
    expect(audit.join('\n')).not.toContain('MRN-CLI-');
  });

  it('quarantines with a reason and releases with a new enrollment token', async () => {
    await tick();
    const q = cli([
      'device',
      'quarantine',
      '--data',
      data,
      '--json',
      'pump-cli-01',
      '--reason',
      'suspicious traffic',
    ]);
    expect(q.code, q.stderr).toBe(0);
    expect(json(q).device.lifecycle).toBe('quarantined');
    await tick();
    const again = cli(['device', 'quarantine', '--data', data, 'pump-cli-01', '--reason', 'twice']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('RESPONSE_ALREADY_QUARANTINED');
    await tick();
    const token = cli(['device', 'token', '--data', data, 'pump-cli-01']);
    expect(token.code).toBe(1);
    expect(token.stderr).toContain('DEVICE_NOT_ENROLLABLE');
    await tick();
    const r = cli(['device', 'release', '--data', data, '--json', 'pump-cli-01', '--reason', 'cleared']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r).device.lifecycle).toBe('registered');
    expect(json(r).enrollmentToken.token).toMatch(/^\S{20,}$/);
  });

  it('refuses bad input with a stable code and stores nothing', async () => {
    const VM = ['--vendor', 'Acme', '--model', 'M1'];
    const cases: Array<[string[], string]> = [
      [['device', 'add', '--id', 'x1-bad', '--type', 'toaster', ...VM], 'VALIDATION_FAILED'],
      [
        ['device', 'add', '--id', 'x1-bad', '--type', 'other', '--ip', '999.1.1.1', ...VM],
        'VALIDATION_FAILED',
      ],
      [['device', 'add', '--id', "x1' OR 1=1--", '--type', 'other', ...VM], 'VALIDATION_FAILED'],
      [['device', 'add', '--id', 'x1-bad', '--type', 'other', '--mac', 'zz', ...VM], 'VALIDATION_FAILED'],
      [['device', 'add', '--id', 'pump-cli-01', '--type', 'other', ...VM], 'DEVICE_EXISTS'],
      [
        ['device', 'add', '--id', 'x1-bad', '--type', 'other', '--eui64', 'not-an-eui', ...VM],
        'VALIDATION_FAILED',
      ],
      [['device', 'show', 'no-such-device'], 'DEVICE_NOT_FOUND'],
      [['device', 'revoke', 'pump-cli-01', '--reason', 'keyCompromise'], 'PKI_CERT_NOT_FOUND'],
      [['device', 'revoke', 'pump-cli-01', '--reason', 'because'], 'VALIDATION_FAILED'],
      [['device', 'bind', 'no-such-device', '--patient', 'MRN-1'], 'DEVICE_NOT_FOUND'],
      [['device', 'bind', 'pump-cli-01', '--patient', 'MRN-1', '--from', 'yesterday'], 'VALIDATION_FAILED'],
      [['device', 'quarantine', 'pump-cli-01', '--reason', '  '], 'RESPONSE_REASON_REQUIRED'],
      [['device', 'release', 'pump-cli-01', '--reason', 'x'], 'RESPONSE_NOT_QUARANTINED'],
      [['device', 'list', '--limit', '0'], 'VALIDATION_FAILED'],
    ];
    await tick();
    const before = cli(['device', 'show', '--data', data, '--json', 'pump-cli-01']).stdout;
    for (const [args, code] of cases) {
      await tick(); // let the worker answer Vitest between blocking CLI runs
      const r = cli([...args.slice(0, 2), '--data', data, ...args.slice(2)]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toContain(`error ${code}`);
    }
    expect(listIds()).toEqual(['pump-cli-01']);
    await tick();
    expect(cli(['device', 'show', '--data', data, '--json', 'pump-cli-01']).stdout).toBe(before);
  });

  it('refuses a date-time that is not RFC 3339 and a list filter outside its enumeration; stores nothing', () => {
    const binds = () =>
      (cli(['audit', 'export', '--data', data]).stdout.match(/"patient\.bind"/g) ?? []).length;
    const before = binds();
    const bind = ['device', 'bind', '--data', data, 'pump-cli-01', '--patient', 'MRN-1'];
    // Date.parse read `1` as 2001-01-01 and rolled 30 February over into March.
    for (const args of [
      ['--from', '1'],
      ['--until', '2024-02-30T00:00:00Z'],
      ['--until', '2031-01-01'],
      ['--from', ''],
    ]) {
      const r = cli([...bind, ...args]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toContain('error VALIDATION_FAILED');
      expect(r.stderr).toContain('RFC 3339');
    }
    expect(binds()).toBe(before);
    // A filter value outside its enumeration is an error, not an empty list.
    for (const [option, value, allowed] of [
      ['--type', 'toaster', 'infusion-pump'],
      ['--lifecycle', 'zombie', 'quarantined'],
    ]) {
      const r = cli(['device', 'list', '--data', data, option!, value!]);
      expect(r.code, option).toBe(1);
      expect(r.stderr).toContain(`error VALIDATION_FAILED: ${option} must be one of`);
      expect(r.stderr).toContain(allowed);
    }
    expect(
      json(cli(['device', 'list', '--data', data, '--json', '--type', 'infusion-pump'])).items,
    ).toHaveLength(1);
  }, 120_000);
});
