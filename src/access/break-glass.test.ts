import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { describeEachDialect } from '../testing/dialects.js';
import type { TestStore } from '../testing/stores.js';
import type { Principal } from './principal.js';
import { type AccessFixture, accessFixture, auditMentions, GOOD_PASSWORD } from './test-support.js';

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { code?: string }) => e.code ?? String(e),
  );

describeEachDialect('access: care units and break-glass', (open) => {
  let t: TestStore;
  let f: AccessFixture;
  let carol: Principal;
  beforeAll(async () => {
    t = await open();
  });
  afterAll(async () => {
    await t.cleanup();
  });
  beforeEach(async () => {
    f = accessFixture(t.store);
    await t.store.db.deleteFrom('break_glass').execute();
    await t.store.db.deleteFrom('api_tokens').execute();
    await t.store.db.deleteFrom('users').execute();
    await f.access.users.add({
      username: 'carol',
      password: GOOD_PASSWORD,
      role: 'clinician',
      careUnits: ['icu-2'],
    });
    const { access_token } = await f.access.login({ username: 'carol', password: GOOD_PASSWORD }, {});
    carol = await f.access.authenticate(`Bearer ${access_token}`, {});
  });

  it('keeps a clinician to its care units', () => {
    f.access.checkResource(carol, { careUnit: 'icu-2' });
    expect(() => f.access.checkResource(carol, { careUnit: 'ward-5' })).toThrow(
      expect.objectContaining({ code: 'ACCESS_CARE_UNIT_DENIED' }),
    );
  });

  it('opens other care units under break-glass, audited with breakGlass: true, until it expires', async () => {
    const reason = 'Rapid response call for a patient transferred from ward 5';
    const bg = await f.access.startBreakGlass(carol, { reason, minutes: 10 }, { source: '10.0.0.9' });
    expect(bg.expiresAt).toBe(f.clock.ms + 600_000);
    const under = await f.access.authenticate(`Bearer ${bg.access_token}`, {});
    expect(under.breakGlass).toEqual({ id: bg.id, expiresAt: bg.expiresAt });
    f.access.checkResource(under, { careUnit: 'ward-5' });
    expect(f.audit.last()).toMatchObject({
      action: 'break-glass.start',
      outcome: 'success',
      breakGlass: true,
      source: '10.0.0.9',
      actor: { type: 'user', name: 'carol' },
      resource: { type: 'break-glass', id: bg.id },
    });
    // The free text stays out of the audit log (the entry references the session) and is stored
    // only sealed; an auditor's review opens it, and that is audited too.
    expect(auditMentions(f.audit, [reason, bg.access_token])).toEqual([]);
    const row = await t.store.db.selectFrom('break_glass').selectAll().executeTakeFirstOrThrow();
    expect(row.reason).toBe('');
    expect(Buffer.from(row.reason_sealed!).toString('latin1')).not.toContain('ward 5');
    const auditor: Principal = { ...carol, id: 'aud-1', name: 'auditor', role: 'auditor' };
    const review = await f.access.listBreakGlass({}, auditor, 'req-9');
    expect(review).toEqual([
      expect.objectContaining({ id: bg.id, userId: carol.id, username: 'carol', reason }),
    ]);
    expect(f.audit.last()).toMatchObject({
      action: 'break-glass.review',
      actor: { name: 'auditor' },
      requestId: 'req-9',
    });
    expect(auditMentions(f.audit, [reason])).toEqual([]);
    f.clock.advance(600);
    expect(await codeOf(f.access.authenticate(`Bearer ${bg.access_token}`, {}))).toBe('AUTH_TOKEN_EXPIRED');
    expect(() => f.access.checkResource(under, { careUnit: 'ward-5' })).toThrow(
      expect.objectContaining({ code: 'ACCESS_CARE_UNIT_DENIED' }),
    );
  });

  it('seals reasons stored in clear before the column existed, once', async () => {
    const legacy = 'Legacy reason naming Mrs Example in bed 4';
    await t.store.db
      .insertInto('break_glass')
      .values({
        id: 'bg-old',
        user_id: carol.id,
        reason: legacy,
        reason_sealed: null,
        started_at: 1,
        expires_at: 2,
      })
      .execute();
    expect(await f.access.sealLegacyBreakGlassReasons()).toBe(1);
    expect(await f.access.sealLegacyBreakGlassReasons()).toBe(0);
    const row = await t.store.db
      .selectFrom('break_glass')
      .selectAll()
      .where('id', '=', 'bg-old')
      .executeTakeFirstOrThrow();
    expect(row.reason).toBe('');
    expect(Buffer.from(row.reason_sealed!).toString('latin1')).not.toContain('Example');
    const [opened] = await f.access.listBreakGlass({}, carol);
    expect(opened).toMatchObject({ id: 'bg-old', reason: legacy });
  });

  it('starts only from a signed-in session: not from a break-glass token, not from an API token', async () => {
    const reason = 'Rapid response call on ward 5';
    const bg = await f.access.startBreakGlass(carol, { reason }, {});
    const under = await f.access.authenticate(`Bearer ${bg.access_token}`, {});
    // A break-glass token minting the next would renew itself without end.
    expect(await codeOf(f.access.startBreakGlass(under, { reason }, {}))).toBe('ACCESS_BREAK_GLASS_REFUSED');
    expect(f.audit.last()).toMatchObject({
      action: 'break-glass.start',
      outcome: 'denied',
      code: 'ACCESS_BREAK_GLASS_REFUSED',
    });
    // An API token would carry the session past its own revocation.
    const api = await f.access.createApiToken({ username: 'carol', name: 'kiosk', ttlSeconds: 3600 });
    const viaToken = await f.access.authenticate(`Bearer ${api.token}`, {});
    expect(await codeOf(f.access.startBreakGlass(viaToken, { reason }, {}))).toBe(
      'ACCESS_BREAK_GLASS_REFUSED',
    );
    expect(await t.store.db.selectFrom('break_glass').select('id').execute()).toHaveLength(1);
  });

  it('refuses break-glass without a reason, audited, and stores no session', async () => {
    for (const reason of ['', '   ', undefined as unknown as string]) {
      expect(await codeOf(f.access.startBreakGlass(carol, { reason }, {}))).toBe(
        'ACCESS_BREAK_GLASS_REASON_REQUIRED',
      );
    }
    expect(f.audit.last()).toMatchObject({
      outcome: 'failure',
      code: 'ACCESS_BREAK_GLASS_REASON_REQUIRED',
      breakGlass: true,
    });
    expect(await t.store.db.selectFrom('break_glass').selectAll().execute()).toEqual([]);
  });

  it('caps the duration at breakGlassMaxMinutes and refuses roles without break-glass:use', async () => {
    const bg = await f.access.startBreakGlass(carol, { reason: 'Code blue in ward 5', minutes: 600 }, {});
    expect(bg.expiresAt - f.clock.ms).toBe(30 * 60_000);
    expect(bg.expires_in).toBe(30 * 60);
    expect(await codeOf(f.access.startBreakGlass(carol, { reason: 'Code blue', minutes: 0 }, {}))).toBe(
      'VALIDATION_FAILED',
    );
    const admin = { ...carol, role: 'admin' as const };
    expect(await codeOf(f.access.startBreakGlass(admin, { reason: 'Code blue' }, {}))).toBe('ACCESS_DENIED');
  });

  it('refuses a token whose break-glass session does not exist', async () => {
    const bg = await f.access.startBreakGlass(carol, { reason: 'Code blue in ward 5' }, {});
    await t.store.db.deleteFrom('break_glass').execute();
    expect(await codeOf(f.access.authenticate(`Bearer ${bg.access_token}`, {}))).toBe('AUTH_TOKEN_INVALID');
  });
});
