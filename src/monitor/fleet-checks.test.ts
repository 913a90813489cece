/**
 * Fleet audit checks on every dialect, over a real inventory and certificate table: one key on two
 * devices, one identity in two live sessions, expiring certificates, revoked identities still
 * connecting, weak keys (an RSA-1024 certificate imported from a legacy CA), devices never seen or
 * silent, devices without owner or location. Each finding is an alert with evidence.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { x509 } from '../pki/x509-setup.js';
import { describeEachDialect } from '../testing/dialects.js';
import { keyProblem, runFleetChecks } from './fleet-checks.js';
import { loadRules } from './rules.js';
import { type MonitorFixture, monitorFixture, SECURITY_VIEWER, T0 } from './test-fixture.js';

const DAY = 86_400_000;

async function certificate(cn: string, alg: 'ec' | 'rsa1024'): Promise<Buffer> {
  const params =
    alg === 'ec'
      ? { gen: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } }
      : {
          gen: {
            name: 'RSASSA-PKCS1-v1_5',
            modulusLength: 1024,
            publicExponent: new Uint8Array([1, 0, 1]),
            hash: 'SHA-256',
          },
          sign: { name: 'RSASSA-PKCS1-v1_5' },
        };
  const keys = (await crypto.subtle.generateKey(params.gen as never, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: createHash('sha256').update(cn).digest('hex').slice(0, 16),
    name: `CN=${cn}`,
    notBefore: new Date(T0 - DAY),
    notAfter: new Date(T0 + 365 * DAY),
    signingAlgorithm: params.sign as never,
    keys,
  });
  return Buffer.from(cert.rawData);
}

describeEachDialect('fleet audit checks', (open) => {
  let m: MonitorFixture;
  beforeEach(async () => {
    m = await monitorFixture(open, {
      devices: [
        { id: 'fleet-a' },
        { id: 'fleet-b' },
        { id: 'fleet-c' },
        { id: 'fleet-quiet' },
        { id: 'fleet-new' },
      ],
    });
    await m.devices.create({ id: 'fleet-orphan', type: 'other', vendor: 'Acme', model: 'X' });
    await m.t.store.db
      .updateTable('devices')
      .set({ lifecycle: 'active', last_seen_at: T0 - 60_000 })
      .execute();
    await m.t.store.db
      .updateTable('devices')
      .set({ last_seen_at: T0 - 3 * 3_600_000 })
      .where('id', '=', 'fleet-quiet')
      .execute();
    await m.t.store.db
      .updateTable('devices')
      .set({ last_seen_at: null, created_at: T0 - 2 * DAY })
      .where('id', '=', 'fleet-new')
      .execute();
    const row = (serial: string, device: string, der: Buffer, notAfter: number, key?: string) => ({
      serial,
      device_id: device,
      subject: `CN=${device}`,
      not_before: T0 - DAY,
      not_after: notAfter,
      public_key_sha256: key ?? createHash('sha256').update(der).digest('hex'),
      fingerprint_sha256: createHash('sha256').update(der).update(serial).digest('hex'),
      status: 'valid',
      revoked_at: null,
      revocation_reason: null,
      issued_at: T0 - DAY,
      der,
    });
    const ec = await certificate('fleet-a', 'ec');
    await m.t.store.db
      .insertInto('certificates')
      .values([
        row('a1', 'fleet-a', ec, T0 + 200 * DAY, 'shared-key-hash'),
        row('b1', 'fleet-b', await certificate('fleet-b', 'ec'), T0 + 10 * DAY, 'shared-key-hash'),
        row('c1', 'fleet-c', await certificate('fleet-c', 'rsa1024'), T0 + 200 * DAY),
      ])
      .execute();
  });
  afterEach(async () => {
    await m.cleanup();
  });

  it('finds each condition and raises an alert with evidence; a second run de-duplicates', async () => {
    // What the broker reported: fleet-a in two live sessions; revoked fleet-c still knocking.
    m.bus.emit('device.connected', {
      deviceId: 'fleet-a',
      clientId: 'one',
      address: '10.0.0.5',
      at: T0 - 5000,
      serial: 'a1',
    });
    m.bus.emit('device.connected', {
      deviceId: 'fleet-a',
      clientId: 'two',
      address: '10.0.0.5',
      at: T0 - 4000,
      serial: 'a1',
    });
    for (let i = 0; i < 3; i++)
      m.bus.emit('ingest.refused', {
        kind: 'connect',
        code: 'INGEST_CERT_REVOKED',
        deviceId: 'fleet-c',
        address: '10.0.0.9',
        topic: null,
        at: T0 - 1000 + i,
      });
    await m.settle();
    const opts = {
      store: m.t.store,
      sink: m.alerts,
      rules: () => loadRules(),
      detector: m.detector,
      certExpiryDays: 30,
    };
    const findings = await runFleetChecks(opts, T0);
    const got = findings.map((f) => `${f.rule} ${f.deviceId}`).sort();
    expect(got).toEqual(
      [
        'fleet.shared-key fleet-a',
        'fleet.shared-key fleet-b',
        'fleet.duplicate-session fleet-a',
        'fleet.cert-expiring fleet-b',
        'fleet.revoked-connecting fleet-c',
        'fleet.weak-key fleet-c',
        'fleet.silent fleet-quiet',
        'fleet.never-seen fleet-new',
        'fleet.no-owner fleet-orphan',
        'fleet.no-location fleet-orphan',
      ].sort(),
    );
    expect(findings.every((f) => f.outcome === 'created' && f.alertId)).toBe(true);
    const byRule = (rule: string) => findings.find((f) => f.rule === rule)!;
    expect(byRule('fleet.shared-key').evidence).toMatchObject({
      devices: ['fleet-a', 'fleet-b'],
      publicKeySha256: 'shared-key-hash',
    });
    expect(byRule('fleet.weak-key').evidence).toMatchObject({
      keyType: 'rsa',
      bits: 1024,
      minimumBits: 2048,
    });
    expect(byRule('fleet.cert-expiring').evidence).toMatchObject({ serial: 'b1', daysLeft: 10 });
    expect(byRule('fleet.revoked-connecting').evidence).toMatchObject({
      attempts: 3,
      codes: ['INGEST_CERT_REVOKED'],
      addresses: ['10.0.0.9'],
    });
    expect(byRule('fleet.silent').evidence).toMatchObject({ silentMinutes: 180, expectedWithinMinutes: 60 });
    expect((byRule('fleet.duplicate-session').evidence.sessions as unknown[]).length).toBe(2);
    const stored = await m.alerts.get(byRule('fleet.weak-key').alertId!, SECURITY_VIEWER);
    expect(stored).toMatchObject({
      category: 'security',
      severity: 'high',
      rule: 'fleet.weak-key',
      deviceId: 'fleet-c',
    });
    expect(stored.evidence).toMatchObject({ check: 'weak-key', serial: 'c1', bits: 1024 });

    const again = await runFleetChecks(opts, T0 + 60_000);
    // Refused identities are reported once per run (the counter starts over).
    expect(again.map((f) => f.rule)).not.toContain('fleet.revoked-connecting');
    expect(again.every((f) => f.outcome === 'deduplicated')).toBe(true);
    expect(await m.t.store.db.selectFrom('alerts').select('id').execute()).toHaveLength(findings.length);
  });

  it('judges keys: P-256 passes, RSA-1024 and an unlisted curve do not', async () => {
    const rules = loadRules();
    expect(keyProblem(await certificate('k1', 'ec'), rules)).toBeNull();
    expect(keyProblem(await certificate('k2', 'rsa1024'), rules)).toMatchObject({ bits: 1024 });
    const strict = { ...rules, fleet: { ...rules.fleet, allowedCurves: ['P-384'] } } as typeof rules;
    expect(keyProblem(await certificate('k3', 'ec'), strict)).toMatchObject({
      keyType: 'ec',
      curve: 'prime256v1',
    });
    expect(keyProblem(Buffer.from('not a certificate'), rules)).toEqual({
      problem: 'unparseable certificate',
    });
  });

  it('refuses an unknown check by code', async () => {
    const opts = { store: m.t.store, sink: m.alerts, rules: () => loadRules(), certExpiryDays: 30 };
    await expect(runFleetChecks(opts, T0, ['bogus'])).rejects.toMatchObject({
      code: 'MONITOR_CHECK_UNKNOWN',
    });
  });
});
