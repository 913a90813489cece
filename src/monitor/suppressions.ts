import { randomBytes } from 'node:crypto';
import type { AuditEventInput } from '../audit/index.js';
import { PulsegateError } from '../errors.js';
import { freeTextProblem } from '../free-text.js';
import type { Store } from '../store/index.js';
import type { AlertSuppressionsTable } from '../store/tables/monitor.js';
import type { AlertActor } from './alert-model.js';

export interface SuppressionView {
  id: string;
  rule: string | null;
  deviceId: string | null;
  reason: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
}

export interface NewSuppression {
  rule?: string | null;
  deviceId?: string | null;
  reason: string;
  /** ISO 8601; must be in the future. */
  expiresAt: string;
}

const view = (r: AlertSuppressionsTable): SuppressionView => ({
  id: r.id,
  rule: r.rule,
  deviceId: r.device_id,
  reason: r.reason,
  createdBy: r.created_by,
  createdAt: new Date(Number(r.created_at)).toISOString(),
  expiresAt: new Date(Number(r.expires_at)).toISOString(),
});

/** Longest suppression window: a forgotten suppression must not hide a device for ever. */
const MAX_WINDOW_MS = 90 * 86_400_000;
/** How long the in-memory copy is trusted (other nodes may add or remove suppressions). */
const REFRESH_MS = 5000;

/**
 * Suppression windows: while one matches (same rule or any, same device or any, not expired), a
 * report is not raised. The active set is small and kept in memory, refreshed every few seconds
 * and at once after a local change, so `matching` costs no query on most calls.
 */
export class Suppressions {
  readonly #store: Store;
  readonly #audit: { append(event: AuditEventInput): Promise<unknown> };
  readonly #now: () => number;
  #active: AlertSuppressionsTable[] = [];
  #loadedAt = Number.NEGATIVE_INFINITY;

  constructor(o: {
    store: Store;
    audit: { append(event: AuditEventInput): Promise<unknown> };
    now: () => number;
  }) {
    this.#store = o.store;
    this.#audit = o.audit;
    this.#now = o.now;
  }

  /** The id of a suppression covering this report at `at`, if any. */
  async matching(rule: string, deviceId: string | null, at: number): Promise<string | null> {
    const t = this.#now();
    if (t - this.#loadedAt > REFRESH_MS) await this.#refresh(t);
    for (const s of this.#active) {
      if (s.expires_at <= at) continue;
      if (s.rule !== null && s.rule !== rule) continue;
      if (s.device_id !== null && s.device_id !== deviceId) continue;
      return s.id;
    }
    return null;
  }

  async create(input: NewSuppression, actor: AlertActor): Promise<SuppressionView> {
    const t = this.#now();
    const expires = Date.parse(input.expiresAt);
    const rule = input.rule ?? null;
    const deviceId = input.deviceId ?? null;
    const reason = input.reason?.trim();
    if ((!rule && !deviceId) || !Number.isFinite(expires) || expires <= t || expires - t > MAX_WINDOW_MS)
      throw new PulsegateError('MONITOR_SUPPRESSION_INVALID');
    if (!reason) throw new PulsegateError('ALERT_REASON_REQUIRED');
    // Free text like every other reason: no control characters (a newline would forge lines in
    // syslog exports and logs), at most 500 characters rather than cut silently.
    const problem = freeTextProblem(reason, 500);
    if (problem) throw new PulsegateError('VALIDATION_FAILED', `reason ${problem}`);
    const row: AlertSuppressionsTable = {
      id: `su_${randomBytes(10).toString('base64url')}`,
      rule,
      device_id: deviceId,
      reason,
      created_by: actor.name,
      created_at: t,
      expires_at: expires,
    };
    await this.#store.db.insertInto('alert_suppressions').values(row).execute();
    this.#loadedAt = Number.NEGATIVE_INFINITY;
    await this.#audit.append({
      actor: actor.audit,
      action: 'alert.suppress',
      resource: { type: 'alert-suppression', id: row.id },
      outcome: 'success',
      reason: `${rule ?? '*'} on ${deviceId ?? '*'} until ${new Date(expires).toISOString()}`,
    });
    return view(row);
  }

  /** Suppressions not yet expired (all of them with `all`). */
  /**
   * Suppressions, active ones unless `all`. A care-unit limited viewer (`careUnits`) sees the
   * rule-wide ones and those of devices in its units, not other units' devices.
   */
  async list(all = false, careUnits?: readonly string[]): Promise<SuppressionView[]> {
    let q = this.#store.db.selectFrom('alert_suppressions').selectAll();
    if (!all) q = q.where('expires_at', '>', this.#now());
    if (careUnits) {
      const units = careUnits.length > 0 ? [...careUnits] : [''];
      q = q.where((eb) =>
        eb.or([
          eb('device_id', 'is', null),
          eb('device_id', 'in', eb.selectFrom('devices').select('id').where('care_unit', 'in', units)),
        ]),
      );
    }
    return (await q.orderBy('created_at', 'desc').limit(1000).execute()).map(view);
  }

  async remove(id: string, actor: AlertActor): Promise<void> {
    const r = await this.#store.db.deleteFrom('alert_suppressions').where('id', '=', id).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new PulsegateError('MONITOR_SUPPRESSION_NOT_FOUND');
    this.#loadedAt = Number.NEGATIVE_INFINITY;
    await this.#audit.append({
      actor: actor.audit,
      action: 'alert.unsuppress',
      resource: { type: 'alert-suppression', id },
      outcome: 'success',
    });
  }

  async #refresh(t: number): Promise<void> {
    const rows = await this.#store.db
      .selectFrom('alert_suppressions')
      .selectAll()
      .where('expires_at', '>', t - MAX_WINDOW_MS)
      .execute();
    this.#active = rows.map((r) => ({
      ...r,
      created_at: Number(r.created_at),
      expires_at: Number(r.expires_at),
    }));
    this.#loadedAt = t;
  }
}
