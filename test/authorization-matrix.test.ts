/**
 * Every role against every route, enumerated from the server's own route catalog (so a new
 * route is covered the moment it is registered). Deny by default: a role gets a route only if
 * its permission list holds the route's permission, and every refusal is in the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Permission, ROLES, type Role, roleHas } from '../src/access/index.js';
import { call, startTestInstallation, type TestInstallation } from './support/installation.js';

let t: TestInstallation;
const tokens = {} as Record<Role, string>;
const HOUR = 3_600_000;

beforeAll(async () => {
  t = await startTestInstallation();
  await t.app.devices.create({
    id: 'dev-icu-1',
    type: 'patient-monitor',
    vendor: 'Acme',
    model: 'M1',
    careUnit: 'ICU',
  });
  await t.app.devices.create({
    id: 'dev-ccu-1',
    type: 'infusion-pump',
    vendor: 'Acme',
    model: 'P2',
    careUnit: 'CCU',
  });
  // Signed-in sessions, as people use the API (break-glass starts only from one).
  for (const role of ROLES) {
    tokens[role] = await t.userWithSession(`user-${role}`, role, {
      careUnits: role === 'clinician' ? ['ICU'] : [],
      vendorDevices: role === 'vendor-service' ? ['dev-icu-1'] : [],
      ...(role === 'vendor-service'
        ? { accessNotBefore: Date.now() - HOUR, accessNotAfter: Date.now() + HOUR }
        : {}),
    });
  }
}, 60_000);
afterAll(async () => t?.cleanup());

/** The stable code of a reply: problem+json `code`, or the first OperationOutcome issue's (under /fhir). */
function codeOf(body: Record<string, unknown>): unknown {
  if (body.resourceType === 'OperationOutcome') {
    const issue = (body.issue as Array<{ details?: { coding?: Array<{ code?: string }> } }>)[0];
    return issue?.details?.coding?.[0]?.code;
  }
  return body.code;
}

it('documents every /api/v1 route of the catalog in the OpenAPI document, with its problem+json errors', async () => {
  const res = await call(t.app, 'GET', '/api/v1/openapi.json', {});
  expect(res.status).toBe(200);
  const doc = res.body as {
    paths: Record<
      string,
      Record<string, { security?: unknown[]; responses: Record<string, { content?: object }> }>
    >;
    components: { schemas: Record<string, unknown> };
  };
  expect(doc.components.schemas.Problem).toBeDefined();
  const apiRoutes = t.app.http.routeCatalog.filter(
    (r) => r.url.startsWith('/api/v1/') && r.url !== '/api/v1/openapi.json',
  );
  expect(apiRoutes.length).toBeGreaterThan(50);
  for (const r of apiRoutes) {
    const path = r.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const op = doc.paths[path]?.[r.method.toLowerCase()];
    expect(op, `${r.method} ${path} in the OpenAPI document`).toBeDefined();
    // The HL7 route refuses with the ACK itself (MSA AE/AR and ERR), not problem+json.
    const errorType = path === '/api/v1/ingest/hl7' ? 'x-application/hl7-v2+er7' : 'application/problem+json';
    expect(op!.responses['4XX']?.content, `${r.method} ${path} 4XX`).toHaveProperty([errorType]);
    expect(op!.responses['5XX']?.content, `${r.method} ${path} 5XX`).toHaveProperty([
      'application/problem+json',
    ]);
    if (r.access !== 'public') {
      expect(op!.security, `${r.method} ${path} security`).toEqual([{ bearer: [] }]);
      expect(Object.keys(op!.responses)).toEqual(expect.arrayContaining(['401', '403']));
    }
  }
  // Public to the bearer-token hook, but not unauthenticated: each names its own credential.
  for (const [path, scheme] of [
    ['/api/v1/ingest/telemetry', 'mutualTLS'],
    ['/api/v1/ingest/events', 'mutualTLS'],
    ['/api/v1/ingest/hl7', 'mutualTLS'],
    ['/.well-known/est/simplereenroll', 'mutualTLS'],
    ['/.well-known/est/simpleenroll', 'enrollmentToken'],
  ] as const) {
    expect(doc.paths[path]?.post?.security, path).toEqual([{ [scheme]: [] }]);
    expect(Object.keys(doc.paths[path]!.post!.responses), path).toContain('401');
  }
});

function concrete(url: string): string {
  return url
    .replace(':id', 'dev-icu-1')
    .replace(':username', 'no-such-user')
    .replace(/:[A-Za-z]+/g, 'x');
}

async function deniedEntries(): Promise<
  Array<{ actor: { name?: string }; resource?: { id?: string }; code?: string }>
> {
  const out = [];
  let after = -1;
  for (;;) {
    const page = await t.app.audit.list({ after, limit: 1000, action: 'access.denied' });
    if (page.length === 0) return out as never;
    out.push(...page);
    after = page[page.length - 1]!.seq;
  }
}

describe('authorization matrix', () => {
  it('has a catalog that declares access on every route', () => {
    const routes = t.app.http.routeCatalog;
    expect(routes.length).toBeGreaterThan(15);
    for (const r of routes) expect(r.access, `${r.method} ${r.url}`).not.toBe('');
  });

  it('refuses every non-public route without a token (401 AUTH_REQUIRED), each refusal audited', async () => {
    const before = (await deniedEntries()).length;
    const guarded = t.app.http.routeCatalog.filter((r) => r.access !== 'public');
    for (const r of guarded) {
      const res = await call(t.app, r.method, concrete(r.url), {
        body: r.method === 'GET' || r.method === 'DELETE' ? undefined : {},
      });
      expect(res.status, `${r.method} ${r.url}`).toBe(401);
      expect(codeOf(res.body)).toBe('AUTH_REQUIRED');
      expect(res.headers['content-type']).toContain(
        r.url.startsWith('/fhir/') ? 'application/fhir+json' : 'application/problem+json',
      );
    }
    const denied = (await deniedEntries()).slice(before);
    expect(denied.length).toBe(guarded.length);
    expect(new Set(denied.map((d) => d.resource?.id))).toEqual(
      new Set(guarded.map((r) => `${r.method} ${r.url}`)),
    );
  });

  it('allows exactly the permissions each role holds, on every route', async () => {
    const before = (await deniedEntries()).length;
    const expectedDenials: string[] = [];
    for (const r of t.app.http.routeCatalog) {
      for (const role of ROLES) {
        const res = await call(t.app, r.method, concrete(r.url), {
          token: tokens[role],
          body: r.method === 'GET' || r.method === 'DELETE' ? undefined : {},
        });
        const code = codeOf(res.body);
        const label = `${role} ${r.method} ${r.url} -> ${res.status} ${String(code)}`;
        const allowed =
          r.access === 'public' || r.access === 'authenticated' || roleHas(role, r.access as Permission);
        if (r.access === 'public') {
          // Public routes either need nothing or authenticate with their own credential (EST
          // enrollment token, device client certificate, OAuth client assertion): a role's
          // bearer token is never a reason to refuse them with ACCESS_DENIED.
          expect(code, label).not.toBe('ACCESS_DENIED');
        } else if (allowed) {
          expect([401, 403], label).not.toContain(res.status);
          // A permitted call can still be refused by a policy check with an ACCESS_ code (e.g. a
          // break-glass request without a reason); those refusals are audited too.
          if (String(code).startsWith('ACCESS_')) expectedDenials.push(`user-${role} ${r.method} ${r.url}`);
        } else {
          expect(res.status, label).toBe(403);
          expect(code, label).toBe('ACCESS_DENIED');
          expectedDenials.push(`user-${role} ${r.method} ${r.url}`);
        }
      }
    }
    expect(expectedDenials.length).toBeGreaterThan(50);
    const denied = (await deniedEntries()).slice(before);
    expect(denied.map((d) => `${d.actor.name} ${d.resource?.id}`).sort()).toEqual(expectedDenials.sort());
  });

  it('keeps a clinician to its care unit, on reads and lists', async () => {
    const own = await call(t.app, 'GET', '/api/v1/devices/dev-icu-1', { token: tokens.clinician });
    expect(own.status).toBe(200);
    const other = await call(t.app, 'GET', '/api/v1/devices/dev-ccu-1', { token: tokens.clinician });
    expect(other.status).toBe(403);
    expect(other.body.code).toBe('ACCESS_CARE_UNIT_DENIED');
    const list = await call(t.app, 'GET', '/api/v1/devices', { token: tokens.clinician });
    expect((list.body.items as Array<{ id: string }>).map((d) => d.id)).toEqual(['dev-icu-1']);
    const denied = await deniedEntries();
    expect(
      denied.some((d) => d.code === 'ACCESS_CARE_UNIT_DENIED' && d.actor.name === 'user-clinician'),
    ).toBe(true);
  });

  it('lets break-glass reach another care unit, flagged in the audit log by session, its reason kept out of the tree', async () => {
    const noReason = await call(t.app, 'POST', '/api/v1/break-glass', {
      token: tokens.clinician,
      body: { reason: '' },
    });
    expect(noReason.status).toBe(400);
    const bg = await call(t.app, 'POST', '/api/v1/break-glass', {
      token: tokens.clinician,
      body: { reason: 'cardiac arrest bed 4, covering CCU', minutes: 15 },
    });
    expect(bg.status).toBe(201);
    const res = await call(t.app, 'GET', '/api/v1/devices/dev-ccu-1', {
      token: bg.body.access_token as string,
    });
    expect(res.status).toBe(200);
    const flagged = await t.app.audit.list({ action: 'break-glass.access', limit: 100 });
    expect(flagged.filter((e) => e.breakGlass === true).map((e) => e.reason)).toContain(
      `break-glass session ${bg.body.id}`,
    );
    // The reason itself is kept with the session, sealed, outside the append-only tree; an
    // auditor reads it back through the review route, and a clinician cannot.
    const session = await t.app.store.db
      .selectFrom('break_glass')
      .selectAll()
      .where('id', '=', bg.body.id as string)
      .executeTakeFirstOrThrow();
    expect(session.reason).toBe('');
    expect(Buffer.from(session.reason_sealed!).toString('latin1')).not.toContain('cardiac');
    const review = await call(t.app, 'GET', '/api/v1/break-glass?limit=10', { token: tokens.auditor });
    expect(review.status).toBe(200);
    expect(review.body.items).toContainEqual(
      expect.objectContaining({ id: bg.body.id, reason: 'cardiac arrest bed 4, covering CCU' }),
    );
    for (const role of ['clinician', 'security-analyst'] as const)
      expect((await call(t.app, 'GET', '/api/v1/break-glass', { token: tokens[role] })).status, role).toBe(
        403,
      );
    const all = await t.app.audit.list({ limit: 1000 });
    expect(JSON.stringify(all)).not.toContain('cardiac arrest');
  });

  it('limits a vendor account to its devices and refuses its token outside the window', async () => {
    expect(
      (await call(t.app, 'GET', '/api/v1/devices/dev-icu-1', { token: tokens['vendor-service'] })).status,
    ).toBe(200);
    const other = await call(t.app, 'GET', '/api/v1/devices/dev-ccu-1', { token: tokens['vendor-service'] });
    expect(other.status).toBe(403);
    const expired = await t.userWithToken('vendor-expired', 'vendor-service', {
      vendorDevices: ['dev-icu-1'],
      accessNotBefore: Date.now() - 48 * HOUR,
      accessNotAfter: Date.now() - 24 * HOUR,
    });
    const res = await call(t.app, 'GET', '/api/v1/devices/dev-icu-1', { token: expired });
    expect([401, 403]).toContain(res.status);
    expect(res.body.code).toBe('ACCESS_VENDOR_WINDOW_CLOSED');
    const denied = await deniedEntries();
    expect(denied.some((d) => d.code === 'ACCESS_VENDOR_WINDOW_CLOSED' && d.actor.name === undefined)).toBe(
      true,
    );
  });
});
