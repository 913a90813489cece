/**
 * Small real implementations of the ingest ports for tests that run before (or without) the
 * pki and telemetry capabilities: an identity verifier that checks the certificate against the
 * issuing CA plus revoked and quarantined sets, and a telemetry sink that validates the payload
 * and writes it durably into its own SQLite file (better-sqlite3, WAL, synchronous=FULL).
 */
import { X509Certificate } from 'node:crypto';
import Database from 'better-sqlite3';
import { PulsegateError } from '../../src/errors.js';
import type {
  DeviceIdentity,
  DeviceIdentityVerifier,
  IngestMessage,
  IngestOutcome,
  PeerCertificate,
  TelemetrySink,
} from '../../src/ingest/index.js';

/** Identity from the certificate: CN is the device id; revoked serials and quarantined devices refused. */
export class TestIdentityVerifier implements DeviceIdentityVerifier {
  readonly revoked = new Set<string>();
  readonly quarantined = new Set<string>();
  readonly #issuer: X509Certificate;

  constructor(issuingCaPem: string | Buffer) {
    this.#issuer = new X509Certificate(issuingCaPem);
  }

  async identify(peer: PeerCertificate): Promise<DeviceIdentity> {
    const cert = new X509Certificate(peer.raw);
    if (!cert.checkIssued(this.#issuer) || !cert.verify(this.#issuer.publicKey))
      throw new PulsegateError('INGEST_CERT_INVALID');
    const notAfter = Date.parse(cert.validTo);
    if (notAfter < Date.now() || Date.parse(cert.validFrom) > Date.now())
      throw new PulsegateError('INGEST_CERT_EXPIRED');
    const serial = cert.serialNumber.toLowerCase().replace(/^0+/, '');
    if (this.revoked.has(serial)) throw new PulsegateError('INGEST_CERT_REVOKED');
    const deviceId = /CN=([^\n,]+)/.exec(cert.subject)?.[1];
    if (!deviceId) throw new PulsegateError('INGEST_CERT_INVALID');
    if (this.quarantined.has(deviceId)) throw new PulsegateError('INGEST_DEVICE_NOT_ACTIVE');
    return { deviceId, serial, notAfter };
  }
}

interface Payload {
  seq: number;
  ts: string;
  observations: Array<{ code: { system: string; code: string }; value: number; unit: string }>;
}

function validate(payload: unknown): payload is Payload {
  const p = payload as Payload;
  return (
    typeof p === 'object' &&
    p !== null &&
    Number.isInteger(p.seq) &&
    p.seq >= 0 &&
    typeof p.ts === 'string' &&
    Array.isArray(p.observations) &&
    p.observations.length > 0 &&
    p.observations.every(
      (o) => typeof o?.value === 'number' && typeof o.unit === 'string' && typeof o.code?.code === 'string',
    )
  );
}

/** Validates and stores each message (one transaction per call); a replayed `seq` is refused. */
export class SqliteTestSink implements TelemetrySink {
  readonly db: Database.Database;
  calls = 0;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(
      'create table if not exists telemetry (device_id text not null, seq integer not null, kind text not null, source text not null, observations integer not null, primary key (device_id, kind, seq))',
    );
  }

  async ingest(messages: readonly IngestMessage[]): Promise<IngestOutcome[]> {
    this.calls++;
    const insert = this.db.prepare(
      'insert or ignore into telemetry (device_id, seq, kind, source, observations) values (?, ?, ?, ?, ?)',
    );
    const run = this.db.transaction((batch: readonly IngestMessage[]) =>
      batch.map((m): IngestOutcome => {
        let payload: unknown;
        try {
          payload = JSON.parse(m.payload.toString('utf8'));
        } catch {
          return { ok: false, code: 'TELEMETRY_INVALID_JSON' };
        }
        if (!validate(payload)) return { ok: false, code: 'TELEMETRY_SCHEMA' };
        const r = insert.run(m.deviceId, payload.seq, m.kind, m.source, payload.observations.length);
        if (r.changes === 0) return { ok: false, code: 'TELEMETRY_REPLAY' };
        return { ok: true, stored: payload.observations.length, flagged: 0 };
      }),
    );
    return run(messages);
  }

  seqs(deviceId: string): number[] {
    return (
      this.db.prepare('select seq from telemetry where device_id = ? order by seq').all(deviceId) as Array<{
        seq: number;
      }>
    ).map((r) => r.seq);
  }

  count(deviceId?: string): number {
    const row = (
      deviceId
        ? this.db.prepare('select count(*) as n from telemetry where device_id = ?').get(deviceId)
        : this.db.prepare('select count(*) as n from telemetry').get()
    ) as { n: number };
    return row.n;
  }

  close(): void {
    this.db.close();
  }
}

/** A telemetry payload as the simulator sends it (src/sim/sim-device.ts). */
export function vitals(seq: number, heartRate = 72): string {
  return JSON.stringify({
    seq,
    ts: new Date().toISOString(),
    observations: [{ code: { system: 'LOINC', code: '8867-4' }, value: heartRate, unit: '/min' }],
  });
}
