/**
 * Every class of bad input gets a problem+json with its stable code and leaves stored data
 * unchanged, on both databases. "Unchanged" is checked by hashing every row of every table (the
 * audit log is excluded: recording refusals there is required behaviour).
 */
import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import { base64url, SignJWT } from 'jose';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Permission, ROLES, type Role, roleHas } from '../src/access/index.js';
import { describeEachDialect } from '../src/testing/dialects.js';
import { createTestPostgresDatabase } from '../src/testing/stores.js';
import { call, startTestInstallation, type TestInstallation } from './support/installation.js';

/** Tables left out of "unchanged": the audit log (recording refusals is required) and migrations. */
const NOT_STATE = /^(audit_entries|audit_checkpoints|kysely_migration.*)$/;

/** Routes that do not take JSON from a bearer-token caller (EST, device ingest, OAuth form, FHIR). */
const NOT_JSON_API = /^\/(fhir|oauth|\.well-known|pki)|^\/api\/v1\/ingest\//;

const VALID_DEVICE = { id: 'pump-100', type: 'infusion-pump', vendor: 'Acme', model: 'P1', careUnit: 'ICU' };

/** SQL metacharacter payloads (quotes, comments, statement breaks, LIKE wildcards, NUL-free). */
const SQLI = [
  "' OR '1'='1",
  "'; DROP TABLE devices; --",
  '" OR ""="',
  '%',
  '_',
  '\\',
  '1) UNION SELECT * FROM users --',
];

/** A catalog URL with its parameters filled in with plausible values. */
function concrete(url: string): string {
  return url.replace(':id', 'mon-1').replace(/:[A-Za-z]+/g, 'x');
}

describeEachDialect('bad input', (_open, dialect) => {
  let t: TestInstallation;
  const tokens: Partial<Record<Role, string>> = {};
  let dropDb: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    let postgresUrl: string | undefined;
    if (dialect === 'postgres') {
      const db = await createTestPostgresDatabase();
      postgresUrl = db.url;
      dropDb = db.drop;
    }
    t = await startTestInstallation({ postgresUrl });
    await t.app.devices.create({
      id: 'mon-1',
      type: 'patient-monitor',
      vendor: 'Acme',
      model: 'M1',
      careUnit: 'ICU',
    });
  }, 60_000);
  afterAll(async () => {
    await t?.cleanup();
    await dropDb?.();
  });

  async function snapshot(): Promise<string> {
    const hash = createHash('sha256');
    const tables = (await t.app.store.db.introspection.getTables())
      .map((x) => x.name)
      .filter((name) => !NOT_STATE.test(name))
      .sort();
    expect(tables).toContain('patient_records');
    for (const table of tables) {
      const rows = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(
        t.app.store.db,
      );
      const lines = rows.rows
        .map((r) =>
          JSON.stringify(r, (_k, v) => (v?.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v)),
        )
        .sort();
      hash.update(`${table}:${lines.join('\n')}\n`);
    }
    return hash.digest('hex');
  }

  async function expectRefused(
    req: Parameters<typeof call>,
    status: number,
    code: string,
  ): Promise<Record<string, unknown>> {
    const before = await snapshot();
    const res = await call(...req);
    expect(res.status, `${req[1]} ${req[2]} -> ${JSON.stringify(res.body)}`).toBe(status);
    expect(res.body.code).toBe(code);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body.type).toMatch(/^urn:pulsegate:problem:/);
    expect(await snapshot()).toBe(before);
    return res.body;
  }

  /**
   * Every JSON-body route of the catalog with a token of a role that holds its permission (the
   * body is read only after the role check).
   */
  async function bodyTakingRoutes(): Promise<Array<{ r: { method: string; url: string }; token: string }>> {
    const routes = t.app.http.routeCatalog.filter(
      (r) => ['POST', 'PUT', 'PATCH'].includes(r.method) && !NOT_JSON_API.test(r.url),
    );
    expect(routes.length).toBeGreaterThan(20);
    const out = [];
    for (const r of routes) {
      const role = roleHas('admin', r.access as Permission)
        ? undefined
        : ROLES.find((x) => roleHas(x, r.access as Permission));
      if (role && !tokens[role])
        tokens[role] = await t.userWithToken(`bad-json-${role}`, role, { careUnits: ['ICU'] });
      out.push({ r, token: role ? tokens[role]! : t.adminToken });
    }
    return out;
  }

  it('malformed JSON on every body-taking route of the catalog', async () => {
    for (const { r, token } of await bodyTakingRoutes()) {
      await expectRefused(
        [t.app, r.method, concrete(r.url), { token, rawBody: '{"id": "x",' }],
        400,
        'MALFORMED_JSON',
      );
    }
  });

  it('text that is not well-formed Unicode (a lone surrogate) on every body-taking route of the catalog', async () => {
    for (const { r, token } of await bodyTakingRoutes()) {
      const body = await expectRefused(
        [
          t.app,
          r.method,
          concrete(r.url),
          { token, rawBody: '{"reason": "ok \\ud800", "note": ["\\udc00"]}' },
        ],
        400,
        'VALIDATION_FAILED',
      );
      expect(
        (body.errors as Array<{ pointer: string }> | undefined)?.[0]?.pointer,
        `${r.method} ${r.url} ${JSON.stringify(body)}`,
      ).toBe('body/reason');
    }
  });

  it('a NUL character in a body, a path parameter or a query on every body-taking route and elsewhere', async () => {
    for (const { r, token } of await bodyTakingRoutes()) {
      const body = await expectRefused(
        [t.app, r.method, concrete(r.url), { token, rawBody: '{"reason": "paused for\\u0000 maintenance"}' }],
        400,
        'VALIDATION_FAILED',
      );
      expect((body.errors as Array<{ pointer: string }> | undefined)?.[0]?.pointer).toBe('body/reason');
    }
    // PostgreSQL text cannot hold U+0000: these were 500s there, and the failed login unaudited.
    for (const [method, url, body] of [
      ['POST', '/api/v1/auth/login', { username: 'ad\u0000min', password: 'x'.repeat(12) }],
      ['GET', '/api/v1/users/a%00b', undefined],
      ['DELETE', '/api/v1/tokens/a%00b', undefined],
      ['GET', '/api/v1/devices?careUnit=IC%00U', undefined],
    ] as const) {
      await expectRefused(
        [t.app, method, url, { token: t.adminToken, ...(body ? { body } : {}) }],
        400,
        'VALIDATION_FAILED',
      );
    }
  });

  it('date-times that name no instant (leap second, 30 February) in bodies and query strings', async () => {
    const leap = '2030-06-30T23:59:60Z';
    await expectRefused(
      [
        t.app,
        'POST',
        '/api/v1/devices/mon-1/bindings',
        { token: t.adminToken, body: { patientId: 'MRN-LEAP', until: leap } },
      ],
      400,
      'VALIDATION_FAILED',
    );
    await expectRefused(
      [
        t.app,
        'POST',
        '/api/v1/monitor/suppressions',
        {
          token: t.adminToken,
          body: { rule: 'device.replay', reason: 'x', expiresAt: '2030-02-30T00:00:00Z' },
        },
      ],
      400,
      'VALIDATION_FAILED',
    );
    for (const url of [
      `/api/v1/devices/mon-1/telemetry?from=${leap}`,
      `/api/v1/audit/entries?since=${leap}`,
      `/api/v1/break-glass?until=${leap}`,
      `/api/v1/alerts?since=${leap}`,
    ]) {
      await expectRefused([t.app, 'GET', url, { token: t.adminToken }], 400, 'VALIDATION_FAILED');
    }
  });

  it('SQL metacharacters in every path parameter of the catalog are refused as data, changing nothing', async () => {
    const routes = t.app.http.routeCatalog.filter((r) => r.url.includes('/:') && !NOT_JSON_API.test(r.url));
    expect(routes.length).toBeGreaterThan(20);
    for (const r of routes) {
      for (const s of SQLI) {
        const url = r.url.replace(/:[A-Za-z]+/g, encodeURIComponent(s));
        const before = await snapshot();
        const res = await call(t.app, r.method, url, {
          token: t.adminToken,
          ...(['POST', 'PUT', 'PATCH'].includes(r.method) ? { body: {} } : {}),
        });
        const label = `${r.method} ${url} -> ${res.status} ${JSON.stringify(res.body).slice(0, 160)}`;
        expect(res.status, label).toBeGreaterThanOrEqual(400);
        expect(res.status, label).toBeLessThan(500);
        expect(res.body.code, label).toMatch(/^[A-Z][A-Z0-9_]+$/);
        expect(res.headers['content-type'], label).toContain('application/problem+json');
        expect(await snapshot(), label).toBe(before);
      }
    }
  });

  it('malformed JSON on the most used routes, in several shapes', async () => {
    for (const [method, url] of [
      ['POST', '/api/v1/devices'],
      ['PATCH', '/api/v1/devices/mon-1'],
      ['POST', '/api/v1/users'],
      ['POST', '/api/v1/auth/login'],
      ['POST', '/api/v1/tokens'],
    ] as const) {
      for (const raw of ['{"id": "x",', '{id: 1}', 'nul', '[1,2', '{"a":1}}']) {
        await expectRefused(
          [t.app, method, url, { token: t.adminToken, rawBody: raw }],
          400,
          'MALFORMED_JSON',
        );
      }
    }
  });

  it('oversized bodies', async () => {
    const big = JSON.stringify({ ...VALID_DEVICE, model: 'x'.repeat(1_100_000) });
    await expectRefused(
      [t.app, 'POST', '/api/v1/devices', { token: t.adminToken, rawBody: big }],
      413,
      'PAYLOAD_TOO_LARGE',
    );
    await expectRefused([t.app, 'POST', '/api/v1/auth/login', { rawBody: big }], 413, 'PAYLOAD_TOO_LARGE');
  });

  it('wrong types, missing fields and out-of-range values, with a pointer to the field', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...VALID_DEVICE, id: 5 }, '/id'],
      [{ ...VALID_DEVICE, type: 'toaster' }, '/type'],
      [{ ...VALID_DEVICE, careUnit: ['ICU'] }, '/careUnit'],
      [{ ...VALID_DEVICE, ipAddress: '999.1.1.1' }, '/ipAddress'],
      [{ ...VALID_DEVICE, macAddress: 'zz:zz' }, '/macAddress'],
      [{ type: 'infusion-pump', vendor: 'A', model: 'B' }, ''],
    ];
    for (const [body, pointer] of cases) {
      const problem = await expectRefused(
        [t.app, 'POST', '/api/v1/devices', { token: t.adminToken, body }],
        400,
        'VALIDATION_FAILED',
      );
      const errors = problem.errors as Array<{ pointer: string }>;
      expect(errors.some((e) => e.pointer.startsWith(`body${pointer}`))).toBe(true);
    }
    // Numbers are not silently coerced from strings in bodies.
    await expectRefused(
      [t.app, 'PATCH', '/api/v1/devices/mon-1', { token: t.adminToken, body: { version: '1' } }],
      400,
      'VALIDATION_FAILED',
    );
    await expectRefused(
      [t.app, 'GET', '/api/v1/devices?limit=100000', { token: t.adminToken }],
      400,
      'VALIDATION_FAILED',
    );
  });

  it('unknown fields in bodies and query strings', async () => {
    const p = await expectRefused(
      [t.app, 'POST', '/api/v1/devices', { token: t.adminToken, body: { ...VALID_DEVICE, isAdmin: true } }],
      400,
      'VALIDATION_FAILED',
    );
    expect(p.errors).toEqual([{ pointer: 'body/isAdmin', problem: 'unknown field' }]);
    await expectRefused(
      [
        t.app,
        'PATCH',
        '/api/v1/devices/mon-1',
        { token: t.adminToken, body: { lifecycle: 'active', owner: 'x', extra: 1 } },
      ],
      400,
      'VALIDATION_FAILED',
    );
    await expectRefused(
      [t.app, 'GET', '/api/v1/devices?nosuch=1', { token: t.adminToken }],
      400,
      'VALIDATION_FAILED',
    );
    await expectRefused(
      [t.app, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: 'x', role: 'admin' } }],
      400,
      'VALIDATION_FAILED',
    );
  });

  it('unsupported content types', async () => {
    await expectRefused(
      [
        t.app,
        'POST',
        '/api/v1/devices',
        { token: t.adminToken, rawBody: 'id=x', headers: { 'content-type': 'text/plain' } },
      ],
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });

  it('SQL metacharacters in every path, query and body parameter are data, never SQL', async () => {
    for (const s of SQLI) {
      const e = encodeURIComponent(s);
      await expectRefused(
        [t.app, 'GET', `/api/v1/devices/${e}`, { token: t.adminToken }],
        400,
        'VALIDATION_FAILED',
      );
      await expectRefused(
        [t.app, 'PATCH', `/api/v1/devices/${e}`, { token: t.adminToken, body: { owner: 'x' } }],
        400,
        'VALIDATION_FAILED',
      );
      for (const param of ['q', 'vendor', 'careUnit']) {
        const before = await snapshot();
        const res = await call(t.app, 'GET', `/api/v1/devices?${param}=${e}`, { token: t.adminToken });
        // A search for the literal text finds nothing (no device holds it); it never matches everything.
        expect(res.status, `${param}=${s}`).toBe(200);
        expect((res.body.items as unknown[]).length, `${param}=${s}`).toBe(0);
        expect(await snapshot()).toBe(before);
      }
      for (const param of ['actor', 'action']) {
        const res = await call(t.app, 'GET', `/api/v1/audit/entries?${param}=${e}`, { token: t.adminToken });
        expect([200, 400]).toContain(res.status);
        if (res.status === 200) expect((res.body.entries ?? res.body.items) as unknown[]).toHaveLength(0);
      }
      const before = await snapshot();
      const user = await call(t.app, 'GET', `/api/v1/users/${e}`, { token: t.adminToken });
      expect([`404 USER_NOT_FOUND`, `400 VALIDATION_FAILED`]).toContain(`${user.status} ${user.body.code}`);
      expect(await snapshot()).toBe(before);
      await expectRefused(
        [t.app, 'POST', '/api/v1/auth/login', { body: { username: s, password: s } }],
        401,
        'AUTH_INVALID_CREDENTIALS',
      );
    }
    // In a valid body, metacharacters are stored literally and read back unchanged.
    const vendor = 'O\'Brien Medical"; DROP TABLE devices; --';
    const created = await call(t.app, 'POST', '/api/v1/devices', {
      token: t.adminToken,
      body: { ...VALID_DEVICE, id: 'pump-quote', vendor },
    });
    expect(created.status).toBe(201);
    const read = await call(t.app, 'GET', '/api/v1/devices/pump-quote', { token: t.adminToken });
    expect(read.body.vendor).toBe(vendor);
    const count = await t.app.store.db
      .selectFrom('devices')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(2);
  });

  it('expired, forged, alg:none, HS256 and wrong-audience JWTs are refused with their codes', async () => {
    const signing = await t.app.keys.signingKey('jwt');
    const issuer = t.app.config.server.publicUrl;
    const admin = await t.app.access.users.get('admin');
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: admin.id, kind: 'user', role: 'admin', care_units: [], scope: '' };
    const sign = (key = signing.privateKey, over: { aud?: string; exp?: number; iat?: number } = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: signing.kid, typ: 'at+jwt' })
        .setIssuer(issuer)
        .setAudience(over.aud ?? issuer)
        .setIssuedAt(over.iat ?? now)
        .setExpirationTime(over.exp ?? now + 600)
        .setJti(randomUUID())
        .sign(key);

    // Control: a correctly signed token works, so the refusals below are about the one thing changed.
    const good = await sign();
    expect((await call(t.app, 'GET', '/api/v1/me', { token: good })).status).toBe(200);

    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const payload = base64url.encode(
      JSON.stringify({ ...claims, iss: issuer, aud: issuer, iat: now, exp: now + 600, jti: randomUUID() }),
    );
    const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: signing.kid }))}.${payload}.`;
    const hs256 = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'HS256', kid: signing.kid, typ: 'at+jwt' })
      .setIssuer(issuer)
      .setAudience(issuer)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(new TextEncoder().encode(JSON.stringify(signing.publicJwk)));

    const cases: Array<[string, string]> = [
      [await sign(signing.privateKey, { exp: now - 60, iat: now - 3600 }), 'AUTH_TOKEN_EXPIRED'],
      [await sign(attacker), 'AUTH_TOKEN_INVALID'],
      [none, 'AUTH_TOKEN_ALGORITHM'],
      [hs256, 'AUTH_TOKEN_ALGORITHM'],
      [await sign(signing.privateKey, { aud: 'https://evil.example' }), 'AUTH_TOKEN_AUDIENCE'],
      [`${good.slice(0, -4)}AAAA`, 'AUTH_TOKEN_INVALID'],
      ['not-a-jwt', 'AUTH_TOKEN_INVALID'],
      ['pgt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'AUTH_TOKEN_INVALID'],
    ];
    for (const [token, code] of cases) {
      const body = await expectRefused(
        [t.app, 'POST', '/api/v1/devices', { token, body: { ...VALID_DEVICE, id: 'pump-jwt' } }],
        401,
        code,
      );
      // The message is generic: it never echoes the token.
      expect(JSON.stringify(body)).not.toContain(token.slice(0, 20));
    }
    expect((await call(t.app, 'GET', '/api/v1/devices/pump-jwt', { token: t.adminToken })).status).toBe(404);
  });
});
