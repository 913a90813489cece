import { randomBytes } from 'node:crypto';
import { PulsegateError } from '../errors.js';
import type { Database, Store, Transaction } from '../store/index.js';
import type { AlertsTable, IncidentsTable } from '../store/tables/monitor.js';
import { type IncidentView, incidentView, maxSeverity, OPEN_STATES } from './alert-model.js';

const newId = () => `in_${randomBytes(10).toString('base64url')}`;

/**
 * Grouping of related alerts into incidents: alerts of one category about the same device, or
 * from the same rule, within the window. The first related pair opens an incident; later
 * related alerts join it while it is open and was updated within the window. An incident is
 * resolved when its last open alert is closed.
 */
export class Incidents {
  readonly #store: Store;
  readonly #windowMs: number;

  constructor(options: { store: Store; windowMs: number }) {
    this.#store = options.store;
    this.#windowMs = options.windowMs;
  }

  /** Called in the raise transaction for a new alert; returns the other alerts newly grouped with it. */
  async group(trx: Transaction<Database>, alert: AlertsTable, t: number): Promise<AlertsTable[]> {
    const since = alert.first_seen_at - this.#windowMs;
    const keys: Array<{ key: string; match: 'device' | 'rule' }> = [];
    if (alert.device_id) keys.push({ key: `${alert.category}|device:${alert.device_id}`, match: 'device' });
    // Clinical alerts are about patients: one rule firing for two patients is not one incident.
    if (alert.category !== 'clinical')
      keys.push({ key: `${alert.category}|rule:${alert.rule}`, match: 'rule' });
    for (const { key } of keys) {
      const incident = await trx
        .selectFrom('incidents')
        .selectAll()
        .where('group_key', '=', key)
        .where('state', '=', 'open')
        .where('updated_at', '>=', since)
        .orderBy('updated_at', 'desc')
        .executeTakeFirst();
      if (incident) {
        await this.#attach(trx, incident, [alert], t);
        return [];
      }
    }
    for (const { key, match } of keys) {
      let q = trx
        .selectFrom('alerts')
        .selectAll()
        .where('id', '!=', alert.id)
        .where('category', '=', alert.category)
        .where('incident_id', 'is', null)
        .where('state', 'in', [...OPEN_STATES])
        .where('last_seen_at', '>=', since);
      q = match === 'device' ? q.where('device_id', '=', alert.device_id) : q.where('rule', '=', alert.rule);
      const related = await q.orderBy('first_seen_at').limit(100).execute();
      if (related.length === 0) continue;
      const title =
        match === 'device'
          ? `Related ${alert.category} alerts on device ${alert.device_id}`
          : `${alert.rule} on several devices`;
      const incident: IncidentsTable = {
        id: newId(),
        group_key: key,
        title,
        severity: alert.severity,
        state: 'open',
        alert_count: 0,
        device_ids: '[]',
        opened_at: Math.min(alert.first_seen_at, ...related.map((r) => Number(r.first_seen_at))),
        updated_at: t,
      };
      await trx.insertInto('incidents').values(incident).execute();
      await this.#attach(trx, incident, [...related, alert], t);
      return related.map((r) => ({ ...r, incident_id: incident.id, updated_at: t }));
    }
    return [];
  }

  async #attach(trx: Transaction<Database>, incident: IncidentsTable, alerts: AlertsTable[], t: number) {
    const devices = new Set(JSON.parse(incident.device_ids) as string[]);
    let severity = incident.severity;
    for (const a of alerts) {
      if (a.device_id) devices.add(a.device_id);
      severity = maxSeverity(severity, a.severity);
      a.incident_id = incident.id;
    }
    await trx
      .updateTable('alerts')
      .set({ incident_id: incident.id, updated_at: t })
      .where(
        'id',
        'in',
        alerts.map((a) => a.id),
      )
      .execute();
    await trx
      .updateTable('incidents')
      .set({
        alert_count: Number(incident.alert_count) + alerts.length,
        severity,
        device_ids: JSON.stringify([...devices].sort()),
        state: 'open',
        updated_at: t,
      })
      .where('id', '=', incident.id)
      .execute();
  }

  /** Resolves the incident when none of its alerts is open or acknowledged any more. */
  async closeIfDone(trx: Transaction<Database>, incidentId: string, t: number): Promise<boolean> {
    const open = await trx
      .selectFrom('alerts')
      .select('id')
      .where('incident_id', '=', incidentId)
      .where('state', 'in', [...OPEN_STATES])
      .executeTakeFirst();
    if (open) return false;
    const r = await trx
      .updateTable('incidents')
      .set({ state: 'resolved', updated_at: t })
      .where('id', '=', incidentId)
      .where('state', '=', 'open')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Incidents newest first; `careUnits` limits to incidents with a clinical/technical alert in those units. */
  async list(
    query: { state?: string; limit?: number },
    careUnits?: readonly string[],
  ): Promise<IncidentView[]> {
    let q = this.#store.db.selectFrom('incidents').selectAll();
    if (query.state) q = q.where('state', '=', query.state);
    if (careUnits) {
      if (careUnits.length === 0) return [];
      q = q.where((eb) =>
        eb.exists(
          eb
            .selectFrom('alerts')
            .select('alerts.id')
            .whereRef('alerts.incident_id', '=', 'incidents.id')
            .where('alerts.category', 'in', ['clinical', 'technical'])
            .where('alerts.care_unit', 'in', [...careUnits]),
        ),
      );
    }
    const rows = await q
      .orderBy('opened_at', 'desc')
      .orderBy('id', 'desc')
      .limit(Math.min(query.limit ?? 100, 500))
      .execute();
    return rows.map(incidentView);
  }

  async get(id: string): Promise<IncidentView> {
    const row = await this.#store.db
      .selectFrom('incidents')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw new PulsegateError('INCIDENT_NOT_FOUND');
    return incidentView(row);
  }
}
