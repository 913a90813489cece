import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { describeEachDialect } from '../testing/dialects.js';
import type { TestStore } from '../testing/stores.js';
import { type AccessFixture, accessFixture, auditMentions, GOOD_PASSWORD } from './test-support.js';

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { code?: string }) => e.code ?? String(e),
  );

describeEachDialect('access: users and password login', (open) => {
  let t: TestStore;
  let f: AccessFixture;
  beforeAll(async () => {
    t = await open();
  });
  afterAll(async () => {
    await t.cleanup();
  });
  beforeEach(() => {
    f = accessFixture(t.store);
  });

  it('logs a user in, returns a bearer token and audits the success with its source', async () => {
    await f.access.users.add({
      username: 'alice',
      password: GOOD_PASSWORD,
      role: 'clinician',
      careUnits: ['icu-2'],
    });
    const res = await f.access.login({ username: 'alice', password: GOOD_PASSWORD }, { source: '10.0.0.5' });
    expect(res.token_type).toBe('Bearer');
    expect(res.expires_in).toBe(900);
    const who = await f.access.authenticate(`Bearer ${res.access_token}`, {});
    expect(who).toMatchObject({
      kind: 'user',
      name: 'alice',
      role: 'clinician',
      careUnits: ['icu-2'],
      scopes: [],
    });
    expect(f.audit.last()).toMatchObject({
      action: 'auth.login',
      outcome: 'success',
      source: '10.0.0.5',
      actor: { type: 'user', name: 'alice', role: 'clinician' },
    });
    expect(auditMentions(f.audit, [GOOD_PASSWORD, res.access_token])).toEqual([]);
  });

  it('refuses a bad password and an unknown user with the same generic error, both audited', async () => {
    await f.access.users.add({ username: 'bob', password: GOOD_PASSWORD, role: 'auditor' });
    const wrong = await f.access.login({ username: 'bob', password: 'not the password' }, {}).catch((e) => e);
    const unknown = await f.access.login({ username: 'nobody', password: GOOD_PASSWORD }, {}).catch((e) => e);
    expect(wrong.code).toBe('AUTH_INVALID_CREDENTIALS');
    expect(unknown.code).toBe('AUTH_INVALID_CREDENTIALS');
    expect(wrong.message).toBe(unknown.message);
    const failures = f.audit.of('auth.login').filter((e) => e.outcome === 'failure');
    expect(failures.map((e) => e.actor.type)).toEqual(['user', 'anonymous']);
    expect(failures.every((e) => e.code === 'AUTH_INVALID_CREDENTIALS')).toBe(true);
    expect(auditMentions(f.audit, ['not the password', GOOD_PASSWORD, 'nobody'])).toEqual([]);
  });

  it('narrows a session to the user/ scopes asked for, and refuses scopes of another context', async () => {
    await f.access.users.add({
      username: 'dora',
      password: GOOD_PASSWORD,
      role: 'clinician',
      careUnits: ['ICU'],
    });
    const scoped = await f.access.login(
      { username: 'dora', password: GOOD_PASSWORD, scope: 'user/Observation.rs' },
      {},
    );
    const principal = await f.access.authenticate(`Bearer ${scoped.access_token}`, {});
    expect(principal.scopes).toEqual(['user/Observation.rs']);
    expect(() => f.access.authorize(principal, 'telemetry:read')).not.toThrow();
    // The role would allow these; the session's scopes do not.
    expect(() => f.access.authorize(principal, 'devices:read')).toThrow(
      expect.objectContaining({ code: 'ACCESS_DENIED' }),
    );
    expect(() => f.access.authorize(principal, 'patients:read')).toThrow(
      expect.objectContaining({ code: 'ACCESS_DENIED' }),
    );
    for (const scope of ['system/*.rs', 'patient/*.read', 'user/Observation.rs openid', '', 'user/Nope.x'])
      expect(
        await codeOf(f.access.login({ username: 'dora', password: GOOD_PASSWORD, scope }, {})),
        scope,
      ).toBe('VALIDATION_FAILED');
    const plain = await f.access.login({ username: 'dora', password: GOOD_PASSWORD }, {});
    expect((await f.access.authenticate(`Bearer ${plain.access_token}`, {})).scopes).toEqual([]);
  });

  it('locks the account after maxFailedLogins failures, even for the right password, and unlocks after lockoutSeconds', async () => {
    await f.access.users.add({ username: 'carol', password: GOOD_PASSWORD, role: 'clinician' });
    for (let i = 0; i < 3; i++) {
      expect(await codeOf(f.access.login({ username: 'carol', password: `wrong-${i}-password` }, {}))).toBe(
        'AUTH_INVALID_CREDENTIALS',
      );
    }
    // Locked: even the right password gets the wrong-password answer (no password oracle, no
    // username probing); the audit entry records the lock.
    const locked = await f.access.login({ username: 'carol', password: GOOD_PASSWORD }, {}).catch((e) => e);
    expect(locked.code).toBe('AUTH_INVALID_CREDENTIALS');
    expect(locked.message).toBe('Invalid credentials');
    expect((await f.access.users.get('carol')).locked).toBe(true);
    expect(f.audit.last()).toMatchObject({
      action: 'auth.login',
      outcome: 'failure',
      code: 'AUTH_ACCOUNT_LOCKED',
    });

    expect(await codeOf(f.access.login({ username: 'carol', password: 'still-wrong-password' }, {}))).toBe(
      'AUTH_INVALID_CREDENTIALS',
    );
    f.clock.advance(59);
    expect(await codeOf(f.access.login({ username: 'carol', password: GOOD_PASSWORD }, {}))).toBe(
      'AUTH_INVALID_CREDENTIALS',
    );
    expect(f.audit.last()).toMatchObject({ code: 'AUTH_ACCOUNT_LOCKED' });
    f.clock.advance(1);
    expect(await codeOf(f.access.login({ username: 'carol', password: GOOD_PASSWORD }, {}))).toBe('ok');
    expect((await f.access.users.get('carol')).locked).toBe(false);
  });

  it('counts attempts made in parallel: at most maxFailedLogins are judged, the rest meet the lock', async () => {
    await f.access.users.add({ username: 'hugo', password: GOOD_PASSWORD, role: 'clinician' });
    const before = f.audit.events.length;
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        codeOf(f.access.login({ username: 'hugo', password: `wrong-${i}-password` }, {})),
      ),
    );
    expect(new Set(answers)).toEqual(new Set(['AUTH_INVALID_CREDENTIALS']));
    const codes = f.audit.events.slice(before).map((e) => (e as { code?: string }).code);
    // maxFailedLogins is 3 here: three guesses were checked, nine met the lock.
    expect(codes.filter((c) => c === 'AUTH_INVALID_CREDENTIALS')).toHaveLength(3);
    expect(codes.filter((c) => c === 'AUTH_ACCOUNT_LOCKED')).toHaveLength(9);
    expect(await codeOf(f.access.login({ username: 'hugo', password: GOOD_PASSWORD }, {}))).toBe(
      'AUTH_INVALID_CREDENTIALS',
    );
    expect((await f.access.users.get('hugo')).locked).toBe(true);
  });

  it('counts only consecutive failures: a success resets the counter', async () => {
    await f.access.users.add({ username: 'dave', password: GOOD_PASSWORD, role: 'auditor' });
    for (const password of [
      'wrong-password-1',
      'wrong-password-2',
      GOOD_PASSWORD,
      'wrong-password-3',
      'wrong-password-4',
    ]) {
      await f.access.login({ username: 'dave', password }, {}).catch(() => undefined);
    }
    expect(await codeOf(f.access.login({ username: 'dave', password: GOOD_PASSWORD }, {}))).toBe('ok');
  });

  it('refuses a disabled user (login and existing tokens) and lets it back in when enabled', async () => {
    await f.access.users.add({ username: 'erin', password: GOOD_PASSWORD, role: 'auditor' });
    const { access_token } = await f.access.login({ username: 'erin', password: GOOD_PASSWORD }, {});
    await f.access.users.disable('erin');
    expect(f.audit.last()).toMatchObject({
      action: 'user.disable',
      outcome: 'success',
      actor: { type: 'system' },
    });
    // The right password on a disabled account answers like a wrong one (no password oracle);
    // the audit entry says why.
    expect(await codeOf(f.access.login({ username: 'erin', password: GOOD_PASSWORD }, {}))).toBe(
      'AUTH_INVALID_CREDENTIALS',
    );
    expect(f.audit.last()).toMatchObject({ action: 'auth.login', code: 'AUTH_ACCOUNT_DISABLED' });
    expect(await codeOf(f.access.authenticate(`Bearer ${access_token}`, {}))).toBe('AUTH_ACCOUNT_DISABLED');
    await f.access.users.enable('erin');
    expect(await codeOf(f.access.authenticate(`Bearer ${access_token}`, {}))).toBe('ok');
  });

  it('lets a vendor account in only inside its access window', async () => {
    const now = f.clock.ms;
    await f.access.users.add({
      username: 'vendor.acme',
      password: GOOD_PASSWORD,
      role: 'vendor-service',
      vendorDevices: ['pump-7'],
      accessNotBefore: now + 3600_000,
      accessNotAfter: now + 7200_000,
    });
    expect(await codeOf(f.access.login({ username: 'vendor.acme', password: GOOD_PASSWORD }, {}))).toBe(
      'ACCESS_VENDOR_WINDOW_CLOSED',
    );
    expect(f.audit.last()).toMatchObject({ outcome: 'denied', code: 'ACCESS_VENDOR_WINDOW_CLOSED' });
    f.clock.advance(3600);
    const { access_token } = await f.access.login({ username: 'vendor.acme', password: GOOD_PASSWORD }, {});
    const vendor = await f.access.authenticate(`Bearer ${access_token}`, {});
    expect(vendor.vendorDevices).toEqual(['pump-7']);
    f.access.checkResource(vendor, { deviceId: 'pump-7' });
    expect(() => f.access.checkResource(vendor, { deviceId: 'pump-8' })).toThrow(
      expect.objectContaining({ code: 'ACCESS_DENIED' }),
    );
    f.clock.advance(3600);
    expect(await codeOf(f.access.authenticate(`Bearer ${access_token}`, {}))).toBe('AUTH_TOKEN_EXPIRED');
    const api = await f.access.createApiToken({ username: 'vendor.acme', name: 'laptop' });
    expect(await codeOf(f.access.authenticate(`Bearer ${api.token}`, {}))).toBe(
      'ACCESS_VENDOR_WINDOW_CLOSED',
    );
  });

  it('validates new users and stores nothing for bad input', async () => {
    const cases: Array<[Parameters<typeof f.access.users.add>[0], string]> = [
      [{ username: 'Frank', password: GOOD_PASSWORD, role: 'auditor' }, 'VALIDATION_FAILED'],
      [{ username: 'f', password: GOOD_PASSWORD, role: 'auditor' }, 'VALIDATION_FAILED'],
      [{ username: 'frank', password: GOOD_PASSWORD, role: 'root' as never }, 'VALIDATION_FAILED'],
      [
        { username: 'frank', password: GOOD_PASSWORD, role: 'clinician', careUnits: ['bad unit'] },
        'VALIDATION_FAILED',
      ],
      [{ username: 'frank', password: GOOD_PASSWORD, role: 'vendor-service' }, 'VALIDATION_FAILED'],
      [{ username: 'frank', password: 'short', role: 'auditor' }, 'USER_PASSWORD_WEAK'],
    ];
    for (const [input, code] of cases) expect(await codeOf(f.access.users.add(input))).toBe(code);
    expect(await codeOf(f.access.users.get('frank'))).toBe('USER_NOT_FOUND');
    await f.access.users.add({ username: 'frank', password: GOOD_PASSWORD, role: 'auditor' });
    expect(
      await codeOf(f.access.users.add({ username: 'frank', password: GOOD_PASSWORD, role: 'admin' })),
    ).toBe('USER_EXISTS');
    expect((await f.access.users.get('frank')).role).toBe('auditor');
    expect(await codeOf(f.access.users.disable('nobody'))).toBe('USER_NOT_FOUND');
  });

  it('never exposes the password hash in a user view', async () => {
    await f.access.users.add({ username: 'gina', password: GOOD_PASSWORD, role: 'auditor' });
    const listed = JSON.stringify(await f.access.users.list());
    expect(listed).not.toContain('scrypt');
    expect(listed).toContain('gina');
    expect(f.audit.of('user.create').length).toBe(1);
  });
});
