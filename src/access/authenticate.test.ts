import { createHmac, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LEGACY_TOKEN_GRACE_MS, up as upgradeTokens } from '../store/migrations/018-api-token-expiry.js';
import { describeEachDialect } from '../testing/dialects.js';
import type { TestStore } from '../testing/stores.js';
import { hashApiToken } from './api-tokens.js';
import { type AccessFixture, accessFixture, GOOD_PASSWORD, TEST_ISSUER } from './test-support.js';

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { code?: string }) => e.code ?? String(e),
  );
const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

describeEachDialect('access: bearer authentication', (open) => {
  let t: TestStore;
  let f: AccessFixture;
  let userId: string;
  beforeAll(async () => {
    t = await open();
  });
  afterAll(async () => {
    await t.cleanup();
  });
  beforeEach(async () => {
    f = accessFixture(t.store);
    await t.store.db.deleteFrom('api_tokens').execute();
    await t.store.db.deleteFrom('users').execute();
    userId = (await f.access.users.add({ username: 'alice', password: GOOD_PASSWORD, role: 'auditor' })).id;
  });

  /** Claims a genuine login token would carry, signed the way a forger chooses. */
  const claims = (over: JWTPayload = {}): JWTPayload => ({
    iss: TEST_ISSUER,
    aud: TEST_ISSUER,
    sub: userId,
    jti: 'j1',
    kind: 'user',
    role: 'admin',
    care_units: [],
    iat: Math.floor(f.clock.ms / 1000),
    nbf: Math.floor(f.clock.ms / 1000),
    exp: Math.floor(f.clock.ms / 1000) + 600,
    ...over,
  });
  const sign = (payload: JWTPayload, key = f.keys.current.privateKey, kid = f.keys.current.kid) =>
    new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' }).sign(key);
  const auth = (token: string) => codeOf(f.access.authenticate(`Bearer ${token}`, {}));

  describe('JWT access tokens', () => {
    it('accepts a token we issued, including one signed by a retired key', async () => {
      const { access_token } = await f.access.login({ username: 'alice', password: GOOD_PASSWORD }, {});
      f.keys.rotate();
      const who = await f.access.authenticate(`Bearer ${access_token}`, {});
      expect(who).toMatchObject({ kind: 'user', id: userId, name: 'alice', role: 'auditor' });
      expect(who.credentialId).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('refuses alg "none" with AUTH_TOKEN_ALGORITHM', async () => {
      const header = b64({ alg: 'none', typ: 'at+jwt', kid: f.keys.current.kid });
      expect(await auth(`${header}.${b64(claims())}.`)).toBe('AUTH_TOKEN_ALGORITHM');
    });

    it('refuses HS256 keyed with our public key bytes (algorithm confusion) with AUTH_TOKEN_ALGORITHM', async () => {
      const secret = f.keys.current.publicKey.export({ format: 'pem', type: 'spki' });
      const input = `${b64({ alg: 'HS256', typ: 'at+jwt', kid: f.keys.current.kid })}.${b64(claims())}`;
      const mac = createHmac('sha256', secret).update(input).digest('base64url');
      expect(await auth(`${input}.${mac}`)).toBe('AUTH_TOKEN_ALGORITHM');
    });

    it('refuses an expired token with AUTH_TOKEN_EXPIRED', async () => {
      const { access_token } = await f.access.login({ username: 'alice', password: GOOD_PASSWORD }, {});
      f.clock.advance(900);
      expect(await auth(access_token)).toBe('AUTH_TOKEN_EXPIRED');
    });

    it('remembers a verified token only until it expires, and still reads the account each time', async () => {
      const { access_token } = await f.access.login({ username: 'alice', password: GOOD_PASSWORD }, {});
      expect(await auth(access_token)).toBe('ok'); // verified once: now served from the cache
      const [h, p, s] = access_token.split('.') as [string, string, string];
      const forged = `${h}.${b64({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), role: 'admin' })}.${s}`;
      expect(await auth(forged)).toBe('AUTH_TOKEN_INVALID'); // a different token is a cache miss
      expect(await auth(`${access_token}x`)).toBe('AUTH_TOKEN_INVALID');
      await f.access.users.disable('alice');
      expect(await auth(access_token)).toBe('AUTH_ACCOUNT_DISABLED');
      await f.access.users.enable('alice');
      expect(await auth(access_token)).toBe('ok');
      f.clock.advance(900);
      expect(await auth(access_token)).toBe('AUTH_TOKEN_EXPIRED');
    });

    it('refuses a token for another audience with AUTH_TOKEN_AUDIENCE', async () => {
      expect(await auth(await sign(claims({ aud: 'https://other.example' })))).toBe('AUTH_TOKEN_AUDIENCE');
    });

    it('refuses a wrong issuer, unknown kid, foreign signature, tampering, missing typ with AUTH_TOKEN_INVALID', async () => {
      const foreign = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      expect(await auth(await sign(claims({ iss: 'https://evil.example' })))).toBe('AUTH_TOKEN_INVALID');
      expect(await auth(await sign(claims(), foreign, 'unknown-kid'))).toBe('AUTH_TOKEN_INVALID');
      expect(await auth(await sign(claims(), foreign))).toBe('AUTH_TOKEN_INVALID');
      expect(await auth(await sign(claims({ nbf: Math.floor(f.clock.ms / 1000) + 120 })))).toBe(
        'AUTH_TOKEN_INVALID',
      );
      const { access_token } = await f.access.login({ username: 'alice', password: GOOD_PASSWORD }, {});
      const [h, , s] = access_token.split('.');
      expect(await auth(`${h}.${b64(claims({ role: 'admin' }))}.${s}`)).toBe('AUTH_TOKEN_INVALID');
      const untyped = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'ES256', kid: f.keys.current.kid })
        .sign(f.keys.current.privateKey);
      expect(await auth(untyped)).toBe('AUTH_TOKEN_INVALID');
    });

    it('takes the role from the account, not from the token', async () => {
      const who = await f.access.authenticate(`Bearer ${await sign(claims({ role: 'admin' }))}`, {});
      expect(who.role).toBe('auditor');
    });

    it('refuses garbage and a missing header with their codes', async () => {
      expect(await codeOf(f.access.authenticate(undefined, {}))).toBe('AUTH_REQUIRED');
      expect(await codeOf(f.access.authenticate('', {}))).toBe('AUTH_REQUIRED');
      expect(await codeOf(f.access.authenticate('Basic YWxpY2U6cHc=', {}))).toBe('AUTH_TOKEN_INVALID');
      for (const token of ['abc', 'a.b.c', 'x'.repeat(9000), '....'])
        expect(await auth(token)).toBe('AUTH_TOKEN_INVALID');
    });
  });

  describe('API tokens', () => {
    it('authenticates a pgt_ token and stores only its SHA-256', async () => {
      const created = await f.access.createApiToken({ username: 'alice', name: 'ci', ttlSeconds: 3600 });
      expect(created.token).toMatch(/^pgt_[A-Za-z0-9_-]{43}$/);
      expect(created.expiresAt).toBe(f.clock.ms + 3600_000);
      const who = await f.access.authenticate(`Bearer ${created.token}`, {});
      expect(who).toMatchObject({ kind: 'user', name: 'alice', credentialId: created.id, scopes: [] });
      const rows = await t.store.db.selectFrom('api_tokens').selectAll().execute();
      expect(JSON.stringify(rows)).not.toContain(created.token);
      expect(rows[0]?.token_hash).toBe(hashApiToken(created.token));
      expect(JSON.stringify(f.audit.events)).not.toContain(created.token);
      expect(f.audit.last()).toMatchObject({
        action: 'api-token.create',
        resource: { type: 'api-token', id: created.id },
      });
    });

    it('refuses expired, revoked and unknown tokens with their codes', async () => {
      const short = await f.access.createApiToken({ username: 'alice', name: 'short', ttlSeconds: 60 });
      const revoked = await f.access.createApiToken({ username: 'alice', name: 'revoked' });
      await f.access.revokeApiToken(revoked.id);
      expect(await auth(revoked.token)).toBe('AUTH_TOKEN_REVOKED');
      f.clock.advance(60);
      expect(await auth(short.token)).toBe('AUTH_TOKEN_EXPIRED');
      const flipped = revoked.token.slice(0, -1) + (revoked.token.endsWith('A') ? 'B' : 'A');
      expect(await auth(flipped)).toBe('AUTH_TOKEN_INVALID');
      expect(await auth('pgt_short')).toBe('AUTH_TOKEN_INVALID');
      expect((await f.access.listApiTokens('alice')).map((x) => [x.name, x.revokedAt !== null])).toEqual([
        ['short', false],
        ['revoked', true],
      ]);
    });

    it('gives tokens made before expiry was required 30 days from the upgrade (migration 018), then refuses them', async () => {
      const legacy = await f.access.createApiToken({ username: 'alice', name: 'legacy' });
      const revoked = await f.access.createApiToken({ username: 'alice', name: 'revoked-legacy' });
      await f.access.revokeApiToken(revoked.id);
      const current = await f.access.createApiToken({ username: 'alice', name: 'current', ttlSeconds: 3600 });
      // As stored before every token had to expire.
      await t.store.db
        .updateTable('api_tokens')
        .set({ expires_at: null })
        .where('id', 'in', [legacy.id, revoked.id])
        .execute();
      await upgradeTokens(t.store.db as never, t.store.dialect, f.clock.ms);
      const stored = new Map(
        (await t.store.db.selectFrom('api_tokens').select(['id', 'expires_at']).execute()).map((r) => [
          r.id,
          r.expires_at === null ? null : Number(r.expires_at),
        ]),
      );
      expect(stored.get(legacy.id)).toBe(f.clock.ms + LEGACY_TOKEN_GRACE_MS);
      expect(stored.get(revoked.id)).toBeNull();
      expect(stored.get(current.id)).toBe(current.expiresAt);
      expect(await auth(legacy.token)).toBe('ok');
      f.clock.advance(LEGACY_TOKEN_GRACE_MS / 1000);
      expect(await auth(legacy.token)).toBe('AUTH_TOKEN_EXPIRED');
      expect(await auth(revoked.token)).toBe('AUTH_TOKEN_REVOKED');
    });

    it('gives a token without a lifetime 30 days, allows at most 365, and refuses longer storing nothing', async () => {
      const DAY = 86_400;
      const plain = await f.access.createApiToken({ username: 'alice', name: 'default' });
      expect(plain.expiresAt).toBe(f.clock.ms + 30 * DAY * 1000);
      const year = await f.access.createApiToken({ username: 'alice', name: 'year', ttlSeconds: 365 * DAY });
      expect(year.expiresAt).toBe(f.clock.ms + 365 * DAY * 1000);
      const rows = async () => (await t.store.db.selectFrom('api_tokens').select('id').execute()).length;
      const before = await rows();
      for (const ttlSeconds of [365 * DAY + 1, 10 * 365 * DAY, 59, 0, -1, 1.5, Number.NaN])
        expect(
          await codeOf(f.access.createApiToken({ username: 'alice', name: 'x', ttlSeconds })),
          String(ttlSeconds),
        ).toBe('VALIDATION_FAILED');
      expect(await rows()).toBe(before);
      // The default lifetime ends like any other.
      f.clock.advance(30 * DAY - 1);
      expect(await auth(plain.token)).toBe('ok');
      f.clock.advance(1);
      expect(await auth(plain.token)).toBe('AUTH_TOKEN_EXPIRED');
      expect((await f.access.listApiTokens('alice')).every((v) => v.expiresAt !== null)).toBe(true);
    });

    it('lets a non-admin create tokens only for themselves', async () => {
      await f.access.users.add({ username: 'bob', password: GOOD_PASSWORD, role: 'security-analyst' });
      const bob = await f.access.authenticate(
        `Bearer ${(await f.access.login({ username: 'bob', password: GOOD_PASSWORD }, {})).access_token}`,
        {},
      );
      expect(await codeOf(f.access.createApiToken({ username: 'bob', name: 'mine' }, bob))).toBe('ok');
      expect(await codeOf(f.access.createApiToken({ username: 'alice', name: 'theirs' }, bob))).toBe(
        'ACCESS_DENIED',
      );
      expect(await codeOf(f.access.createApiToken({ username: 'nobody', name: 'x' }))).toBe('USER_NOT_FOUND');
      expect(await codeOf(f.access.createApiToken({ username: 'bob', name: 'x', ttlSeconds: 5 }))).toBe(
        'VALIDATION_FAILED',
      );
    });
  });

  it('publishes public keys only in the JWKS', async () => {
    f.keys.rotate();
    const { keys } = await f.access.jwks();
    expect(keys.map((k) => k.kid)).toEqual(['test-2', 'test-1']);
    for (const k of keys) {
      expect(Object.keys(k).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    }
  });
});

describeEachDialect('access: authenticate on arbitrary input', (open) => {
  it('only ever fails with an AUTH_* code, whatever the header holds', async () => {
    const t = await open();
    try {
      const f = accessFixture(t.store);
      const header = fc.oneof(
        fc.string({ maxLength: 200 }),
        fc.string({ maxLength: 200 }).map((s) => `Bearer ${s}`),
        fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map((p) => `Bearer ${p.join('.')}`),
        fc.stringMatching(/^[A-Za-z0-9_-]{43}$/).map((s) => `Bearer pgt_${s}`),
      );
      await fc.assert(
        fc.asyncProperty(header, async (h) => {
          const code = await codeOf(f.access.authenticate(h, {}));
          expect(code).toMatch(/^AUTH_(REQUIRED|TOKEN_INVALID|TOKEN_ALGORITHM)$/);
        }),
        { numRuns: 200 },
      );
    } finally {
      await t.cleanup();
    }
  });
});
