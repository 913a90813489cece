import { generateKeyPairSync } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPulsegateError } from '../errors.js';
import { DIALECTS, type TestStore } from '../testing/stores.js';
import { type AuditLog, createAuditLog } from './audit-log.js';
import { ed25519Signer, verifyNote } from './checkpoint.js';
import { verifyConsistency, verifyInclusion } from './merkle.js';
import { auditRoutes } from './routes.js';

const ORIGIN = 'pulsegate.test/audit';
const keys = generateKeyPairSync('ed25519');

describe('audit routes', () => {
  let t: TestStore;
  let audit: AuditLog;
  let app: FastifyInstance;

  beforeEach(async () => {
    t = await DIALECTS[0]!.open();
    audit = createAuditLog({
      store: t.store,
      signer: ed25519Signer(ORIGIN, keys.privateKey, keys.publicKey),
      origin: ORIGIN,
      checkpointEveryEntries: 1_000_000,
      checkpointIntervalSeconds: 3600,
    });
    app = Fastify();
    // A stand-in for the HTTP layer's problem+json handler: status and stable code.
    app.setErrorHandler((error, _request, reply) => {
      if (isPulsegateError(error)) return reply.status(error.status).send({ code: error.code });
      const status = (error as { statusCode?: number }).statusCode ?? 500;
      return reply.status(status).send({ code: status === 400 ? 'VALIDATION_FAILED' : 'INTERNAL' });
    });
    // A stand-in for the HTTP layer's auth hook: an auditor is signed in.
    app.decorateRequest('principal', undefined);
    app.addHook('onRequest', async (request) => {
      request.principal = {
        kind: 'user',
        id: 'auditor-1',
        name: 'auditor',
        role: 'auditor',
        careUnits: [],
        vendorDevices: [],
        scopes: [],
      } as never;
    });
    await app.register(auditRoutes({ audit }));
    await app.ready();
  });

  afterEach(async () => {
    await app.close();
    await audit.close();
    await t.cleanup();
  });

  const seed = (n: number) =>
    audit.appendMany(
      Array.from({ length: n }, (_, i) => ({
        actor: { type: 'user' as const, id: `u${i % 2}` },
        action: i % 2 ? 'user.create' : 'auth.login',
        outcome: 'success' as const,
      })),
    );

  it('declares audit:read / audit:export on every route', async () => {
    const probe = Fastify();
    const declared: Array<[string, unknown]> = [];
    probe.addHook('onRoute', (route) => {
      if (route.method === 'GET') declared.push([route.url, route.config?.access]);
    });
    await probe.register(auditRoutes({ audit }));
    await probe.ready();
    await probe.close();
    expect(declared).toEqual([
      ['/api/v1/audit/entries', 'audit:read'],
      ['/api/v1/audit/checkpoint', 'audit:read'],
      ['/api/v1/audit/proof/inclusion', 'audit:read'],
      ['/api/v1/audit/proof/consistency', 'audit:read'],
      ['/api/v1/audit/export', 'audit:export'],
    ]);
  });

  it('pages entries with filters and a next cursor', async () => {
    await seed(5);
    const page = await app.inject({ url: '/api/v1/audit/entries?limit=2&actor=u0' });
    expect(page.statusCode).toBe(200);
    expect(page.json()).toMatchObject({ entries: [{ seq: 0 }, { seq: 2 }], next: 2 });
    const last = await app.inject({ url: '/api/v1/audit/entries?after=2&actor=u0' });
    expect(last.json()).toEqual({ entries: [expect.objectContaining({ seq: 4, action: 'auth.login' })] });
    // Each read of the log is in the log: who, and how many entries.
    expect(await audit.list({ action: 'audit.read' })).toEqual([
      expect.objectContaining({ actor: expect.objectContaining({ id: 'auditor-1' }), reason: '2 entries' }),
      expect.objectContaining({ reason: '1 entries' }),
    ]);
    const bad = await app.inject({ url: '/api/v1/audit/entries?limit=5000' });
    expect(bad.statusCode).toBe(400);
    expect((await app.inject({ url: '/api/v1/audit/entries?outcome=maybe' })).statusCode).toBe(400);
  });

  it('serves the latest checkpoint, or AUDIT_NO_CHECKPOINT before the first', async () => {
    const none = await app.inject({ url: '/api/v1/audit/checkpoint' });
    expect(none.statusCode).toBe(404);
    expect(none.json()).toEqual({ code: 'AUDIT_NO_CHECKPOINT' });
    await seed(3);
    await audit.checkpoint();
    const res = await app.inject({ url: '/api/v1/audit/checkpoint' });
    const body = res.json();
    expect(body).toMatchObject({ origin: ORIGIN, treeSize: 3 });
    expect(verifyNote(body.note, ORIGIN, [keys.publicKey])).toBe(`${ORIGIN}\n3\n${body.rootHash}\n`);
  });

  it('serves inclusion and consistency proofs that verify, and AUDIT_PROOF_RANGE outside the log', async () => {
    await seed(11);
    const inc = (await app.inject({ url: '/api/v1/audit/proof/inclusion?seq=4&treeSize=11' })).json();
    const b = (s: string) => Buffer.from(s, 'base64');
    expect(verifyInclusion(4, 11, b(inc.leafHash), inc.proof.map(b), b(inc.rootHash))).toBe(true);
    const con = (await app.inject({ url: '/api/v1/audit/proof/consistency?first=3&second=11' })).json();
    expect(verifyConsistency(3, 11, b(con.firstRoot), b(con.secondRoot), con.proof.map(b))).toBe(true);
    for (const url of [
      '/api/v1/audit/proof/inclusion?seq=11&treeSize=11',
      '/api/v1/audit/proof/inclusion?seq=0&treeSize=12',
      '/api/v1/audit/proof/consistency?first=5&second=4',
      '/api/v1/audit/proof/consistency?first=1&second=12',
    ]) {
      const res = await app.inject({ url });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ code: 'AUDIT_PROOF_RANGE' });
    }
  });

  it('exports FHIR AuditEvents and syslog lines', async () => {
    await seed(3);
    const fhir = await app.inject({ url: '/api/v1/audit/export?format=fhir' });
    expect(fhir.headers['content-type']).toContain('application/fhir+json');
    const bundle = fhir.json();
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'collection' });
    expect(bundle.entry.map((e: { resource: { id: string } }) => e.resource.id)).toEqual([
      'pulsegate-audit-0',
      'pulsegate-audit-1',
      'pulsegate-audit-2',
    ]);
    expect(bundle.entry[0].resource.agent[0].requestor).toBe(true);
    const syslog = await app.inject({ url: '/api/v1/audit/export?format=syslog' });
    expect(syslog.headers['content-type']).toContain('text/plain');
    const lines = syslog.body.trimEnd().split('\n');
    // The three entries and the first export's own entry.
    expect(lines).toHaveLength(4);
    expect(lines[3]).toContain('audit.export');
    expect(lines[1]).toMatch(/^<\d+>1 \S+ \S+ pulsegate \S+ user.create \[audit@32473 seq="1"/);
    expect((await app.inject({ url: '/api/v1/audit/export?format=csv' })).statusCode).toBe(400);
  });
});
