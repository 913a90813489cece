/**
 * The alerts, incidents and monitor routes on the real app, on SQLite and PostgreSQL: the HTTP
 * contract (views, paging, lifecycle), care-unit limits and patient data, suppressions, fleet
 * checks on demand, rules reload (API and file watch), and bad input to every route answered with
 * a stable code while nothing changes.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Role } from '../src/access/index.js';
import { createApp, type PulsegateApp } from '../src/app.js';
import { loadConfig } from '../src/config/index.js';
import { createInstallation, installationLayout } from '../src/installation/index.js';
import { createLogger } from '../src/logging/logger.js';
import { DEFAULT_RULES_FILE, loadRules, type NewAlert } from '../src/monitor/index.js';
import { createTestPostgresDatabase, postgresAvailable } from '../src/testing/stores.js';
import { call } from './support/installation.js';

const pgUp = await postgresAvailable();

for (const dialect of ['sqlite', 'postgres'] as const) {
  (dialect === 'postgres' && !pgUp ? describe.skip : describe)(`monitor API [${dialect}]`, () => {
    let app: PulsegateApp;
    let dir: string;
    let rulesFile: string;
    let dropPg: (() => Promise<void>) | undefined;
    const tok = {} as Record<'admin' | 'analyst' | 'nurse' | 'nurseCcu' | 'engineer' | 'vendor', string>;
    const ids = {} as Record<'security' | 'clinicalIcu' | 'clinicalCcu', string>;

    const user = async (name: string, role: Role, careUnits: string[] = []) => {
      await app.access.users.add({
        username: name,
        password: randomBytes(18).toString('base64url'),
        role,
        careUnits,
        ...(role === 'vendor-service'
          ? {
              vendorDevices: ['api-icu-1'],
              accessNotBefore: Date.now() - 3_600_000,
              accessNotAfter: Date.now() + 3_600_000,
            }
          : {}),
      });
      return (await app.access.createApiToken({ username: name, name: 'test' })).token;
    };
    const raise = async (a: Partial<NewAlert>) => {
      const r = await app.monitor.sink.raise({
        category: 'security',
        severity: 'high',
        rule: 'device.flood',
        title: 'Device floods',
        deviceId: 'api-icu-1',
        careUnit: 'ICU',
        evidence: { messages: 900 },
        dedupKey: `k-${Math.random()}`,
        at: Date.now(),
        ...a,
      });
      return (r as { alertId: string }).alertId;
    };
    const snapshot = async () => ({
      alerts: await app.store.db.selectFrom('alerts').selectAll().orderBy('id').execute(),
      history: await app.store.db.selectFrom('alert_history').selectAll().orderBy('id').execute(),
      incidents: await app.store.db.selectFrom('incidents').selectAll().orderBy('id').execute(),
      suppressions: await app.store.db.selectFrom('alert_suppressions').selectAll().orderBy('id').execute(),
    });

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'pulsegate-monitor-api-'));
      const settings: Record<string, Record<string, unknown>> = {
        server: { port: 0, host: '127.0.0.1' },
        mqtt: { port: 0, host: '127.0.0.1' },
        log: { level: 'silent' },
        monitor: { rulesFile: 'monitor-rules.yaml', checkIntervalSeconds: 0 },
      };
      if (dialect === 'postgres') {
        const pg = await createTestPostgresDatabase();
        dropPg = pg.drop;
        settings.database = { url: pg.url };
      }
      rulesFile = join(dir, 'monitor-rules.yaml');
      copyFileSync(DEFAULT_RULES_FILE, rulesFile);
      await createInstallation({ dataDir: dir, settings, env: {} });
      app = await createApp(loadConfig(dir, {}), { logger: createLogger({ level: 'silent' }), env: {} });
      tok.admin = readFileSync(installationLayout(dir).adminToken, 'utf8').trim();
      tok.analyst = await user('analyst', 'security-analyst');
      tok.nurse = await user('nurse', 'clinician', ['ICU']);
      tok.nurseCcu = await user('nurse-ccu', 'clinician', ['CCU']);
      tok.engineer = await user('engineer', 'clinical-engineer');
      tok.vendor = await user('vendor', 'vendor-service');
      for (const [id, unit, owner] of [
        ['api-icu-1', 'ICU', 'Biomed'],
        ['api-ccu-1', 'CCU', 'Biomed'],
        ['api-orphan', undefined, undefined],
      ] as const)
        await app.devices.create({
          id,
          type: 'patient-monitor',
          vendor: 'Acme',
          model: 'M1',
          ...(unit ? { careUnit: unit } : {}),
          ...(owner ? { owner } : {}),
        });
      ids.security = await raise({ dedupKey: 'sec-1' });
      ids.clinicalIcu = await raise({
        category: 'clinical',
        rule: 'clinical.news2',
        title: 'NEWS2 7: urgent response',
        patientId: 'MRN-200001',
        evidence: { score: 7, respiratoryRate: 26 },
        dedupKey: 'news2-icu',
        severity: 'critical',
      });
      ids.clinicalCcu = await raise({
        category: 'clinical',
        rule: 'clinical.news2',
        title: 'NEWS2 5',
        deviceId: 'api-ccu-1',
        careUnit: 'CCU',
        patientId: 'MRN-200002',
        evidence: { score: 5 },
        dedupKey: 'news2-ccu',
      });
    }, 120_000);

    afterAll(async () => {
      await app?.close();
      await dropPg?.();
      rmSync(dir, { recursive: true, force: true });
    });

    it('lists alerts per the contract; clinicians see their units and the patient, analysts never the patient', async () => {
      const all = await call(app, 'GET', '/api/v1/alerts', { token: tok.analyst });
      expect(all.status).toBe(200);
      const items = all.body.items as Array<Record<string, unknown>>;
      expect(items.map((a) => a.id).sort()).toEqual(Object.values(ids).sort());
      expect(items.every((a) => !('patientId' in a) && !('evidence' in a))).toBe(true);
      expect(all.body.next).toBeNull();
      const detail = await call(app, 'GET', `/api/v1/alerts/${ids.clinicalIcu}`, { token: tok.analyst });
      expect(detail.body.evidence).toEqual({ restricted: true });
      expect(detail.body).not.toHaveProperty('patientId');

      const before = (await app.audit.list({ action: 'patient.read', limit: 1000 })).length;
      const nurse = await call(app, 'GET', '/api/v1/alerts', { token: tok.nurse });
      expect((nurse.body.items as Array<Record<string, unknown>>).map((a) => [a.id, a.patientId])).toEqual([
        [ids.clinicalIcu, 'MRN-200001'],
      ]);
      const one = await call(app, 'GET', `/api/v1/alerts/${ids.clinicalIcu}`, { token: tok.nurse });
      expect(one.body).toMatchObject({
        patientId: 'MRN-200001',
        evidence: { score: 7, respiratoryRate: 26 },
        state: 'open',
        count: 1,
        escalationLevel: 0,
        history: [{ change: 'created', actor: 'system', reason: null }],
      });
      expect((await app.audit.list({ action: 'patient.read', limit: 1000 })).length).toBeGreaterThan(before);
      expect(
        (await call(app, 'GET', `/api/v1/alerts/${ids.clinicalIcu}`, { token: tok.nurseCcu })).body.code,
      ).toBe('ALERT_NOT_FOUND');
      expect((await call(app, 'GET', `/api/v1/alerts/${ids.security}`, { token: tok.nurse })).body.code).toBe(
        'ALERT_NOT_FOUND',
      );
      expect((await call(app, 'GET', '/api/v1/alerts', { token: tok.vendor })).body.code).toBe(
        'ACCESS_DENIED',
      );
      const page = await call(app, 'GET', '/api/v1/alerts?limit=2', { token: tok.admin });
      const rest = await call(app, 'GET', `/api/v1/alerts?limit=2&cursor=${page.body.next}`, {
        token: tok.admin,
      });
      expect([...(page.body.items as []), ...(rest.body.items as [])]).toHaveLength(3);
    });

    it('runs the lifecycle over HTTP, audited, with history', async () => {
      const id = await raise({ dedupKey: 'life', deviceId: 'api-ccu-1', careUnit: 'CCU' });
      expect(
        (await call(app, 'POST', `/api/v1/alerts/${id}/acknowledge`, { token: tok.engineer, body: {} })).body
          .code,
      ).toBe('ACCESS_DENIED');
      const ack = await call(app, 'POST', `/api/v1/alerts/${id}/acknowledge`, {
        token: tok.analyst,
        body: {},
      });
      expect(ack.status).toBe(200);
      expect(ack.body.state).toBe('acknowledged');
      const fp = await call(app, 'POST', `/api/v1/alerts/${id}/false-positive`, {
        token: tok.analyst,
        body: { reason: 'scheduled load test' },
      });
      expect(fp.body).toMatchObject({ state: 'false-positive' });
      expect(
        (fp.body.history as Array<Record<string, unknown>>).map((h) => [h.change, h.actor, h.reason]),
      ).toEqual([
        ['created', 'system', null],
        ['acknowledged', 'analyst', null],
        ['false-positive', 'analyst', 'scheduled load test'],
      ]);
      const audit = await app.audit.list({ action: 'alert.false-positive', limit: 10 });
      expect(audit.at(-1)).toMatchObject({ actor: { name: 'analyst' }, resource: { type: 'alert', id } });
      // The reason stays in the alert's (sealed) history, out of the append-only audit tree.
      expect(audit.at(-1)).not.toHaveProperty('reason');
    });

    it('answers bad input on every route with a stable code and changes nothing', async () => {
      const before = await snapshot();
      const cases: Array<[string, string, unknown, number, string]> = [
        ['GET', '/api/v1/alerts?state=bogus', undefined, 400, 'VALIDATION_FAILED'],
        ['GET', '/api/v1/alerts?limit=0', undefined, 400, 'VALIDATION_FAILED'],
        ['GET', '/api/v1/alerts?since=yesterday', undefined, 400, 'VALIDATION_FAILED'],
        ['GET', '/api/v1/alerts?cursor=bm9wZQ', undefined, 400, 'ALERT_CURSOR_INVALID'],
        ['GET', '/api/v1/alerts?deviceId=%3Cscript%3E', undefined, 400, 'VALIDATION_FAILED'],
        ['GET', '/api/v1/alerts/al_missing', undefined, 404, 'ALERT_NOT_FOUND'],
        ['GET', '/api/v1/alerts/bad%20id', undefined, 400, 'VALIDATION_FAILED'],
        ['POST', '/api/v1/alerts/al_missing/acknowledge', {}, 404, 'ALERT_NOT_FOUND'],
        [
          'POST',
          `/api/v1/alerts/${ids.security}/acknowledge`,
          { reason: 'x', extra: 1 },
          400,
          'VALIDATION_FAILED',
        ],
        ['POST', `/api/v1/alerts/${ids.security}/resolve`, {}, 400, 'ALERT_REASON_REQUIRED'],
        ['POST', `/api/v1/alerts/${ids.security}/resolve`, { reason: ' ' }, 400, 'ALERT_REASON_REQUIRED'],
        [
          'POST',
          `/api/v1/alerts/${ids.security}/resolve`,
          { reason: 'x'.repeat(501) },
          400,
          'VALIDATION_FAILED',
        ],
        ['POST', `/api/v1/alerts/${ids.security}/false-positive`, { reason: 7 }, 400, 'VALIDATION_FAILED'],
        ['GET', '/api/v1/incidents?state=closed', undefined, 400, 'VALIDATION_FAILED'],
        ['GET', '/api/v1/incidents/in_missing', undefined, 404, 'INCIDENT_NOT_FOUND'],
        [
          'POST',
          '/api/v1/monitor/suppressions',
          { reason: 'no target', expiresAt: new Date(Date.now() + 60_000).toISOString() },
          400,
          'MONITOR_SUPPRESSION_INVALID',
        ],
        [
          'POST',
          '/api/v1/monitor/suppressions',
          { rule: 'device.flood', reason: 'past', expiresAt: '2001-01-01T00:00:00Z' },
          400,
          'MONITOR_SUPPRESSION_INVALID',
        ],
        [
          'POST',
          '/api/v1/monitor/suppressions',
          { rule: 'Not A Rule', reason: 'x', expiresAt: '2099-01-01T00:00:00Z' },
          400,
          'VALIDATION_FAILED',
        ],
        [
          'POST',
          '/api/v1/monitor/suppressions',
          { rule: 'device.flood', expiresAt: '2099-01-01T00:00:00Z' },
          400,
          'VALIDATION_FAILED',
        ],
        [
          'DELETE',
          '/api/v1/monitor/suppressions/su_missing',
          undefined,
          404,
          'MONITOR_SUPPRESSION_NOT_FOUND',
        ],
        ['POST', '/api/v1/monitor/checks', { checks: ['bogus'] }, 400, 'VALIDATION_FAILED'],
        ['POST', '/api/v1/monitor/checks', { checks: [] }, 400, 'VALIDATION_FAILED'],
      ];
      for (const [method, url, body, status, code] of cases) {
        const res = await call(app, method, url, {
          token: tok.admin,
          ...(body !== undefined ? { body } : {}),
        });
        expect([method, url, res.status, res.body.code]).toEqual([method, url, status, code]);
        expect(res.headers['content-type']).toContain('application/problem+json');
      }
      const malformed = await call(app, 'POST', `/api/v1/alerts/${ids.security}/resolve`, {
        token: tok.admin,
        rawBody: '{"reason":',
      });
      expect(malformed.body.code).toBe('MALFORMED_JSON');
      // A broken rules file is refused and the rules in force stay.
      const rulesBefore = app.monitor.rules();
      writeFileSync(rulesFile, 'version: 1\nwindowSeconds: -5\n');
      const reload = await call(app, 'POST', '/api/v1/monitor/rules/reload', { token: tok.admin });
      expect([reload.status, reload.body.code]).toEqual([422, 'MONITOR_RULES_INVALID']);
      expect(app.monitor.rules()).toBe(rulesBefore);
      copyFileSync(DEFAULT_RULES_FILE, rulesFile);
      expect(await snapshot()).toEqual(before);
    });

    it('creates, applies, lists and ends suppression windows', async () => {
      const created = await call(app, 'POST', '/api/v1/monitor/suppressions', {
        token: tok.analyst,
        body: {
          rule: 'device.replay',
          deviceId: 'api-icu-1',
          reason: 'firmware update tonight',
          expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        rule: 'device.replay',
        deviceId: 'api-icu-1',
        createdBy: 'analyst',
      });
      const r = await app.monitor.sink.raise({
        category: 'security',
        severity: 'high',
        rule: 'device.replay',
        title: 'Replay',
        deviceId: 'api-icu-1',
        careUnit: 'ICU',
        evidence: {},
        dedupKey: 'replay-suppressed',
        at: Date.now(),
      });
      expect(r).toEqual({ outcome: 'suppressed', suppressionId: created.body.id });
      const list = await call(app, 'GET', '/api/v1/monitor/suppressions', { token: tok.engineer });
      expect((list.body.items as Array<{ id: string }>).map((s) => s.id)).toContain(created.body.id);
      expect(
        (await call(app, 'POST', '/api/v1/monitor/suppressions', { token: tok.engineer, body: {} })).status,
      ).toBe(403);
      // Clinicians act on alerts but cannot silence detection, end the analysts' windows, reload
      // rules or run fleet checks (monitor:admin).
      const suppressionsBefore = await app.store.db.selectFrom('alert_suppressions').selectAll().execute();
      for (const [method, url, body] of [
        [
          'POST',
          '/api/v1/monitor/suppressions',
          { rule: 'device.replay', reason: 'x', expiresAt: new Date(Date.now() + 60_000).toISOString() },
        ],
        ['DELETE', `/api/v1/monitor/suppressions/${created.body.id}`, undefined],
        ['POST', '/api/v1/monitor/rules/reload', undefined],
        ['POST', '/api/v1/monitor/checks', {}],
      ] as const) {
        const res = await call(app, method, url, { token: tok.nurse, ...(body ? { body } : {}) });
        expect(res.status, `${method} ${url}`).toBe(403);
        expect(res.body.code).toBe('ACCESS_DENIED');
      }
      expect(await app.store.db.selectFrom('alert_suppressions').selectAll().execute()).toEqual(
        suppressionsBefore,
      );
      const del = await call(app, 'DELETE', `/api/v1/monitor/suppressions/${created.body.id}`, {
        token: tok.analyst,
      });
      expect(del.status).toBe(204);
      expect((await app.audit.list({ action: 'alert.unsuppress', limit: 10 })).length).toBe(1);
    });

    it('shows a care-unit limited viewer only its own part of incidents and suppressions', async () => {
      // One technical rule firing on devices of two units: one incident across both.
      const at = Date.now();
      const icu = await raise({
        category: 'technical',
        rule: 'technical.lead-off',
        title: 'Lead off',
        severity: 'low',
        at,
      });
      const ccu = await raise({
        category: 'technical',
        rule: 'technical.lead-off',
        title: 'Lead off',
        severity: 'high',
        deviceId: 'api-ccu-1',
        careUnit: 'CCU',
        at,
      });
      const incidentId = (await call(app, 'GET', `/api/v1/alerts/${ccu}`, { token: tok.analyst })).body
        .incidentId as string;
      expect((await call(app, 'GET', `/api/v1/alerts/${icu}`, { token: tok.analyst })).body.incidentId).toBe(
        incidentId,
      );
      const whole = await call(app, 'GET', `/api/v1/incidents/${incidentId}`, { token: tok.analyst });
      expect(whole.body).toMatchObject({ alertCount: 2, severity: 'high' });
      expect([...(whole.body.deviceIds as string[])].sort()).toEqual(['api-ccu-1', 'api-icu-1']);
      // The ICU nurse learns nothing of the CCU device, its alert or its severity.
      const mine = { alertCount: 1, deviceIds: ['api-icu-1'], severity: 'low' };
      const detail = await call(app, 'GET', `/api/v1/incidents/${incidentId}`, { token: tok.nurse });
      expect(detail.body).toMatchObject(mine);
      expect((detail.body.alerts as Array<{ id: string }>).map((a) => a.id)).toEqual([icu]);
      const list = await call(app, 'GET', '/api/v1/incidents', { token: tok.nurse });
      expect((list.body.items as Array<{ id: string }>).find((i) => i.id === incidentId)).toMatchObject(mine);
      expect(JSON.stringify(list.body)).not.toContain('api-ccu-1');

      // Suppressions: rule-wide ones and the viewer's own devices', not another unit's devices.
      const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
      for (const body of [
        { deviceId: 'api-ccu-1', reason: 'CCU pump in isolation room', expiresAt },
        { deviceId: 'api-icu-1', reason: 'ICU monitor being serviced', expiresAt },
        { rule: 'technical.lead-off', reason: 'electrode batch recall', expiresAt },
      ])
        expect(
          (await call(app, 'POST', '/api/v1/monitor/suppressions', { token: tok.analyst, body })).status,
        ).toBe(201);
      const seen = (await call(app, 'GET', '/api/v1/monitor/suppressions', { token: tok.nurse })).body
        .items as Array<{
        reason: string;
      }>;
      expect(seen.map((x) => x.reason).sort()).toEqual([
        'ICU monitor being serviced',
        'electrode batch recall',
      ]);
      const all = (await call(app, 'GET', '/api/v1/monitor/suppressions', { token: tok.analyst })).body.items;
      expect((all as unknown[]).length).toBeGreaterThanOrEqual(3);
      // Leave the other tests the fixture's alerts and incidents only.
      await app.store.db.deleteFrom('alert_suppressions').execute();
      await app.store.db.deleteFrom('alerts').where('id', 'in', [icu, ccu]).execute();
      await app.store.db.deleteFrom('incidents').where('id', '=', incidentId).execute();
    });

    it('runs fleet checks on demand: findings become alerts, de-duplicated on the next run', async () => {
      const first = await call(app, 'POST', '/api/v1/monitor/checks', {
        token: tok.analyst,
        body: { checks: ['no-owner-location'] },
      });
      expect(first.status).toBe(200);
      const findings = first.body.findings as Array<Record<string, unknown>>;
      expect(findings.map((f) => [f.rule, f.deviceId, f.outcome]).sort()).toEqual([
        ['fleet.no-location', 'api-orphan', 'created'],
        ['fleet.no-owner', 'api-orphan', 'created'],
      ]);
      const again = await call(app, 'POST', '/api/v1/monitor/checks', { token: tok.analyst, body: {} });
      const repeated = (again.body.findings as Array<Record<string, unknown>>).filter(
        (f) => f.deviceId === 'api-orphan',
      );
      expect(repeated.map((f) => f.outcome)).toEqual(['deduplicated', 'deduplicated']);
      const alert = await call(app, 'GET', `/api/v1/alerts/${findings[0]!.alertId}`, { token: tok.analyst });
      expect(alert.body).toMatchObject({ count: 2, category: 'security', incidentId: expect.any(String) });
      const incident = await call(app, 'GET', `/api/v1/incidents/${alert.body.incidentId}`, {
        token: tok.analyst,
      });
      expect(incident.body).toMatchObject({ state: 'open', alertCount: 2, deviceIds: ['api-orphan'] });
      expect((incident.body.alerts as unknown[]).length).toBe(2);
      const incidents = await call(app, 'GET', '/api/v1/incidents?state=open', { token: tok.analyst });
      expect((incidents.body.items as Array<{ id: string }>).map((i) => i.id)).toContain(
        alert.body.incidentId,
      );
      expect((await call(app, 'GET', '/api/v1/incidents', { token: tok.nurse })).body.items).toEqual([]);
      expect((await app.audit.list({ action: 'monitor.check', limit: 10 })).length).toBe(2);
    });

    it('reloads rules through the API and when the file changes', async () => {
      const file = loadRules(rulesFile).file;
      file.severities['device.flood'] = 'off';
      writeFileSync(rulesFile, stringify(file));
      const res = await call(app, 'POST', '/api/v1/monitor/rules/reload', { token: tok.analyst });
      expect(res.body).toEqual({ source: 'monitor-rules.yaml', rules: Object.keys(file.severities).length });
      expect(app.monitor.rules().severity('device.flood')).toBeNull();
      expect(
        (await app.audit.list({ action: 'monitor.rules-reload', limit: 10 })).map((e) => e.outcome),
      ).toContain('success');
      // File watch: the scheduler picks up a change without any call.
      app.monitor.start();
      file.severities['device.flood'] = 'critical';
      writeFileSync(rulesFile, stringify(file));
      const deadline = Date.now() + 20_000;
      while (app.monitor.rules().severity('device.flood') !== 'critical' && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 200));
      expect(app.monitor.rules().severity('device.flood')).toBe('critical');
    }, 30_000);
  });
}
