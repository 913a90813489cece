import { createHash, sign, verify } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { describeEachDialect } from '../testing/dialects.js';
import { bytes, codeOf, type KeyFixture, keyFixture } from './key-fixture.js';

describeEachDialect('keys: signing keys', (open) => {
  let f: KeyFixture | undefined;
  afterEach(async () => {
    await f?.cleanup();
    f = undefined;
  });

  it('creates ES256 (P-256) for jwt and Ed25519 for audit on first use, and keeps them', async () => {
    f = await keyFixture(open);
    const jwt = await f.keys.signingKey('jwt');
    expect(jwt.alg).toBe('ES256');
    expect(jwt.publicJwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: jwt.kid });
    expect(jwt.publicJwk).not.toHaveProperty('d');
    const audit = await f.keys.signingKey('audit');
    expect(audit.alg).toBe('EdDSA');
    expect(audit.publicJwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', kid: audit.kid });
    // RFC 7638 thumbprint as kid.
    const { crv, kty, x } = audit.publicJwk;
    expect(audit.kid).toBe(createHash('sha256').update(JSON.stringify({ crv, kty, x })).digest('base64url'));

    const sig = sign('sha256', bytes('token'), { key: jwt.privateKey, dsaEncoding: 'ieee-p1363' });
    expect(verify('sha256', bytes('token'), { key: jwt.publicKey, dsaEncoding: 'ieee-p1363' }, sig)).toBe(
      true,
    );
    expect((await f.keys.signingKey('jwt')).kid).toBe(jwt.kid);
    expect((await (await f.open()).signingKey('jwt')).kid).toBe(jwt.kid);
  });

  it('stores private keys only encrypted', async () => {
    f = await keyFixture(open);
    const key = await f.keys.signingKey('audit');
    const der = key.privateKey.export({ format: 'der', type: 'pkcs8' });
    const rows = await f.t.store.db.selectFrom('signing_keys').selectAll().execute();
    expect(rows.length).toBe(1);
    const stored = Buffer.from(rows[0]!.private_enc);
    expect(stored.includes(der.subarray(der.length - 32))).toBe(false);
    expect(rows[0]!.public_jwk).not.toContain('"d"');
  });

  it('rotation retires the current key, and verification keys still include it', async () => {
    f = await keyFixture(open);
    const first = await f.keys.signingKey('jwt');
    const second = await f.keys.rotateSigningKey('jwt');
    expect(second.kid).not.toBe(first.kid);
    expect((await f.keys.signingKey('jwt')).kid).toBe(second.kid);
    expect((await (await f.open()).signingKey('jwt')).kid).toBe(second.kid);
    expect((await f.keys.verificationKeys('jwt')).map((k) => k.kid)).toEqual([second.kid, first.kid]);
    expect(await f.keys.verificationKeys('audit')).toEqual([]);
    const retired = await f.t.store.db
      .selectFrom('signing_keys')
      .select('retired_at')
      .where('kid', '=', first.kid)
      .executeTakeFirstOrThrow();
    expect(retired.retired_at).toBeGreaterThan(0);
  });

  it('creates exactly one key when asked concurrently', async () => {
    f = await keyFixture(open);
    const other = await f.open();
    const keys = await Promise.all([
      f.keys.signingKey('audit'),
      other.signingKey('audit'),
      f.keys.signingKey('audit'),
    ]);
    expect(new Set(keys.map((k) => k.kid)).size).toBe(1);
    expect(await codeOf(f.keys.signingKey('tls' as 'jwt'))).toBe('VALIDATION_FAILED');
  });
});
