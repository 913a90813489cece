import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { describeEachDialect } from '../testing/dialects.js';
import type { TestStore } from '../testing/stores.js';
import { JWT_BEARER_ASSERTION } from './oauth-token.js';
import { type AccessFixture, accessFixture } from './test-support.js';

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { code?: string }) => e.code ?? String(e),
  );

type Pair = Awaited<ReturnType<typeof generateKeyPair>>;

describeEachDialect('access: SMART backend services token endpoint', (open) => {
  let t: TestStore;
  let f: AccessFixture;
  let es384: Pair;
  let rs384: Pair;
  beforeAll(async () => {
    t = await open();
    es384 = await generateKeyPair('ES384', { extractable: true });
    rs384 = await generateKeyPair('RS384', { extractable: true, modulusLength: 2048 });
  });
  afterAll(async () => {
    await t.cleanup();
  });

  let clientId: string;
  beforeEach(async () => {
    f = accessFixture(t.store);
    clientId = `ehr-${randomUUID().slice(0, 8)}`;
    await f.access.clients.register({
      id: clientId,
      name: 'EHR integration',
      role: 'integration',
      scopes: ['system/Observation.rs', 'system/Patient.rs'],
      jwks: {
        keys: [
          { ...(await exportJWK(es384.publicKey)), kid: 'es', alg: 'ES384' },
          { ...(await exportJWK(rs384.publicKey)), kid: 'rs', alg: 'RS384' },
        ],
      },
    });
  });

  /** A client assertion as SMART Backend Services §"Authenticating to the token endpoint" describes. */
  const assertion = (
    over: JWTPayload = {},
    alg: 'ES384' | 'RS384' = 'ES384',
    pair = alg === 'ES384' ? es384 : rs384,
  ) => {
    const now = Math.floor(f.clock.ms / 1000);
    return new SignJWT({
      iss: clientId,
      sub: clientId,
      aud: f.access.tokenUrl,
      exp: now + 240,
      jti: randomUUID(),
      ...over,
    })
      .setProtectedHeader({ alg, kid: alg === 'ES384' ? 'es' : 'rs', typ: 'JWT' })
      .sign(pair.privateKey);
  };
  const form = async (jwt: string | Promise<string>, extra: Record<string, string> = {}) => ({
    grant_type: 'client_credentials',
    client_assertion_type: JWT_BEARER_ASSERTION,
    client_assertion: await jwt,
    ...extra,
  });
  const tokenCode = async (jwt: string | Promise<string>, extra: Record<string, string> = {}) =>
    codeOf(f.access.token(await form(jwt, extra), { source: '10.1.1.1' }));

  it('issues a token for ES384 and RS384 assertions, audited, usable as a client principal', async () => {
    for (const alg of ['ES384', 'RS384'] as const) {
      const res = await f.access.token(await form(assertion({}, alg)), { source: '10.1.1.1' });
      expect(res).toMatchObject({
        token_type: 'Bearer',
        expires_in: 900,
        scope: 'system/Observation.rs system/Patient.rs',
      });
      const who = await f.access.authenticate(`Bearer ${res.access_token}`, {});
      expect(who).toMatchObject({
        kind: 'client',
        id: clientId,
        role: 'integration',
        scopes: ['system/Observation.rs', 'system/Patient.rs'],
      });
      f.access.authorize(who, 'telemetry:read');
      expect(() => f.access.authorize(who, 'telemetry:write')).toThrow(
        expect.objectContaining({ code: 'ACCESS_DENIED' }),
      );
      expect(f.audit.last()).toMatchObject({
        action: 'auth.token',
        outcome: 'success',
        source: '10.1.1.1',
        actor: { type: 'client', id: clientId },
      });
    }
  });

  it('narrows the granted scope to requested ∩ registered, and refuses a request that meets none', async () => {
    const res = await f.access.token(
      await form(assertion(), { scope: 'system/Observation.r system/Device.rs' }),
      {},
    );
    expect(res.scope).toBe('system/Observation.r');
    expect(await tokenCode(assertion(), { scope: 'system/AuditEvent.rs' })).toBe('AUTH_SCOPE_INVALID');
  });

  it('refuses a replayed jti with AUTH_ASSERTION_REPLAYED', async () => {
    const jwt = await assertion();
    expect(await tokenCode(jwt)).toBe('ok');
    expect(await tokenCode(jwt)).toBe('AUTH_ASSERTION_REPLAYED');
    expect(f.audit.last()).toMatchObject({
      action: 'auth.token',
      outcome: 'failure',
      code: 'AUTH_ASSERTION_REPLAYED',
    });
  });

  it('refuses bad assertions with AUTH_CLIENT_INVALID, each audited', async () => {
    const other = await generateKeyPair('ES384');
    const now = Math.floor(f.clock.ms / 1000);
    const cases: Array<[string, Promise<string> | string]> = [
      ['wrong aud', assertion({ aud: 'https://other.example/oauth/token' })],
      ['exp too far', assertion({ exp: now + 301 })],
      ['expired', assertion({ exp: now - 1 })],
      ['no jti', assertion({ jti: undefined })],
      ['sub differs', assertion({ sub: 'someone-else' })],
      ['unregistered client', assertion({ iss: 'stranger', sub: 'stranger' })],
      ['wrong key', assertion({}, 'ES384', other)],
      ['garbage', 'not-a-jwt'],
      // SMART Backend Services: the header must name the key (kid, required).
      [
        'no kid',
        new SignJWT({
          iss: clientId,
          sub: clientId,
          aud: f.access.tokenUrl,
          exp: now + 240,
          jti: randomUUID(),
        })
          .setProtectedHeader({ alg: 'ES384', typ: 'JWT' })
          .sign(es384.privateKey),
      ],
      [
        'alg none',
        `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: clientId, sub: clientId })).toString('base64url')}.`,
      ],
    ];
    for (const [why, jwt] of cases) {
      const before = f.audit.events.length;
      expect([why, await tokenCode(jwt)]).toEqual([why, 'AUTH_CLIENT_INVALID']);
      expect(f.audit.events.length).toBe(before + 1);
      expect(f.audit.last()).toMatchObject({
        action: 'auth.token',
        outcome: 'failure',
        code: 'AUTH_CLIENT_INVALID',
      });
    }
  });

  it('refuses an HS256 assertion and a disabled client', async () => {
    const hs = await new SignJWT({
      iss: clientId,
      sub: clientId,
      aud: f.access.tokenUrl,
      exp: Math.floor(f.clock.ms / 1000) + 60,
      jti: 'x',
    })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('a shared secret that is long enough'));
    expect(await tokenCode(hs)).toBe('AUTH_CLIENT_INVALID');
    await f.access.clients.disable(clientId);
    expect(await tokenCode(assertion())).toBe('AUTH_CLIENT_INVALID');
  });

  it('checks grant type and assertion type', async () => {
    const jwt = await assertion();
    expect(await codeOf(f.access.token({ ...(await form(jwt)), grant_type: 'password' }, {}))).toBe(
      'AUTH_GRANT_UNSUPPORTED',
    );
    expect(await codeOf(f.access.token({ ...(await form(jwt)), client_assertion_type: 'basic' }, {}))).toBe(
      'AUTH_CLIENT_INVALID',
    );
    expect(await codeOf(f.access.token({ ...(await form(jwt)), client_id: 'someone-else' }, {}))).toBe(
      'AUTH_CLIENT_INVALID',
    );
    expect(await codeOf(f.access.token({}, {}))).toBe('VALIDATION_FAILED');
  });

  it('refuses a client token once the client is disabled', async () => {
    const res = await f.access.token(await form(assertion()), {});
    await f.access.clients.disable(clientId);
    expect(await codeOf(f.access.authenticate(`Bearer ${res.access_token}`, {}))).toBe(
      'AUTH_ACCOUNT_DISABLED',
    );
  });

  it('validates client registration: scopes, keys, duplicates', async () => {
    const jwk = { ...(await exportJWK(es384.publicKey)), kid: 'es', alg: 'ES384' };
    const priv = {
      ...(await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey)),
      kid: 'p',
    };
    const smallRsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const base = {
      name: 'x',
      role: 'integration' as const,
      scopes: ['system/Observation.rs'],
      jwks: { keys: [jwk] },
    };
    expect(await codeOf(f.access.clients.register({ ...base, scopes: ['openid'] }))).toBe(
      'VALIDATION_FAILED',
    );
    expect(await codeOf(f.access.clients.register({ ...base, scopes: [] }))).toBe('VALIDATION_FAILED');
    expect(await codeOf(f.access.clients.register({ ...base, jwks: { keys: [] } }))).toBe(
      'CLIENT_JWKS_INVALID',
    );
    expect(await codeOf(f.access.clients.register({ ...base, jwks: { keys: [priv] } }))).toBe(
      'CLIENT_JWKS_INVALID',
    );
    expect(
      await codeOf(
        f.access.clients.register({ ...base, jwks: { keys: [{ kty: 'oct', k: 'AAAA', kid: 'h' }] } }),
      ),
    ).toBe('CLIENT_JWKS_INVALID');
    expect(
      await codeOf(
        f.access.clients.register({
          ...base,
          jwks: { keys: [{ ...smallRsa.publicKey.export({ format: 'jwk' }), kid: 's' }] },
        }),
      ),
    ).toBe('CLIENT_JWKS_INVALID');
    expect(await codeOf(f.access.clients.register({ ...base, id: clientId }))).toBe('CLIENT_EXISTS');
    expect(await codeOf(f.access.clients.disable('nope'))).toBe('CLIENT_NOT_FOUND');
    const listed = await f.access.clients.list();
    expect(listed.filter((c) => c.name === 'x')).toEqual([]); // nothing stored for bad input
    expect(listed.some((c) => c.id === clientId)).toBe(true);
    expect(JSON.stringify(listed)).not.toMatch(/"d":/);
  });
});
