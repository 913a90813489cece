import { randomBytes } from 'node:crypto';
import type { AuditEventInput } from '../audit/index.js';
import { PulsegateError } from '../errors.js';
import type { EventBus } from '../events/index.js';
import { freeTextProblem } from '../free-text.js';
import { type KeyService, periodOf } from '../keys/index.js';
import { PATIENT_INDEX_PURPOSE } from '../patients/index.js';
import type { Database, Store, Transaction } from '../store/index.js';
import type { AlertHistoryTable, AlertsTable } from '../store/tables/monitor.js';
import {
  type AlertActor,
  type AlertView,
  type AlertViewer,
  alertEvent,
  alertView,
  type IncidentView,
  isCategory,
  isSeverity,
  maxSeverity,
  SYSTEM_ACTOR,
} from './alert-model.js';
import type { AlertSeverity, AlertSink, NewAlert, RaiseResult } from './contracts.js';
import { Incidents } from './incidents.js';
import { Suppressions } from './suppressions.js';

export interface AlertStoreOptions {
  store: Store;
  keys: KeyService;
  audit: { append(event: AuditEventInput): Promise<unknown> };
  bus: EventBus;
  now?: () => number;
  /** Alerts of one device (or one rule) within this window are grouped into an incident. */
  incidentWindowMs: number;
  /** Per severity: escalate an unacknowledged alert after this long (0 = never). */
  escalateAfterMs: Record<AlertSeverity, number>;
  maxEscalationLevel: number;
}

export interface AlertQuery {
  state?: string;
  severity?: string;
  category?: string;
  deviceId?: string;
  since?: string;
  limit?: number;
  cursor?: string;
}

/** The changes people make to an alert, and the states each may start from. */
const TRANSITIONS = {
  acknowledged: { from: ['open'], action: 'alert.acknowledge', needsReason: false },
  resolved: { from: ['open', 'acknowledged'], action: 'alert.resolve', needsReason: true },
  'false-positive': { from: ['open', 'acknowledged'], action: 'alert.false-positive', needsReason: true },
} as const;
export type AlertChange = keyof typeof TRANSITIONS;

const RULE = /^[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$/;
const LOCK = 'monitor-alerts';
const SEAL_PURPOSE = 'alert';
/** The evidence of an alert whose patient data retention removed. */
const EXPIRED_EVIDENCE = JSON.stringify({ removed: 'patient data past its retention period' });
const newId = (prefix: string) => `${prefix}${randomBytes(10).toString('base64url')}`;
const sealAad = (dedupKey: string, patientIndex: string) =>
  Buffer.from(`alerts|${dedupKey}|${patientIndex}`, 'utf8');
/** The key subject of people's reasons in alert history (one data key per month, shredded by retention). */
const REASON_SUBJECT = 'alert-history';
const reasonAad = (historyId: string, alertId: string) =>
  Buffer.from(`alert_history|${historyId}|${alertId}`, 'utf8');
/** A person's reason: required where the change needs one, at most this many characters. */
export const MAX_ALERT_REASON = 500;

function checkNewAlert(a: NewAlert): void {
  const fields: Array<{ pointer: string; problem: string }> = [];
  if (!isCategory(a?.category)) fields.push({ pointer: '/category', problem: 'unknown category' });
  if (!isSeverity(a?.severity)) fields.push({ pointer: '/severity', problem: 'unknown severity' });
  if (typeof a?.rule !== 'string' || a.rule.length > 100 || !RULE.test(a.rule))
    fields.push({ pointer: '/rule', problem: 'must be a dotted rule name' });
  if (typeof a?.title !== 'string' || a.title.length === 0 || a.title.length > 300)
    fields.push({ pointer: '/title', problem: 'must be 1-300 characters' });
  if (typeof a?.dedupKey !== 'string' || a.dedupKey.length === 0 || a.dedupKey.length > 300)
    fields.push({ pointer: '/dedupKey', problem: 'must be 1-300 characters' });
  if (!Number.isFinite(a?.at)) fields.push({ pointer: '/at', problem: 'must be epoch milliseconds' });
  if (typeof a?.evidence !== 'object' || a.evidence === null || Array.isArray(a.evidence))
    fields.push({ pointer: '/evidence', problem: 'must be an object' });
  if (fields.length > 0) throw new PulsegateError('VALIDATION_FAILED', 'the alert is not valid', { fields });
}

/**
 * The durable alert store: the `AlertSink` every detector raises into, and the lifecycle behind
 * the alerts API. Every write runs in one transaction under the `monitor-alerts` lock, so two
 * nodes sharing PostgreSQL never open two alerts with one de-duplication key (the `open_key`
 * unique column is the second line). Bus events follow the commit.
 */
export class AlertStore implements AlertSink {
  readonly suppressions: Suppressions;
  readonly incidents: Incidents;
  readonly #o: AlertStoreOptions;
  readonly #now: () => number;

  constructor(options: AlertStoreOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.suppressions = new Suppressions({ store: options.store, audit: options.audit, now: this.#now });
    this.incidents = new Incidents({ store: options.store, windowMs: options.incidentWindowMs });
  }

  async raise(alert: NewAlert): Promise<RaiseResult> {
    checkNewAlert(alert);
    const suppression = await this.suppressions.matching(alert.rule, alert.deviceId, alert.at);
    if (suppression) return { outcome: 'suppressed', suppressionId: suppression };
    const { keys, store, bus } = this.#o;
    // Patient data is sealed before the transaction: the key service may need the database.
    const patientId = alert.patientId ?? null;
    const patientIndex = patientId ? keys.blindIndex(PATIENT_INDEX_PURPOSE, patientId) : null;
    const period = periodOf(alert.at);
    let sealed: Buffer | null = null;
    if (patientIndex) {
      sealed = await keys.encrypt(
        { purpose: SEAL_PURPOSE, subject: patientIndex, period },
        Buffer.from(JSON.stringify({ patientId, evidence: alert.evidence }), 'utf8'),
        sealAad(alert.dedupKey, patientIndex),
      );
    }
    const evidence = sealed ? null : JSON.stringify(alert.evidence);
    const t = this.#now();
    const result = await store.db.transaction().execute(async (trx) => {
      await store.lock(trx, LOCK);
      let open = await trx
        .selectFrom('alerts')
        .selectAll()
        .where('open_key', '=', alert.dedupKey)
        .executeTakeFirst();
      if (open && open.care_unit !== alert.careUnit) {
        // The condition is now reported from another care unit (the patient moved): never merged
        // across units, or the first unit would go on reading the patient's new evidence and the
        // new unit would never see the alert. The open one stays with its unit as it was; the
        // condition opens afresh in the new unit.
        await trx
          .updateTable('alerts')
          .set({ open_key: null, updated_at: t })
          .where('id', '=', open.id)
          .execute();
        open = undefined;
      }
      if (open) {
        const row: AlertsTable = {
          ...open,
          count: Number(open.count) + 1,
          severity: maxSeverity(open.severity, alert.severity),
          last_seen_at: Math.max(Number(open.last_seen_at), alert.at),
          evidence,
          sealed,
          patient_index: patientIndex,
          key_period: sealed ? period : null,
          updated_at: t,
        };
        await trx
          .updateTable('alerts')
          .set({
            count: row.count,
            severity: row.severity,
            last_seen_at: row.last_seen_at,
            evidence,
            sealed,
            patient_index: patientIndex,
            key_period: row.key_period,
            updated_at: t,
          })
          .where('id', '=', open.id)
          .execute();
        return { row, created: false, grouped: [] as AlertsTable[] };
      }
      const row: AlertsTable = {
        id: newId('al_'),
        category: alert.category,
        severity: alert.severity,
        rule: alert.rule,
        title: alert.title,
        device_id: alert.deviceId,
        care_unit: alert.careUnit,
        patient_index: patientIndex,
        evidence,
        sealed,
        key_period: sealed ? period : null,
        state: 'open',
        count: 1,
        first_seen_at: alert.at,
        last_seen_at: alert.at,
        incident_id: null,
        escalation_level: 0,
        escalated_at: null,
        dedup_key: alert.dedupKey,
        open_key: alert.dedupKey,
        updated_at: t,
      };
      await trx.insertInto('alerts').values(row).execute();
      await this.#history(trx, row.id, 'created', SYSTEM_ACTOR, null, t);
      const grouped = await this.incidents.group(trx, row, t);
      return { row, created: true, grouped };
    });
    const { row, created } = result;
    bus.emit('alert.raised', alertEvent(row, created ? 'created' : 'deduplicated', 'system', alert.at));
    for (const other of result.grouped) bus.emit('alert.updated', alertEvent(other, 'grouped', 'system', t));
    return { outcome: created ? 'created' : 'deduplicated', alertId: row.id };
  }

  /** One alert with evidence and history; patient data only when the viewer may read it (audited). */
  async get(id: string, viewer: AlertViewer): Promise<AlertView> {
    const row = await this.#o.store.db
      .selectFrom('alerts')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row || !this.#visible(row, viewer)) throw new PulsegateError('ALERT_NOT_FOUND');
    const history = await this.#o.store.db
      .selectFrom('alert_history')
      .selectAll()
      .where('alert_id', '=', id)
      .orderBy('at')
      .orderBy('id')
      .execute();
    const view = alertView(row);
    const [opened] = await this.#openPatientData([row], viewer);
    view.evidence = row.sealed ? (opened?.evidence ?? { restricted: true }) : parseEvidence(row.evidence);
    if (opened) view.patientId = opened.patientId;
    const reasons = await this.#openReasons(row, history, viewer);
    view.history = history.map((h, i) => ({
      change: h.change,
      actor: h.actor,
      reason: reasons[i] ?? h.reason,
      ...(h.reason_sealed && reasons[i] === undefined ? { restricted: true } : {}),
      at: new Date(Number(h.at)).toISOString(),
    }));
    return view;
  }

  /** Newest first (by first report), keyset-paged; care-unit-limited viewers see their units' clinical and technical alerts. */
  async list(query: AlertQuery, viewer: AlertViewer): Promise<{ items: AlertView[]; next: string | null }> {
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
    let q = this.#o.store.db.selectFrom('alerts').selectAll();
    if (query.state) q = q.where('state', '=', query.state);
    if (query.severity) q = q.where('severity', '=', query.severity);
    if (query.category) q = q.where('category', '=', query.category);
    if (query.deviceId) q = q.where('device_id', '=', query.deviceId);
    if (query.since) q = q.where('last_seen_at', '>=', Date.parse(query.since));
    if (viewer.careUnits) {
      const units = [...viewer.careUnits];
      if (units.length === 0) return { items: [], next: null };
      q = q.where('category', 'in', ['clinical', 'technical']).where('care_unit', 'in', units);
    }
    if (query.cursor) {
      const [at, id] = decodeCursor(query.cursor);
      q = q.where((eb) =>
        eb.or([eb('first_seen_at', '<', at), eb.and([eb('first_seen_at', '=', at), eb('id', '<', id)])]),
      );
    }
    const rows = await q
      .orderBy('first_seen_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
    const page = rows.slice(0, limit);
    const opened = await this.#openPatientData(page, viewer);
    const items = page.map((row, i) => {
      const v = alertView(row);
      if (opened[i]) v.patientId = opened[i].patientId;
      return v;
    });
    const last = page[page.length - 1];
    const next = rows.length > limit && last ? encodeCursor(Number(last.first_seen_at), last.id) : null;
    return { items, next };
  }

  /** Acknowledge, resolve or mark false positive; audited, announced as `alert.updated`. */
  async change(
    id: string,
    change: AlertChange,
    actor: AlertActor,
    reason: string | null,
    viewer: AlertViewer,
  ): Promise<AlertView> {
    const rule = TRANSITIONS[change];
    const why = reason?.trim() ? reason.trim() : null;
    if (rule.needsReason && !why) throw new PulsegateError('ALERT_REASON_REQUIRED');
    const problem = why === null ? undefined : freeTextProblem(why, MAX_ALERT_REASON);
    if (problem) throw new PulsegateError('VALIDATION_FAILED', `reason ${problem}`);
    const { store, bus, audit, keys } = this.#o;
    const checked = (current: AlertsTable | undefined): AlertsTable => {
      if (!current || !this.#visible(current, viewer)) throw new PulsegateError('ALERT_NOT_FOUND');
      if (!(rule.from as readonly string[]).includes(current.state))
        throw new PulsegateError('ALERT_STATE_INVALID', `the alert is ${current.state}`);
      return current;
    };
    // Refusals are decided before the reason is sealed, so a refused change touches no key; the
    // transaction checks again. Sealing runs outside it (the key service may need the database).
    checked(await store.db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst());
    const t = this.#now();
    const historyId = newId('ah_');
    const period = periodOf(t);
    const sealedReason = why
      ? await keys.encrypt(
          { purpose: SEAL_PURPOSE, subject: REASON_SUBJECT, period },
          Buffer.from(why, 'utf8'),
          reasonAad(historyId, id),
        )
      : null;
    const { row, incidentClosed } = await store.db.transaction().execute(async (trx) => {
      await store.lock(trx, LOCK);
      const current = checked(
        await trx.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst(),
      );
      const closes = change !== 'acknowledged';
      const row: AlertsTable = {
        ...current,
        state: change,
        open_key: closes ? null : current.open_key,
        updated_at: t,
      };
      await trx
        .updateTable('alerts')
        .set({ state: row.state, open_key: row.open_key, updated_at: t })
        .where('id', '=', id)
        .execute();
      await trx
        .insertInto('alert_history')
        .values({
          id: historyId,
          alert_id: id,
          change,
          actor: actor.name,
          reason: null,
          reason_sealed: sealedReason,
          reason_period: sealedReason ? period : null,
          at: t,
        })
        .execute();
      const incidentClosed =
        closes && row.incident_id ? await this.incidents.closeIfDone(trx, row.incident_id, t) : false;
      return { row, incidentClosed };
    });
    bus.emit('alert.updated', alertEvent(row, change, actor.id, t));
    await audit.append({
      actor: actor.audit,
      action: rule.action,
      resource: { type: 'alert', id },
      outcome: 'success',
      // The reason may name a patient: it is sealed in the alert's history, not written here.
      ...(actor.breakGlass ? { breakGlass: true } : {}),
    });
    if (incidentClosed)
      await audit.append({
        actor: actor.audit,
        action: 'incident.resolve',
        resource: { type: 'incident', id: row.incident_id! },
        outcome: 'success',
        reason: `last open alert ${id} closed`,
      });
    return this.get(id, viewer);
  }

  /**
   * Escalates unacknowledged (still `open`) alerts whose severity's delay has passed since they
   * were raised or last escalated, up to the maximum level. Returns how many were escalated.
   */
  async escalate(now: number = this.#now()): Promise<number> {
    const { store, bus } = this.#o;
    const escalated: AlertsTable[] = [];
    await store.db.transaction().execute(async (trx) => {
      await store.lock(trx, LOCK);
      for (const [severity, delay] of Object.entries(this.#o.escalateAfterMs)) {
        if (!(delay > 0)) continue;
        const due = await trx
          .selectFrom('alerts')
          .selectAll()
          .where('state', '=', 'open')
          .where('severity', '=', severity)
          .where('escalation_level', '<', this.#o.maxEscalationLevel)
          .where((eb) =>
            eb.or([
              eb.and([eb('escalated_at', 'is', null), eb('first_seen_at', '<=', now - delay)]),
              eb('escalated_at', '<=', now - delay),
            ]),
          )
          .limit(1000)
          .execute();
        for (const a of due) {
          const row = {
            ...a,
            escalation_level: Number(a.escalation_level) + 1,
            escalated_at: now,
            updated_at: now,
          };
          await trx
            .updateTable('alerts')
            .set({ escalation_level: row.escalation_level, escalated_at: now, updated_at: now })
            .where('id', '=', a.id)
            .execute();
          await this.#history(trx, a.id, 'escalated', SYSTEM_ACTOR, `level ${row.escalation_level}`, now);
          escalated.push(row);
        }
      }
    });
    for (const row of escalated) bus.emit('alert.updated', alertEvent(row, 'escalated', 'system', now));
    return escalated.length;
  }

  /** Runs `escalate` every `intervalMs`; returns the stop function. */
  startEscalation(intervalMs: number, onError: (error: unknown) => void): () => void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      this.escalate()
        .catch(onError)
        .finally(() => {
          busy = false;
        });
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** The alerts of an incident, as list views. */
  /**
   * Incidents as the viewer may see them: for a care-unit limited viewer, only the alerts it may
   * see count towards an incident's devices, alert count and severity (an incident of technical
   * alerts can span units), and one with none of them is left out.
   */
  async incidentsFor(
    query: { state?: string; limit?: number },
    viewer: AlertViewer,
  ): Promise<IncidentView[]> {
    const incidents = await this.incidents.list(query, viewer.careUnits);
    if (!viewer.careUnits || incidents.length === 0) return incidents;
    const rows = await this.#o.store.db
      .selectFrom('alerts')
      .selectAll()
      .where(
        'incident_id',
        'in',
        incidents.map((i) => i.id),
      )
      .execute();
    const seen = new Map<string, AlertsTable[]>();
    for (const r of rows) {
      if (!r.incident_id || !this.#visible(r, viewer)) continue;
      const list = seen.get(r.incident_id) ?? [];
      seen.set(r.incident_id, list);
      list.push(r);
    }
    return incidents.flatMap((incident) => {
      const mine = seen.get(incident.id);
      if (!mine) return [];
      return [
        narrowedIncident(
          incident,
          mine.map((r) => ({ deviceId: r.device_id, severity: r.severity })),
        ),
      ];
    });
  }

  async alertsOf(incidentId: string, viewer: AlertViewer): Promise<AlertView[]> {
    const rows = await this.#o.store.db
      .selectFrom('alerts')
      .selectAll()
      .where('incident_id', '=', incidentId)
      .orderBy('first_seen_at')
      .execute();
    const visible = rows.filter((r) => this.#visible(r, viewer));
    const opened = await this.#openPatientData(visible, viewer);
    return visible.map((row, i) => {
      const v = alertView(row);
      if (opened[i]) v.patientId = opened[i].patientId;
      return v;
    });
  }

  /**
   * Retention: forgets the patient data of clinical alerts from periods before `periodBefore`
   * ('YYYY-MM'): the sealed patient identifier and vital evidence and the patient's blind index
   * are cleared, and so are people's sealed reasons in alert history, then that period's alert data keys are shredded, so no copy of the database taken
   * before can read them either. The alert itself (rule, severity, device, care unit, status,
   * history) stays for the record. Returns the number of alerts whose patient data was dropped.
   */
  async expirePatientData(periodBefore: string): Promise<{ cleared: number; shreddedKeys: number }> {
    const { store, keys } = this.#o;
    const cleared = await store.db
      .updateTable('alerts')
      .set({ sealed: null, patient_index: null, key_period: null, evidence: EXPIRED_EVIDENCE })
      .where('key_period', '<', periodBefore)
      .executeTakeFirst();
    await store.db
      .updateTable('alert_history')
      .set({ reason_sealed: null, reason_period: null })
      .where('reason_period', '<', periodBefore)
      .execute();
    const shreddedKeys = await keys.shred({ purpose: SEAL_PURPOSE, periodBefore });
    return { cleared: Number(cleared.numUpdatedRows), shreddedKeys };
  }

  #visible(row: AlertsTable, viewer: AlertViewer): boolean {
    if (!viewer.careUnits) return true;
    return row.category !== 'security' && row.care_unit !== null && viewer.careUnits.includes(row.care_unit);
  }

  /**
   * People's reasons in an alert's history, opened for viewers who may read the alert's patient
   * data (clinical alerts) or who see the alert at all (others); undefined where not opened.
   */
  async #openReasons(
    alert: AlertsTable,
    history: readonly AlertHistoryTable[],
    viewer: AlertViewer,
  ): Promise<Array<string | undefined>> {
    const out = new Array<string | undefined>(history.length);
    const patientData = alert.category === 'clinical' || alert.patient_index !== null;
    if (patientData && !viewer.mayReadPatient(alert.care_unit)) return out;
    const wanted = history.map((h, i) => ({ h, i })).filter(({ h }) => h.reason_sealed !== null);
    if (wanted.length === 0) return out;
    const plain = await this.#o.keys.decryptMany(
      wanted.map(({ h }) => ({ sealed: Buffer.from(h.reason_sealed!), aad: reasonAad(h.id, h.alert_id) })),
    );
    for (let k = 0; k < wanted.length; k++) out[wanted[k]!.i] = plain[k]!.toString('utf8');
    return out;
  }

  /**
   * Seals the plaintext reasons people gave before migration 016 (run once at start; a migration
   * holds no keys). System text (escalation levels) stays. Returns how many it sealed.
   */
  async sealLegacyReasons(): Promise<number> {
    const { store, keys } = this.#o;
    const tables = await store.db.introspection.getTables();
    const table = tables.find((x) => x.name === 'alert_history');
    if (!table?.columns.some((c) => c.name === 'reason_sealed')) return 0;
    const rows = await store.db
      .selectFrom('alert_history')
      .selectAll()
      .where('reason', 'is not', null)
      .where('change', 'in', Object.keys(TRANSITIONS))
      .execute();
    for (const r of rows) {
      const period = periodOf(Number(r.at));
      const sealed = await keys.encrypt(
        { purpose: SEAL_PURPOSE, subject: REASON_SUBJECT, period },
        Buffer.from(r.reason!, 'utf8'),
        reasonAad(r.id, r.alert_id),
      );
      await store.db
        .updateTable('alert_history')
        .set({ reason: null, reason_sealed: sealed, reason_period: period })
        .where('id', '=', r.id)
        .where('reason_sealed', 'is', null)
        .execute();
    }
    return rows.length;
  }

  /** Decrypts the sealed patient data of the rows the viewer may read; one `patient.read` per patient. */
  async #openPatientData(
    rows: readonly AlertsTable[],
    viewer: AlertViewer,
  ): Promise<Array<{ patientId: string; evidence: Record<string, unknown> } | undefined>> {
    const wanted = rows
      .map((r, i) => ({ r, i }))
      .filter(({ r }) => r.sealed && r.patient_index && viewer.mayReadPatient(r.care_unit));
    const out = new Array<{ patientId: string; evidence: Record<string, unknown> } | undefined>(rows.length);
    if (wanted.length === 0) return out;
    const plain = await this.#o.keys.decryptMany(
      wanted.map(({ r }) => ({ sealed: r.sealed!, aad: sealAad(r.dedup_key, r.patient_index!) })),
    );
    for (let k = 0; k < wanted.length; k++)
      out[wanted[k]!.i] = JSON.parse(plain[k]!.toString('utf8')) as {
        patientId: string;
        evidence: Record<string, unknown>;
      };
    const patients = [...new Set(wanted.map(({ r }) => r.patient_index!))];
    for (const index of patients)
      await this.#o.audit.append({
        actor: viewer.audit,
        action: 'patient.read',
        resource: { type: 'patient', id: index },
        outcome: 'success',
        reason: 'alert evidence',
        ...(viewer.breakGlass ? { breakGlass: true } : {}),
      });
    return out;
  }

  async #history(
    trx: Transaction<Database>,
    alertId: string,
    change: string,
    actor: AlertActor,
    reason: string | null,
    at: number,
  ): Promise<void> {
    await trx
      .insertInto('alert_history')
      .values({
        id: newId('ah_'),
        alert_id: alertId,
        change,
        actor: actor.name,
        reason,
        reason_sealed: null,
        reason_period: null,
        at,
      })
      .execute();
  }
}

function parseEvidence(text: string | null): Record<string, unknown> {
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

function encodeCursor(at: number, id: string): string {
  return Buffer.from(JSON.stringify([at, id]), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): [number, string] {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string')
      return [v[0] as number, v[1] as string];
  } catch {
    // fall through
  }
  throw new PulsegateError('ALERT_CURSOR_INVALID');
}

/** An incident counted over the given alerts only (what a care-unit limited viewer may see). */
export function narrowedIncident(
  incident: IncidentView,
  alerts: ReadonlyArray<{ deviceId: string | null; severity: string }>,
): IncidentView {
  return {
    ...incident,
    alertCount: alerts.length,
    deviceIds: [...new Set(alerts.map((a) => a.deviceId).filter((d): d is string => d !== null))],
    severity: alerts.reduce<AlertSeverity>(
      (s, a) => maxSeverity(s, a.severity),
      alerts[0] ? 'info' : incident.severity,
    ),
  };
}
