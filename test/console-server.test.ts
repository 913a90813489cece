/**
 * How `pulsegate serve` delivers the console: index.html for client routes with the console's
 * Content-Security-Policy and no caching, hashed assets cached as immutable, the API keeping its
 * stricter policy and problem+json 404s; plus the console's server-side helpers (fleet summary
 * within care units, newest-first audit paging, the checkpoint verifier key).
 */
import { verify } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNote } from '../src/audit/index.js';
import { CONSOLE_CSP, consoleBuilt, defaultWebRoot } from '../src/console/index.js';
import { call, startTestInstallation, type TestInstallation } from './support/installation.js';

const built = consoleBuilt();
let t: TestInstallation;

beforeAll(async () => {
  t = await startTestInstallation();
});
afterAll(async () => {
  await t?.cleanup();
});

describe.skipIf(!built)('console delivery (needs npm run build)', () => {
  it('serves index.html for client routes with the console CSP, no inline script and no caching', async () => {
    for (const url of ['/', '/devices', '/devices/pump-1', '/triage/patient/mon-1', '/audit', '/login']) {
      const r = await t.app.http.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(200);
      expect(r.headers['content-type']).toMatch(/^text\/html/);
      expect(r.headers['content-security-policy']).toBe(CONSOLE_CSP);
      expect(r.headers['cache-control']).toBe('no-cache');
      expect(r.body).toContain('<div id="root">');
      // Every script is an external same-origin file; no inline script or style for the CSP to allow.
      expect(r.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(r.body).not.toMatch(/<style|style=/);
    }
    expect(CONSOLE_CSP).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
  });

  it('caches hashed assets as immutable and refuses anything outside the assets folder', async () => {
    const index = readFileSync(`${defaultWebRoot()}index.html`, 'utf8');
    const asset = /src="\/assets\/([^"]+\.js)"/.exec(index)![1]!;
    expect(existsSync(`${defaultWebRoot()}assets/${asset}`)).toBe(true);
    const r = await t.app.http.inject({ method: 'GET', url: `/assets/${asset}` });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/javascript/);
    expect(r.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    for (const url of ['/assets/..%2F..%2Fpackage.json', '/assets/%2e%2e/index.html', '/assets/nope.js']) {
      const bad = await t.app.http.inject({ method: 'GET', url });
      expect(bad.statusCode, url).toBeGreaterThanOrEqual(400);
      expect(bad.headers['cache-control']).not.toMatch(/immutable/);
    }
  });
});

describe('API next to the console', () => {
  it('keeps the API strict: default-src none, no-store, problem+json 404 for unknown API paths', async () => {
    const r = await call(t.app, 'GET', '/api/v1/no-such-thing', { token: t.adminToken });
    expect(r.status).toBe(404);
    expect(r.body.code).toBe('ROUTE_NOT_FOUND');
    expect(String(r.headers['content-type'])).toMatch(/problem\+json/);
    expect(r.headers['content-security-policy']).toMatch(/default-src 'none'/);
    const me = await call(t.app, 'GET', '/api/v1/me', { token: t.adminToken });
    expect(me.headers['cache-control']).toBe('no-store');
    expect(me.headers['content-security-policy']).toMatch(/default-src 'none'/);
  });

  it('fleet summary: counts within the caller’s care units; needs devices:read', async () => {
    for (const [id, careUnit] of [
      ['fs-icu-1', 'ICU'],
      ['fs-icu-2', 'ICU'],
      ['fs-ccu-1', 'CCU'],
    ] as const) {
      const r = await call(t.app, 'POST', '/api/v1/devices', {
        token: t.adminToken,
        body: { id, type: 'patient-monitor', vendor: 'Acme', model: 'X', careUnit },
      });
      expect(r.status).toBe(201);
    }
    const admin = await call(t.app, 'GET', '/api/v1/fleet/summary', { token: t.adminToken });
    expect(admin.status).toBe(200);
    expect(admin.body).toMatchObject({
      devices: { total: 3, byType: [{ type: 'patient-monitor', lifecycle: 'registered', count: 3 }] },
      connected: 0,
      messagesPerSecond: 0,
      certificates: { expiringSoon: 0, expired: 0, soonest: [] },
    });
    const clinician = await t.userWithToken('fs-clin', 'clinician', { careUnits: ['CCU'] });
    const limited = await call(t.app, 'GET', '/api/v1/fleet/summary', { token: clinician });
    expect((limited.body.devices as { total: number }).total).toBe(1);
    const auditor = await t.userWithToken('fs-aud', 'auditor');
    expect((await call(t.app, 'GET', '/api/v1/fleet/summary', { token: auditor })).body.code).toBe(
      'ACCESS_DENIED',
    );
    const sorted = await call(t.app, 'GET', '/api/v1/devices?sort=-careUnit&certificateStatus=none', {
      token: t.adminToken,
    });
    expect((sorted.body.items as Array<{ id: string }>).map((d) => d.id)).toEqual([
      'fs-icu-1',
      'fs-icu-2',
      'fs-ccu-1',
    ]);
    const bad = await call(t.app, 'GET', '/api/v1/devices?sort=password', { token: t.adminToken });
    expect(bad.body.code).toBe('VALIDATION_FAILED');
  });

  it('audit: newest-first pages and a verifier key that verifies the signed checkpoint', async () => {
    const first = await call(t.app, 'GET', '/api/v1/audit/entries?order=desc&limit=3', {
      token: t.adminToken,
    });
    const seqs = (first.body.entries as Array<{ seq: number }>).map((e) => e.seq);
    expect(seqs).toHaveLength(3);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    const next = await call(
      t.app,
      'GET',
      `/api/v1/audit/entries?order=desc&limit=3&before=${first.body.next}`,
      {
        token: t.adminToken,
      },
    );
    expect((next.body.entries as Array<{ seq: number }>)[0]!.seq).toBe(seqs[2]! - 1);

    await t.app.audit.checkpoint();
    const cp = await call(t.app, 'GET', '/api/v1/audit/checkpoint', { token: t.adminToken });
    const key = await call(t.app, 'GET', '/api/v1/audit/verifier', { token: t.adminToken });
    expect(key.status).toBe(200);
    const note = parseNote(cp.body.note as string)!;
    const sig = note.signatures.find((s) => s.name === key.body.name)!;
    const publicKey = {
      key: {
        kty: 'OKP',
        crv: 'Ed25519',
        x: Buffer.from(key.body.publicKey as string, 'base64').toString('base64url'),
      },
      format: 'jwk' as const,
    };
    expect(verify(null, Buffer.from(note.text), publicKey, sig.signature)).toBe(true);
    expect(verify(null, Buffer.from(`${note.text}x`), publicKey, sig.signature)).toBe(false);
    const clinician = await t.userWithToken('au-clin', 'clinician', { careUnits: ['ICU'] });
    expect((await call(t.app, 'GET', '/api/v1/audit/verifier', { token: clinician })).status).toBe(403);
  });
});
