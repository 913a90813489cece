/**
 * The durable alert store on every real dialect: de-duplication, lifecycle with history and
 * audit, suppression windows, incidents, escalation, encrypted clinical data, paging, and bad
 * input that gets a stable code and changes nothing.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { codeOf } from '../keys/key-fixture.js';
import { describeEachDialect } from '../testing/dialects.js';
import {
  ANALYST,
  alert,
  clinicianViewer,
  type MonitorFixture,
  monitorFixture,
  SECURITY_VIEWER,
  T0,
} from './test-fixture.js';

describeEachDialect('alert store', (open) => {
  let m: MonitorFixture;
  beforeEach(async () => {
    m = await monitorFixture(open);
  });
  afterEach(async () => {
    await m.cleanup();
  });

  const snapshot = async () => ({
    alerts: await m.t.store.db.selectFrom('alerts').selectAll().orderBy('id').execute(),
    history: await m.t.store.db.selectFrom('alert_history').selectAll().orderBy('id').execute(),
    incidents: await m.t.store.db.selectFrom('incidents').selectAll().orderBy('id').execute(),
    suppressions: await m.t.store.db.selectFrom('alert_suppressions').selectAll().orderBy('id').execute(),
  });

  it('de-duplicates reports by key while the alert is open or acknowledged, not after it closed', async () => {
    const first = await m.alerts.raise(alert());
    expect(first.outcome).toBe('created');
    const again = await m.alerts.raise(alert({ at: T0 + 5000, evidence: { messages: 1200 } }));
    expect(again).toEqual({ outcome: 'deduplicated', alertId: (first as { alertId: string }).alertId });
    const id = (first as { alertId: string }).alertId;
    await m.alerts.change(id, 'acknowledged', ANALYST, null, SECURITY_VIEWER);
    expect((await m.alerts.raise(alert({ at: T0 + 6000 }))).outcome).toBe('deduplicated');
    const view = await m.alerts.get(id, SECURITY_VIEWER);
    expect(view.count).toBe(3);
    expect(view.lastSeenAt).toBe(new Date(T0 + 6000).toISOString());
    expect(view.evidence).toEqual({ messages: 900 });
    expect(m.raised.map((e) => e.change)).toEqual(['created', 'deduplicated', 'deduplicated']);
    await m.alerts.change(id, 'resolved', ANALYST, 'rate limit raised for firmware update', SECURITY_VIEWER);
    const after = await m.alerts.raise(alert({ at: T0 + 7000 }));
    expect(after.outcome).toBe('created');
    expect((after as { alertId: string }).alertId).not.toBe(id);
  });

  it('records who, why and when through open -> acknowledged -> resolved, audited', async () => {
    const { alertId } = (await m.alerts.raise(alert())) as { alertId: string };
    m.clock.ms = T0 + 60_000;
    const acked = await m.alerts.change(alertId, 'acknowledged', ANALYST, 'looking', SECURITY_VIEWER);
    expect(acked.state).toBe('acknowledged');
    m.clock.ms = T0 + 120_000;
    const resolved = await m.alerts.change(alertId, 'resolved', ANALYST, 'device re-imaged', SECURITY_VIEWER);
    expect(resolved.state).toBe('resolved');
    expect(resolved.history).toEqual([
      { change: 'created', actor: 'system', reason: null, at: new Date(T0).toISOString() },
      {
        change: 'acknowledged',
        actor: 'analyst',
        reason: 'looking',
        at: new Date(T0 + 60_000).toISOString(),
      },
      {
        change: 'resolved',
        actor: 'analyst',
        reason: 'device re-imaged',
        at: new Date(T0 + 120_000).toISOString(),
      },
    ]);
    expect(m.audit.of('alert.acknowledge')).toHaveLength(1);
    // A person's reason may name a patient: it is sealed in the history, never in the audit tree.
    expect(m.audit.of('alert.resolve')[0]).toMatchObject({ resource: { type: 'alert', id: alertId } });
    expect(JSON.stringify(m.audit.of('alert.resolve'))).not.toContain('re-imaged');
    const stored = await m.t.store.db.selectFrom('alert_history').selectAll().execute();
    expect(stored.filter((h) => h.reason_sealed !== null)).toHaveLength(2);
    expect(
      JSON.stringify(
        stored.map((h) => ({ ...h, reason_sealed: Buffer.from(h.reason_sealed ?? []).toString('latin1') })),
      ),
    ).not.toContain('re-imaged');
    expect(m.updated.map((e) => [e.change, e.actor, e.state])).toEqual([
      ['acknowledged', 'u-analyst', 'acknowledged'],
      ['resolved', 'u-analyst', 'resolved'],
    ]);
  });

  it('marks a false positive with a reason; refuses invalid changes by code and changes nothing', async () => {
    const { alertId } = (await m.alerts.raise(alert())) as { alertId: string };
    const before = await snapshot();
    expect(await codeOf(m.alerts.change(alertId, 'resolved', ANALYST, null, SECURITY_VIEWER))).toBe(
      'ALERT_REASON_REQUIRED',
    );
    expect(await codeOf(m.alerts.change(alertId, 'false-positive', ANALYST, '   ', SECURITY_VIEWER))).toBe(
      'ALERT_REASON_REQUIRED',
    );
    expect(await codeOf(m.alerts.change('al_nope', 'acknowledged', ANALYST, null, SECURITY_VIEWER))).toBe(
      'ALERT_NOT_FOUND',
    );
    expect(await snapshot()).toEqual(before);
    const fp = await m.alerts.change(alertId, 'false-positive', ANALYST, 'pen test', SECURITY_VIEWER);
    expect(fp.state).toBe('false-positive');
    const closed = await snapshot();
    expect(await codeOf(m.alerts.change(alertId, 'acknowledged', ANALYST, null, SECURITY_VIEWER))).toBe(
      'ALERT_STATE_INVALID',
    );
    expect(await codeOf(m.alerts.change(alertId, 'resolved', ANALYST, 'x', SECURITY_VIEWER))).toBe(
      'ALERT_STATE_INVALID',
    );
    expect(await snapshot()).toEqual(closed);
    expect(m.audit.of('alert.false-positive')).toHaveLength(1);
  });

  it('refuses a reason that is not well-formed, too long or has control characters before sealing anything', async () => {
    const { alertId } = (await m.alerts.raise(alert())) as { alertId: string };
    const keysBefore = await m.t.store.db.selectFrom('data_keys').selectAll().orderBy('id').execute();
    const before = await snapshot();
    for (const bad of ['x\ud800', `a${'😀'.repeat(500)}`, 'line\nbreak'])
      expect(await codeOf(m.alerts.change(alertId, 'resolved', ANALYST, bad, SECURITY_VIEWER))).toBe(
        'VALIDATION_FAILED',
      );
    // A refusal for the alert's state seals nothing either.
    await m.alerts.change(alertId, 'false-positive', ANALYST, 'pen test', SECURITY_VIEWER);
    const keysAfterChange = await m.t.store.db.selectFrom('data_keys').selectAll().orderBy('id').execute();
    const closed = await snapshot();
    expect(await codeOf(m.alerts.change(alertId, 'resolved', ANALYST, 'again', SECURITY_VIEWER))).toBe(
      'ALERT_STATE_INVALID',
    );
    expect(await snapshot()).toEqual(closed);
    expect(await m.t.store.db.selectFrom('data_keys').selectAll().orderBy('id').execute()).toEqual(
      keysAfterChange,
    );
    expect(before.alerts[0]!.state).toBe('open');
    expect(keysBefore.length).toBeLessThanOrEqual(keysAfterChange.length);
    // 500 emoji are 500 characters: allowed, and stored whole.
    const { alertId: other } = (await m.alerts.raise(alert({ dedupKey: 'emoji' }))) as { alertId: string };
    const long = '😀'.repeat(500);
    const view = await m.alerts.change(other, 'resolved', ANALYST, long, SECURITY_VIEWER);
    expect(view.history?.find((h) => h.change === 'resolved')?.reason).toBe(long);
  });

  it('refuses a malformed report with VALIDATION_FAILED and stores nothing', async () => {
    for (const bad of [
      alert({ category: 'nonsense' as never }),
      alert({ severity: 'urgent' as never }),
      alert({ rule: 'Flood!' }),
      alert({ title: '' }),
      alert({ dedupKey: '' }),
      alert({ at: Number.NaN }),
      alert({ evidence: null as never }),
    ])
      expect(await codeOf(m.alerts.raise(bad))).toBe('VALIDATION_FAILED');
    expect((await snapshot()).alerts).toHaveLength(0);
    expect(m.raised).toHaveLength(0);
  });

  it('suppresses matching reports inside the window, by rule and device, until expiry', async () => {
    const s = await m.alerts.suppressions.create(
      {
        rule: 'device.flood',
        deviceId: 'dev-001',
        reason: 'firmware update',
        expiresAt: new Date(T0 + 3_600_000).toISOString(),
      },
      ANALYST,
    );
    expect(await m.alerts.raise(alert())).toEqual({ outcome: 'suppressed', suppressionId: s.id });
    expect((await m.alerts.raise(alert({ deviceId: 'dev-002' }))).outcome).toBe('created');
    expect((await m.alerts.raise(alert({ rule: 'device.replay', dedupKey: 'r:1' }))).outcome).toBe('created');
    expect((await m.alerts.raise(alert({ at: T0 + 3_600_001 }))).outcome).toBe('created');
    const any = await m.alerts.suppressions.create(
      { deviceId: 'dev-009', reason: 'decommissioning', expiresAt: new Date(T0 + 60_000).toISOString() },
      ANALYST,
    );
    expect(
      await m.alerts.raise(alert({ deviceId: 'dev-009', rule: 'device.replay', dedupKey: 'x' })),
    ).toEqual({
      outcome: 'suppressed',
      suppressionId: any.id,
    });
    expect(m.audit.of('alert.suppress')).toHaveLength(2);
    const before = await snapshot();
    for (const bad of [
      { reason: 'no target', expiresAt: new Date(T0 + 60_000).toISOString() },
      { rule: 'device.flood', reason: 'past', expiresAt: new Date(T0 - 1).toISOString() },
      { rule: 'device.flood', reason: 'too long', expiresAt: new Date(T0 + 400 * 86_400_000).toISOString() },
      { rule: 'device.flood', reason: 'bad date', expiresAt: 'soon' },
    ])
      expect(await codeOf(m.alerts.suppressions.create(bad, ANALYST))).toBe('MONITOR_SUPPRESSION_INVALID');
    // The reason is free text like any other: no line breaks or other control characters, no cut.
    const soon = new Date(T0 + 60_000).toISOString();
    for (const reason of ['line1\r\nforged line', 'tab\there', 'x'.repeat(501)])
      expect(
        await codeOf(
          m.alerts.suppressions.create({ rule: 'device.flood', reason, expiresAt: soon }, ANALYST),
        ),
      ).toBe('VALIDATION_FAILED');
    expect(await codeOf(m.alerts.suppressions.remove('su_missing', ANALYST))).toBe(
      'MONITOR_SUPPRESSION_NOT_FOUND',
    );
    expect(await snapshot()).toEqual(before);
    await m.alerts.suppressions.remove(s.id, ANALYST);
    expect((await m.alerts.suppressions.list()).map((x) => x.id)).toEqual([any.id]);
  });

  it('groups alerts of one device, and of one rule across devices, into incidents within the window', async () => {
    const a = (await m.alerts.raise(alert({ rule: 'device.flood', dedupKey: 'a' }))) as { alertId: string };
    const b = (await m.alerts.raise(
      alert({ rule: 'device.replay', dedupKey: 'b', severity: 'critical', at: T0 + 60_000 }),
    )) as { alertId: string };
    const viewA = await m.alerts.get(a.alertId, SECURITY_VIEWER);
    const viewB = await m.alerts.get(b.alertId, SECURITY_VIEWER);
    expect(viewA.incidentId).not.toBeNull();
    expect(viewB.incidentId).toBe(viewA.incidentId);
    expect(m.updated.find((e) => e.alertId === a.alertId)?.change).toBe('grouped');
    const c = (await m.alerts.raise(
      alert({ rule: 'device.clock-skew', dedupKey: 'c', at: T0 + 120_000 }),
    )) as {
      alertId: string;
    };
    expect((await m.alerts.get(c.alertId, SECURITY_VIEWER)).incidentId).toBe(viewA.incidentId);
    const incident = await m.alerts.incidents.get(viewA.incidentId!);
    expect(incident).toMatchObject({
      severity: 'critical',
      state: 'open',
      alertCount: 3,
      deviceIds: ['dev-001'],
    });
    // Far outside the window: a new alert of that device starts on its own.
    const late = (await m.alerts.raise(
      alert({ rule: 'device.connects', dedupKey: 'late', at: T0 + 7_200_000 }),
    )) as {
      alertId: string;
    };
    expect((await m.alerts.get(late.alertId, SECURITY_VIEWER)).incidentId).toBeNull();
    // The same rule on two other devices close together: an incident by rule.
    const d1 = (await m.alerts.raise(
      alert({ rule: 'device.topic-spoof', deviceId: 'dev-101', dedupKey: 't1', at: T0 + 7_300_000 }),
    )) as {
      alertId: string;
    };
    const d2 = (await m.alerts.raise(
      alert({ rule: 'device.topic-spoof', deviceId: 'dev-102', dedupKey: 't2', at: T0 + 7_310_000 }),
    )) as {
      alertId: string;
    };
    const byRule = (await m.alerts.get(d2.alertId, SECURITY_VIEWER)).incidentId;
    expect(byRule).not.toBeNull();
    expect((await m.alerts.get(d1.alertId, SECURITY_VIEWER)).incidentId).toBe(byRule);
    expect((await m.alerts.incidents.get(byRule!)).deviceIds).toEqual(['dev-101', 'dev-102']);
    // Closing every alert of an incident resolves it.
    for (const id of [a.alertId, b.alertId, c.alertId])
      await m.alerts.change(id, 'resolved', ANALYST, 'contained', SECURITY_VIEWER);
    expect((await m.alerts.incidents.get(viewA.incidentId!)).state).toBe('resolved');
    expect(await codeOf(m.alerts.incidents.get('in_missing'))).toBe('INCIDENT_NOT_FOUND');
    expect((await m.alerts.incidents.list({ state: 'open' })).map((i) => i.id)).toEqual([byRule]);
  });

  it('escalates unacknowledged alerts after their severity delay, repeatedly, up to the maximum', async () => {
    const crit = (await m.alerts.raise(alert({ severity: 'critical', dedupKey: 'crit' }))) as {
      alertId: string;
    };
    const acked = (await m.alerts.raise(
      alert({ severity: 'critical', dedupKey: 'acked', deviceId: 'dev-050' }),
    )) as {
      alertId: string;
    };
    const low = (await m.alerts.raise(alert({ severity: 'low', dedupKey: 'low', deviceId: 'dev-051' }))) as {
      alertId: string;
    };
    await m.alerts.change(acked.alertId, 'acknowledged', ANALYST, null, SECURITY_VIEWER);
    expect(await m.alerts.escalate(T0 + 299_000)).toBe(0);
    expect(await m.alerts.escalate(T0 + 300_000)).toBe(1);
    expect(m.updated.filter((e) => e.change === 'escalated')).toEqual([
      expect.objectContaining({ alertId: crit.alertId, escalationLevel: 1, actor: 'system' }),
    ]);
    expect(await m.alerts.escalate(T0 + 400_000)).toBe(0);
    expect(await m.alerts.escalate(T0 + 600_000)).toBe(1);
    expect(await m.alerts.escalate(T0 + 900_000)).toBe(1);
    expect(await m.alerts.escalate(T0 + 1_200_000)).toBe(0);
    expect((await m.alerts.get(crit.alertId, SECURITY_VIEWER)).escalationLevel).toBe(3);
    expect((await m.alerts.get(acked.alertId, SECURITY_VIEWER)).escalationLevel).toBe(0);
    expect((await m.alerts.get(low.alertId, SECURITY_VIEWER)).escalationLevel).toBe(0);
  });

  it('never merges a report from another care unit into an open alert: the new unit gets its own', async () => {
    const news2 = (careUnit: string, at: number, score: number) =>
      alert({
        category: 'clinical',
        rule: 'clinical.news2',
        title: 'NEWS2 medium',
        careUnit,
        patientId: 'MRN-MOVE-1',
        evidence: { score },
        dedupKey: 'clinical.news2:patient-x:medium',
        at,
      });
    const icu = (await m.alerts.raise(news2('icu', T0, 6))) as { alertId: string };
    // The patient moved to the ward, where the same condition is reported again.
    const ward = (await m.alerts.raise(news2('ward-3', T0 + 60_000, 7))) as {
      outcome: string;
      alertId: string;
    };
    expect(ward.outcome).toBe('created');
    expect(ward.alertId).not.toBe(icu.alertId);
    // The ward sees its alert with the new evidence; the ICU keeps only what it saw.
    expect(await m.alerts.get(ward.alertId, clinicianViewer('ward-3'))).toMatchObject({
      careUnit: 'ward-3',
      count: 1,
      evidence: { score: 7 },
    });
    expect(await m.alerts.get(icu.alertId, clinicianViewer('icu'))).toMatchObject({
      careUnit: 'icu',
      count: 1,
      evidence: { score: 6 },
    });
    expect(await codeOf(m.alerts.get(ward.alertId, clinicianViewer('icu')))).toBe('ALERT_NOT_FOUND');
    // Reported again from the ward: merged into the ward's alert.
    expect(await m.alerts.raise(news2('ward-3', T0 + 120_000, 7))).toEqual({
      outcome: 'deduplicated',
      alertId: ward.alertId,
    });
  });

  it('keeps a clinical alert patient and evidence encrypted, shown only to those who may read the patient', async () => {
    const { alertId } = (await m.alerts.raise(
      alert({
        category: 'clinical',
        rule: 'clinical.news2',
        title: 'NEWS2 high',
        careUnit: 'icu',
        patientId: 'MRN-4711',
        evidence: { score: 7, spo2: 88 },
        dedupKey: 'news2:dev-001',
      }),
    )) as { alertId: string };
    const row = await m.t.store.db
      .selectFrom('alerts')
      .selectAll()
      .where('id', '=', alertId)
      .executeTakeFirstOrThrow();
    const flat = JSON.stringify({ ...row, sealed: Buffer.from(row.sealed!).toString('latin1') });
    expect(flat).not.toContain('MRN-4711');
    expect(flat).not.toContain('"spo2"');
    expect(row.evidence).toBeNull();
    expect(row.patient_index).toBeTruthy();
    const nurse = await m.alerts.get(alertId, clinicianViewer('icu'));
    expect(nurse.patientId).toBe('MRN-4711');
    expect(nurse.evidence).toEqual({ score: 7, spo2: 88 });
    expect(m.audit.of('patient.read')).toEqual([
      expect.objectContaining({ resource: { type: 'patient', id: row.patient_index } }),
    ]);
    const analyst = await m.alerts.get(alertId, SECURITY_VIEWER);
    expect(analyst.patientId).toBeUndefined();
    expect(analyst.evidence).toEqual({ restricted: true });
    // A clinician's reason on a clinical alert is opened only for those who may read the patient.
    const nurseActor = { ...ANALYST, id: 'u-nurse', name: 'nurse' };
    await m.alerts.change(
      alertId,
      'acknowledged',
      nurseActor,
      'Mr Smith repositioned',
      clinicianViewer('icu'),
    );
    const acknowledged = (v: { history?: Array<{ change: string }> }) =>
      v.history?.find((h) => h.change === 'acknowledged');
    expect(acknowledged(await m.alerts.get(alertId, clinicianViewer('icu')))).toMatchObject({
      reason: 'Mr Smith repositioned',
    });
    expect(acknowledged(await m.alerts.get(alertId, SECURITY_VIEWER))).toMatchObject({
      change: 'acknowledged',
      reason: null,
      restricted: true,
    });
    expect(await codeOf(m.alerts.get(alertId, clinicianViewer('ward-3')))).toBe('ALERT_NOT_FOUND');
    expect(m.raised[0]).not.toHaveProperty('patientId');
    expect(JSON.stringify(m.raised)).not.toContain('MRN-4711');
    // Clinicians never see security alerts, and only their units' clinical ones.
    await m.alerts.raise(alert({ dedupKey: 'sec' }));
    expect((await m.alerts.list({}, clinicianViewer('icu'))).items.map((a) => a.id)).toEqual([alertId]);
    expect((await m.alerts.list({}, clinicianViewer('ward-3'))).items).toEqual([]);
  });

  it('seals reasons stored in clear before migration 016 at start, and retention clears them with the keys', async () => {
    const { alertId } = (await m.alerts.raise(alert())) as { alertId: string };
    await m.t.store.db
      .insertInto('alert_history')
      .values([
        {
          id: 'ah_legacy1',
          alert_id: alertId,
          change: 'acknowledged',
          actor: 'analyst',
          reason: 'legacy text',
          reason_sealed: null,
          reason_period: null,
          at: T0 + 1,
        },
        {
          id: 'ah_legacy2',
          alert_id: alertId,
          change: 'escalated',
          actor: 'system',
          reason: 'level 1',
          reason_sealed: null,
          reason_period: null,
          at: T0 + 2,
        },
      ])
      .execute();
    expect(await m.alerts.sealLegacyReasons()).toBe(1);
    expect(await m.alerts.sealLegacyReasons()).toBe(0);
    const rows = await m.t.store.db
      .selectFrom('alert_history')
      .selectAll()
      .where('alert_id', '=', alertId)
      .execute();
    expect(rows.find((r) => r.id === 'ah_legacy1')).toMatchObject({ reason: null, reason_period: '2026-01' });
    expect(rows.find((r) => r.id === 'ah_legacy2')).toMatchObject({ reason: 'level 1', reason_sealed: null });
    const view = await m.alerts.get(alertId, SECURITY_VIEWER);
    expect(view.history?.map((h) => h.reason)).toEqual([null, 'legacy text', 'level 1']);
    await m.alerts.expirePatientData('2026-02');
    const after = await m.t.store.db
      .selectFrom('alert_history')
      .selectAll()
      .where('id', '=', 'ah_legacy1')
      .executeTakeFirstOrThrow();
    expect(after).toMatchObject({ reason: null, reason_sealed: null, reason_period: null });
    expect((await m.alerts.get(alertId, SECURITY_VIEWER)).history?.map((h) => h.reason)).toEqual([
      null,
      null,
      'level 1',
    ]);
  });

  it("retention removes a clinical alert's patient data of past periods and shreds its keys; the alert stays", async () => {
    const raise = async (at: number, key: string) =>
      (
        (await m.alerts.raise(
          alert({
            category: 'clinical',
            rule: 'clinical.news2',
            careUnit: 'icu',
            patientId: 'MRN-4711',
            evidence: { score: 7, spo2: 88 },
            dedupKey: key,
            at,
          }),
        )) as { alertId: string }
      ).alertId;
    const january = await raise(T0, 'news2:jan');
    const february = await raise(Date.UTC(2026, 1, 3), 'news2:feb');
    const security = (await m.alerts.raise(alert({ dedupKey: 'sec' }))) as { alertId: string };
    const securityBefore = await m.alerts.get(security.alertId, SECURITY_VIEWER);
    const before = await m.t.store.db
      .selectFrom('alerts')
      .selectAll()
      .where('id', '=', january)
      .executeTakeFirstOrThrow();

    expect(await m.alerts.expirePatientData('2026-02')).toEqual({ cleared: 1, shreddedKeys: 1 });
    const gone = await m.alerts.get(january, clinicianViewer('icu'));
    expect(gone.patientId).toBeUndefined();
    expect(gone.evidence).toEqual({ removed: 'patient data past its retention period' });
    expect(gone).toMatchObject({ rule: 'clinical.news2', severity: before.severity, careUnit: 'icu' });
    const row = await m.t.store.db
      .selectFrom('alerts')
      .selectAll()
      .where('id', '=', january)
      .executeTakeFirstOrThrow();
    expect([row.sealed, row.patient_index, row.key_period]).toEqual([null, null, null]);
    // A copy of the sealed bytes taken before cannot be opened any more: its key is gone.
    await expect(m.f.keys.decrypt(before.sealed!, Buffer.from('x'))).rejects.toMatchObject({
      code: 'KEY_SHREDDED',
    });
    // February's alert and the security alert are untouched.
    expect((await m.alerts.get(february, clinicianViewer('icu'))).patientId).toBe('MRN-4711');
    expect(await m.alerts.get(security.alertId, SECURITY_VIEWER)).toEqual(securityBefore);
    expect(await m.alerts.expirePatientData('2026-02')).toEqual({ cleared: 0, shreddedKeys: 0 });
  });

  it('lists newest first with filters and a keyset cursor; a bad cursor has a stable code', async () => {
    for (let i = 0; i < 5; i++)
      await m.alerts.raise(
        alert({
          dedupKey: `k${i}`,
          deviceId: `dev-${i}`,
          at: T0 + i * 1000,
          severity: i % 2 ? 'low' : 'high',
        }),
      );
    const page1 = await m.alerts.list({ limit: 2 }, SECURITY_VIEWER);
    expect(page1.items.map((a) => a.deviceId)).toEqual(['dev-4', 'dev-3']);
    const page2 = await m.alerts.list({ limit: 2, cursor: page1.next! }, SECURITY_VIEWER);
    expect(page2.items.map((a) => a.deviceId)).toEqual(['dev-2', 'dev-1']);
    const page3 = await m.alerts.list({ limit: 2, cursor: page2.next! }, SECURITY_VIEWER);
    expect(page3.items.map((a) => a.deviceId)).toEqual(['dev-0']);
    expect(page3.next).toBeNull();
    expect((await m.alerts.list({ severity: 'low' }, SECURITY_VIEWER)).items.map((a) => a.deviceId)).toEqual([
      'dev-3',
      'dev-1',
    ]);
    expect((await m.alerts.list({ deviceId: 'dev-2' }, SECURITY_VIEWER)).items).toHaveLength(1);
    expect(await codeOf(m.alerts.list({ cursor: 'bm9wZQ' }, SECURITY_VIEWER))).toBe('ALERT_CURSOR_INVALID');
  });
});
