import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildHttpServer, createMetricsRegistry, type PulsegateHttp } from '../http/index.js';
import { describeEachDialect } from '../testing/dialects.js';
import type { TestStore } from '../testing/stores.js';
import { JWT_BEARER_ASSERTION } from './oauth-token.js';
import { accessRoutes } from './routes.js';
import { type AccessFixture, accessFixture, GOOD_PASSWORD, TEST_ISSUER } from './test-support.js';

describeEachDialect('access routes over the real HTTP layer', (open) => {
  let t: TestStore;
  let f: AccessFixture;
  let app: PulsegateHttp;
  let admin: string;
  let carol: string;
  beforeAll(async () => {
    t = await open();
    f = accessFixture(t.store);
    app = await buildHttpServer({
      auth: f.access,
      audit: f.audit,
      logger: pino({ level: 'silent' }),
      metrics: createMetricsRegistry(),
      ready: async () => true,
      routes: [accessRoutes({ access: f.access, loginRateLimitPerMinute: 5 })],
      bodyLimitBytes: 65_536,
      publicUrl: TEST_ISSUER,
      version: 'test',
    });
    await f.access.users.add({ username: 'root', password: GOOD_PASSWORD, role: 'admin' });
    admin = `Bearer ${(await f.access.createApiToken({ username: 'root', name: 'test' })).token}`;
    await f.access.users.add({
      username: 'carol',
      password: GOOD_PASSWORD,
      role: 'clinician',
      careUnits: ['icu-2'],
    });
    carol = `Bearer ${(await f.access.login({ username: 'carol', password: GOOD_PASSWORD }, {})).access_token}`;
  });
  afterAll(async () => {
    await app.close();
    await t.cleanup();
  });

  const inject = (method: 'GET' | 'POST' | 'DELETE', url: string, authorization?: string, payload?: object) =>
    app.inject({
      method,
      url,
      ...(authorization ? { headers: { authorization } } : {}),
      ...(payload ? { payload } : {}),
    });

  it('logs in (public), answers problem+json with a code on failure, and rate-limits', async () => {
    const ok = await inject('POST', '/api/v1/auth/login', undefined, {
      username: 'carol',
      password: GOOD_PASSWORD,
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['cache-control']).toBe('no-store');
    expect(Object.keys(ok.json()).sort()).toEqual(['access_token', 'expires_in', 'token_type']);
    const bad = await inject('POST', '/api/v1/auth/login', undefined, {
      username: 'carol',
      password: 'wrong password!',
    });
    expect(bad.statusCode).toBe(401);
    expect(bad.headers['content-type']).toContain('application/problem+json');
    expect(bad.json().code).toBe('AUTH_INVALID_CREDENTIALS');
    const extra = await inject('POST', '/api/v1/auth/login', undefined, {
      username: 'carol',
      password: 'x',
      admin: true,
    });
    expect(extra.json().code).toBe('VALIDATION_FAILED');
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) {
      codes.push(
        (await inject('POST', '/api/v1/auth/login', undefined, { username: 'zed', password: 'x' }))
          .statusCode,
      );
    }
    expect(codes.at(-1)).toBe(429);
  });

  it('serves the token endpoint with RFC 6749 errors, never problem+json', async () => {
    const pair = await generateKeyPair('ES384', { extractable: true });
    const id = `svc-${randomUUID().slice(0, 6)}`;
    const reg = await inject('POST', '/api/v1/clients', admin, {
      id,
      name: 'Lab system',
      role: 'integration',
      scopes: ['system/Observation.cruds'],
      jwks: { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES384' }] },
    });
    expect(reg.statusCode).toBe(201);
    const jwt = await new SignJWT({ iss: id, sub: id, aud: `${TEST_ISSUER}/oauth/token`, jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES384', kid: 'k1' })
      .setExpirationTime(Math.floor(f.clock.ms / 1000) + 120)
      .sign(pair.privateKey);
    const post = (form: Record<string, string>) =>
      app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams(form).toString(),
      });
    const form = {
      grant_type: 'client_credentials',
      client_assertion_type: JWT_BEARER_ASSERTION,
      client_assertion: jwt,
    };
    const ok = await post({ ...form, scope: 'system/Observation.rs', extension_param: 'ignored' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ token_type: 'Bearer', scope: 'system/Observation.rs' });
    expect(ok.headers['cache-control']).toBe('no-store');
    const me = await inject('GET', '/api/v1/me', `Bearer ${ok.json().access_token}`);
    expect(me.json()).toMatchObject({ kind: 'client', id, permissions: ['telemetry:read'] });

    const replay = await post(form);
    expect([replay.statusCode, replay.json()]).toEqual([
      401,
      { error: 'invalid_client', error_description: 'Client authentication failed' },
    ]);
    expect((await post({ ...form, grant_type: 'password' })).json().error).toBe('unsupported_grant_type');
    expect((await post({ client_assertion: jwt })).json().error).toBe('invalid_request');
    const repeated = await app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'grant_type=client_credentials&grant_type=client_credentials',
    });
    expect([repeated.statusCode, repeated.json().error]).toEqual([400, 'invalid_request']);
  });

  it('publishes the JWKS publicly and answers /me for any authenticated caller', async () => {
    const jwks = await inject('GET', '/.well-known/jwks.json');
    expect(jwks.statusCode).toBe(200);
    expect(jwks.json().keys[0]).not.toHaveProperty('d');
    expect((await inject('GET', '/api/v1/me')).json().code).toBe('AUTH_REQUIRED');
    const me = await inject('GET', '/api/v1/me', carol);
    expect(me.json()).toMatchObject({ kind: 'user', name: 'carol', role: 'clinician', careUnits: ['icu-2'] });
  });

  it('administers users with permissions enforced', async () => {
    expect((await inject('GET', '/api/v1/users', carol)).json().code).toBe('ACCESS_DENIED');
    const created = await inject('POST', '/api/v1/users', admin, {
      username: 'dave',
      password: GOOD_PASSWORD,
      role: 'auditor',
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).not.toHaveProperty('password_hash');
    expect(
      (
        await inject('POST', '/api/v1/users', admin, {
          username: 'dave',
          password: GOOD_PASSWORD,
          role: 'auditor',
        })
      ).json().code,
    ).toBe('USER_EXISTS');
    expect(
      (
        await inject('POST', '/api/v1/users', admin, { username: 'eve', password: 'short', role: 'auditor' })
      ).json().code,
    ).toBe('USER_PASSWORD_WEAK');
    expect((await inject('POST', '/api/v1/users/dave/disable', admin)).statusCode).toBe(204);
    const list = (await inject('GET', '/api/v1/users', admin)).json() as Array<{
      username: string;
      disabled: boolean;
    }>;
    expect(list.find((u) => u.username === 'dave')?.disabled).toBe(true);
    expect(JSON.stringify(list)).not.toContain('scrypt');
  });

  it('creates API tokens for oneself, for others only as admin', async () => {
    await f.access.users.add({ username: 'sam', password: GOOD_PASSWORD, role: 'security-analyst' });
    const sam = `Bearer ${(await f.access.login({ username: 'sam', password: GOOD_PASSWORD }, {})).access_token}`;
    const own = await inject('POST', '/api/v1/tokens', sam, { name: 'laptop' });
    expect(own.statusCode).toBe(201);
    expect((await inject('GET', '/api/v1/me', `Bearer ${own.json().token}`)).json().name).toBe('sam');
    expect((await inject('POST', '/api/v1/tokens', sam, { name: 'x', username: 'root' })).json().code).toBe(
      'ACCESS_DENIED',
    );
    expect(
      (await inject('POST', '/api/v1/tokens', admin, { name: 'for sam', username: 'sam' })).statusCode,
    ).toBe(201);
    expect((await inject('DELETE', `/api/v1/tokens/${own.json().id}`, sam)).statusCode).toBe(204);
    expect((await inject('GET', '/api/v1/me', `Bearer ${own.json().token}`)).json().code).toBe(
      'AUTH_TOKEN_REVOKED',
    );
    expect((await inject('POST', '/api/v1/tokens', carol, { name: 'x' })).json().code).toBe('ACCESS_DENIED');
  });

  it('gives an API token 30 days unless asked, and refuses more than 365 days storing nothing', async () => {
    const DAY_MS = 86_400_000;
    const plain = await inject('POST', '/api/v1/tokens', admin, { name: 'ci' });
    expect(plain.statusCode).toBe(201);
    expect(plain.json().expiresAt).toBe(f.clock.ms + 30 * DAY_MS);
    const year = await inject('POST', '/api/v1/tokens', admin, { name: 'ci', ttlSeconds: 365 * 86_400 });
    expect(year.json().expiresAt).toBe(f.clock.ms + 365 * DAY_MS);
    const count = async () => (await t.store.db.selectFrom('api_tokens').select('id').execute()).length;
    const before = await count();
    for (const ttlSeconds of [365 * 86_400 + 1, 59, '3600', null]) {
      const r = await inject('POST', '/api/v1/tokens', admin, { name: 'ci', ttlSeconds });
      expect([r.statusCode, r.json().code], String(ttlSeconds)).toEqual([400, 'VALIDATION_FAILED']);
    }
    expect(await count()).toBe(before);
  });

  it('starts break-glass only with a reason, and /me shows the session', async () => {
    const none = await inject('POST', '/api/v1/break-glass', carol, {});
    expect([none.statusCode, none.json().code]).toEqual([400, 'ACCESS_BREAK_GLASS_REASON_REQUIRED']);
    const bg = await inject('POST', '/api/v1/break-glass', carol, {
      reason: 'Code blue, ward 5',
      minutes: 5,
    });
    expect(bg.statusCode).toBe(201);
    const me = await inject('GET', '/api/v1/me', `Bearer ${bg.json().access_token}`);
    expect(me.json().breakGlass).toEqual({ id: bg.json().id, expiresAt: bg.json().expiresAt });
    expect(f.audit.of('break-glass.access').length).toBeGreaterThan(0);
    expect((await inject('POST', '/api/v1/break-glass', admin, { reason: 'x' })).json().code).toBe(
      'ACCESS_DENIED',
    );
  });
});
