import { X509Certificate } from 'node:crypto';
import { PulsegateError } from '../errors.js';
import type { Store } from '../store/index.js';
import type { BehaviourDetector } from './behaviour-detector.js';
import type { AlertSink, RaiseResult } from './contracts.js';
import type { MonitorRules, RuleName } from './rules.js';

export const FLEET_CHECKS = [
  'shared-key',
  'duplicate-session',
  'cert-expiring',
  'revoked-connecting',
  'weak-key',
  'silent',
  'no-owner-location',
] as const;
export type FleetCheck = (typeof FLEET_CHECKS)[number];

/** One finding of a check and what the alert store did with it. */
export interface FleetFinding {
  check: FleetCheck;
  rule: RuleName;
  deviceId: string | null;
  title: string;
  evidence: Record<string, unknown>;
  outcome?: RaiseResult['outcome'] | 'off';
  alertId?: string;
}

export interface FleetCheckOptions {
  store: Store;
  sink: AlertSink;
  rules: () => MonitorRules;
  /** Live sessions and refused identities, known only to a node that runs the broker. */
  detector?: BehaviourDetector;
  certExpiryDays: number;
}

/** Lifecycles whose devices are expected to be in service. */
const IN_SERVICE = ['enrolled', 'active'];
const DAY = 86_400_000;

/**
 * Fleet audit checks, run on a schedule and on demand: one key on two devices, one identity in
 * two live sessions, certificates close to expiry, revoked identities still trying to connect,
 * weak keys, devices never seen or silent past their expected interval, devices without owner
 * or location. Each finding raises an alert with its evidence (de-duplicated while open).
 */
export async function runFleetChecks(
  o: FleetCheckOptions,
  at: number,
  only: readonly string[] = FLEET_CHECKS,
): Promise<FleetFinding[]> {
  for (const c of only)
    if (!(FLEET_CHECKS as readonly string[]).includes(c))
      throw new PulsegateError('MONITOR_CHECK_UNKNOWN', `unknown check ${c}`);
  const rules = o.rules();
  const findings: FleetFinding[] = [];
  const add = (f: FleetFinding) => findings.push(f);
  const db = o.store.db;

  if (only.includes('shared-key')) {
    const rows = await db
      .selectFrom('certificates')
      .select(['public_key_sha256', 'device_id', 'serial'])
      .where('status', '=', 'valid')
      .where('not_after', '>', at)
      .execute();
    const byKey = new Map<string, Array<{ device_id: string; serial: string }>>();
    for (const r of rows) {
      const list = byKey.get(r.public_key_sha256) ?? [];
      list.push(r);
      byKey.set(r.public_key_sha256, list);
    }
    for (const [key, list] of byKey) {
      const devices = [...new Set(list.map((r) => r.device_id))].sort();
      if (devices.length < 2) continue;
      for (const deviceId of devices)
        add({
          check: 'shared-key',
          rule: 'fleet.shared-key',
          deviceId,
          title: 'One key pair is used by several devices',
          evidence: { publicKeySha256: key, devices, serials: list.map((r) => r.serial) },
        });
    }
  }

  if (only.includes('duplicate-session'))
    for (const d of o.detector?.duplicateSessions() ?? [])
      add({
        check: 'duplicate-session',
        rule: 'fleet.duplicate-session',
        deviceId: d.deviceId,
        title: 'One device identity holds two live sessions',
        evidence: {
          sessions: d.sessions.map((s) => ({
            clientId: s.clientId,
            address: s.address,
            serial: s.serial,
            since: new Date(s.at).toISOString(),
          })),
        },
      });

  if (only.includes('cert-expiring')) {
    const rows = await db
      .selectFrom('certificates')
      .innerJoin('devices', 'devices.id', 'certificates.device_id')
      .select(['certificates.device_id', 'certificates.serial', 'certificates.not_after'])
      .where('certificates.status', '=', 'valid')
      .where('certificates.not_after', '>', at)
      .where('certificates.not_after', '<=', at + o.certExpiryDays * DAY)
      .where('devices.lifecycle', 'in', IN_SERVICE)
      .execute();
    for (const r of rows)
      add({
        check: 'cert-expiring',
        rule: 'fleet.cert-expiring',
        deviceId: r.device_id,
        title: `Device certificate expires within ${o.certExpiryDays} days`,
        evidence: {
          serial: r.serial,
          notAfter: new Date(Number(r.not_after)).toISOString(),
          daysLeft: Math.floor((Number(r.not_after) - at) / DAY),
        },
      });
  }

  if (only.includes('revoked-connecting') && o.detector) {
    for (const [deviceId, r] of o.detector.refusedIdentities)
      add({
        check: 'revoked-connecting',
        rule: 'fleet.revoked-connecting',
        deviceId,
        title: 'A revoked or out-of-service identity keeps trying to connect',
        evidence: {
          attempts: r.count,
          codes: r.codes,
          addresses: r.addresses,
          first: new Date(r.firstAt).toISOString(),
          last: new Date(r.lastAt).toISOString(),
        },
      });
    o.detector.refusedIdentities.clear();
  }

  if (only.includes('weak-key')) {
    const rows = await db
      .selectFrom('certificates')
      .select(['device_id', 'serial', 'der'])
      .where('status', '=', 'valid')
      .where('not_after', '>', at)
      .execute();
    for (const r of rows) {
      const problem = keyProblem(Buffer.from(r.der), rules);
      if (problem)
        add({
          check: 'weak-key',
          rule: 'fleet.weak-key',
          deviceId: r.device_id,
          title: 'Device certificate uses a weak key',
          evidence: { serial: r.serial, ...problem },
        });
    }
  }

  if (only.includes('silent')) {
    const rows = await db
      .selectFrom('devices')
      .select(['id', 'type', 'last_seen_at', 'created_at'])
      .where('lifecycle', 'in', IN_SERVICE)
      .execute();
    for (const d of rows) {
      if (d.last_seen_at === null) {
        if (Number(d.created_at) <= at - rules.fleet.neverSeenGraceHours * 3_600_000)
          add({
            check: 'silent',
            rule: 'fleet.never-seen',
            deviceId: d.id,
            title: 'Enrolled device has never sent data',
            evidence: {
              registeredAt: new Date(Number(d.created_at)).toISOString(),
              graceHours: rules.fleet.neverSeenGraceHours,
            },
          });
        continue;
      }
      const minutes = rules.fleet.silentAfterMinutesByType?.[d.type] ?? rules.fleet.silentAfterMinutes;
      if (Number(d.last_seen_at) <= at - minutes * 60_000)
        add({
          check: 'silent',
          rule: 'fleet.silent',
          deviceId: d.id,
          title: 'Device is silent past its expected interval',
          evidence: {
            lastSeenAt: new Date(Number(d.last_seen_at)).toISOString(),
            silentMinutes: Math.floor((at - Number(d.last_seen_at)) / 60_000),
            expectedWithinMinutes: minutes,
          },
        });
    }
  }

  if (only.includes('no-owner-location')) {
    const rows = await db
      .selectFrom('devices')
      .select(['id', 'owner', 'care_unit'])
      .where('lifecycle', '!=', 'retired')
      .where((eb) =>
        eb.or([
          eb('owner', 'is', null),
          eb('owner', '=', ''),
          eb('care_unit', 'is', null),
          eb('care_unit', '=', ''),
        ]),
      )
      .execute();
    for (const d of rows) {
      if (!d.owner)
        add({
          check: 'no-owner-location',
          rule: 'fleet.no-owner',
          deviceId: d.id,
          title: 'Device has no owner',
          evidence: { missing: 'owner' },
        });
      if (!d.care_unit)
        add({
          check: 'no-owner-location',
          rule: 'fleet.no-location',
          deviceId: d.id,
          title: 'Device has no location (care unit)',
          evidence: { missing: 'careUnit' },
        });
    }
  }

  const careUnits = await careUnitsOf(o.store, findings);
  for (const f of findings) {
    const severity = rules.severity(f.rule);
    if (!severity) {
      f.outcome = 'off';
      continue;
    }
    const r = await o.sink.raise({
      category: 'security',
      severity,
      rule: f.rule,
      title: f.title,
      deviceId: f.deviceId,
      careUnit: f.deviceId ? (careUnits.get(f.deviceId) ?? null) : null,
      evidence: { ...f.evidence, check: f.check },
      dedupKey: `${f.rule}:${f.deviceId ?? '-'}`,
      at,
    });
    f.outcome = r.outcome;
    if (r.outcome !== 'suppressed') f.alertId = r.alertId;
  }
  return findings;
}

async function careUnitsOf(store: Store, findings: FleetFinding[]): Promise<Map<string, string | null>> {
  const ids = [...new Set(findings.map((f) => f.deviceId).filter((d): d is string => d !== null))];
  const out = new Map<string, string | null>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await store.db
      .selectFrom('devices')
      .select(['id', 'care_unit'])
      .where('id', 'in', ids.slice(i, i + 500))
      .execute();
    for (const r of rows) out.set(r.id, r.care_unit);
  }
  return out;
}

/** What is weak about a certificate's key, or null (RSA below the minimum, an unlisted curve, DSA). */
export function keyProblem(der: Buffer, rules: MonitorRules): Record<string, unknown> | null {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    return { problem: 'unparseable certificate' };
  }
  const key = cert.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
      return (details.modulusLength ?? 0) < rules.fleet.minRsaBits
        ? { keyType: key.asymmetricKeyType, bits: details.modulusLength, minimumBits: rules.fleet.minRsaBits }
        : null;
    case 'ec':
      return rules.fleet.allowedCurves.includes(details.namedCurve ?? '')
        ? null
        : { keyType: 'ec', curve: details.namedCurve ?? 'unknown', allowedCurves: rules.fleet.allowedCurves };
    case 'ed25519':
    case 'ed448':
      return null;
    default:
      return { keyType: key.asymmetricKeyType ?? 'unknown' };
  }
}
