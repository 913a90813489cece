import type { EpochKeys, KeyService } from '../keys/index.js';
import type { Store } from '../store/index.js';
import { periodOf, TELEMETRY_PURPOSE } from './reading-codec.js';

/** What one retention run did. */
export interface RetentionReport {
  /** Readings observed before this time were deleted (ISO 8601). */
  cutoff: string;
  /** Data keys and period keys of periods before this one were destroyed. */
  shreddedBefore: string;
  deletedReadings: number;
  shreddedKeys: number;
  /** True when the period key chain moved on (a database copy of those periods became unreadable). */
  periodKeysDestroyed: boolean;
  /** What each follower forgot (by follower name). */
  followers: Record<string, RetentionFollowerReport>;
}

/** What a follower forgot in one run. */
export interface RetentionFollowerReport {
  /** Records whose patient data was removed. */
  cleared: number;
  shreddedKeys: number;
}

/**
 * Another holder of data derived from telemetry (a clinical alert's vital evidence and patient)
 * that forgets it on telemetry's schedule: same data class, same retention.
 */
export interface RetentionFollower {
  readonly name: string;
  /** Removes patient data of periods before `periodBefore` ('YYYY-MM') and shreds their keys. */
  expirePatientData(periodBefore: string): Promise<RetentionFollowerReport>;
}

export interface RetentionDeps {
  store: Store;
  keys: KeyService;
  epochs: EpochKeys;
  audit: {
    append(event: {
      actor: { type: 'system'; name: string };
      action: string;
      resource: { type: string; id?: string };
      outcome: 'success' | 'failure';
      reason?: string;
      code?: string;
    }): Promise<unknown>;
  };
  retentionDays: number;
  followers?: readonly RetentionFollower[];
}

/**
 * Deletes readings older than the retention period, then crypto-shreds every telemetry data key
 * whose period ended before the cutoff and destroys those periods' keys in the period key chain,
 * so no copy of the database can decrypt them any more; then each follower forgets its patient
 * data of those periods. Audited with counts only.
 */
export async function runRetention(deps: RetentionDeps, now: number): Promise<RetentionReport> {
  const cutoffMs = now - deps.retentionDays * 86_400_000;
  // A period ends before the cutoff exactly when it is earlier than the cutoff's own period.
  const shreddedBefore = periodOf(cutoffMs);
  const actor = { type: 'system' as const, name: 'retention' };
  try {
    const deleted = await deps.store.db
      .deleteFrom('telemetry_readings')
      .where('observed_at', '<', cutoffMs)
      .executeTakeFirst();
    // Duplicate detection needs receipts only as long as the readings they stand for exist.
    await deps.store.db.deleteFrom('ingest_receipts').where('received_at', '<', cutoffMs).execute();
    const shreddedKeys = await deps.keys.shred({ purpose: TELEMETRY_PURPOSE, periodBefore: shreddedBefore });
    const periodKeysDestroyed = await deps.epochs.shredBefore(shreddedBefore);
    const followers: Record<string, RetentionFollowerReport> = {};
    for (const f of deps.followers ?? []) followers[f.name] = await f.expirePatientData(shreddedBefore);
    const report: RetentionReport = {
      cutoff: new Date(cutoffMs).toISOString(),
      shreddedBefore,
      deletedReadings: Number(deleted.numDeletedRows),
      shreddedKeys,
      periodKeysDestroyed,
      followers,
    };
    const also = Object.entries(followers)
      .map(
        ([name, f]) => `; ${name}: patient data removed from ${f.cleared}, ${f.shreddedKeys} keys shredded`,
      )
      .join('');
    await deps.audit.append({
      actor,
      action: 'telemetry.retention',
      resource: { type: 'telemetry', id: shreddedBefore },
      outcome: 'success',
      reason: `deleted ${report.deletedReadings} readings before ${report.cutoff}; shredded ${shreddedKeys} data keys of periods before ${shreddedBefore}${also}`,
    });
    return report;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    await deps.audit.append({
      actor,
      action: 'telemetry.retention',
      resource: { type: 'telemetry', id: shreddedBefore },
      outcome: 'failure',
      ...(typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code) ? { code } : {}),
    });
    throw error;
  }
}
