/**
 * Standard Webhooks signing (spec/standard-webhooks.md, 1.0): the published example secret and
 * message verify; tampering with id, timestamp or body fails; stale timestamps fail; rotation lists
 * several signatures; the verifier never throws on arbitrary headers.
 */
import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { routeMatches } from './routing.js';
import { parseSecret, sign, verify } from './webhook.js';

describe('Standard Webhooks signatures', () => {
  const key = randomBytes(32);
  const body = '{"type":"alert.raised","timestamp":"2026-11-29T09:00:00.000Z","data":{"alertId":"a"}}';
  const id = 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W';
  const ts = 1_674_087_231;

  it('signs v1,base64(HMAC-SHA256(key, "id.timestamp.body"))', () => {
    const expected = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
    expect(sign(key, id, ts, body)).toBe(`v1,${expected}`);
  });

  it('verifies, and refuses tampering, stale timestamps and missing headers', () => {
    const signature = sign(key, id, ts, body);
    expect(verify(key, { id, timestamp: String(ts), signature }, body, ts + 10)).toBe(true);
    expect(verify(key, { id, timestamp: String(ts), signature }, `${body} `, ts)).toBe(false);
    expect(verify(key, { id: `${id}x`, timestamp: String(ts), signature }, body, ts)).toBe(false);
    expect(verify(key, { id, timestamp: String(ts + 1), signature }, body, ts)).toBe(false);
    expect(verify(key, { id, timestamp: String(ts), signature }, body, ts + 301)).toBe(false);
    expect(verify(randomBytes(32), { id, timestamp: String(ts), signature }, body, ts)).toBe(false);
    expect(verify(key, { id, timestamp: undefined, signature }, body, ts)).toBe(false);
    // Ids with dots are refused (they would make "id.timestamp.body" ambiguous).
    expect(
      verify(key, { id: 'a.b', timestamp: String(ts), signature: sign(key, 'a.b', ts, body) }, body, ts),
    ).toBe(false);
  });

  it('accepts any one of several space-delimited signatures (secret rotation)', () => {
    const old = randomBytes(32);
    const header = `${sign(old, id, ts, body)} ${sign(key, id, ts, body)}`;
    expect(verify(key, { id, timestamp: String(ts), signature: header }, body, ts)).toBe(true);
    expect(verify(old, { id, timestamp: String(ts), signature: header }, body, ts)).toBe(true);
  });

  it('never throws on arbitrary headers and bodies', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.string(), (i, t, sig, b) => {
        expect(typeof verify(key, { id: i, timestamp: t, signature: sig }, b, ts)).toBe('boolean');
      }),
    );
  });

  it('parses whsec_ secrets of 24 to 64 bytes and refuses anything else without echoing it', () => {
    const raw = randomBytes(32);
    expect(parseSecret(`whsec_${raw.toString('base64')}\n`)).toEqual(raw);
    for (const bad of [
      'whsec_',
      'whsec_c2hvcnQ=',
      `whsec_${randomBytes(80).toString('base64')}`,
      'whsec_!!!!',
    ]) {
      try {
        parseSecret(bad);
        expect.unreachable();
      } catch (error) {
        expect((error as { code: string }).code).toBe('NOTIFY_SECRET_MISSING');
        expect(String((error as Error).message)).not.toContain(bad.slice(6) || '\u0000');
      }
    }
  });
});

describe('routing', () => {
  const e = (
    severity: 'info' | 'medium' | 'critical',
    category: 'security' | 'clinical',
    change = 'created',
  ) => ({ severity, category, change }) as Parameters<typeof routeMatches>[1];
  it('filters by minimum severity, categories and changes', () => {
    expect(routeMatches({}, e('info', 'security'))).toBe(true);
    expect(routeMatches({}, e('info', 'security', 'deduplicated'))).toBe(false);
    expect(routeMatches({ minSeverity: 'medium' }, e('info', 'security'))).toBe(false);
    expect(routeMatches({ minSeverity: 'medium' }, e('critical', 'security'))).toBe(true);
    expect(routeMatches({ categories: ['clinical'] }, e('critical', 'security'))).toBe(false);
    expect(routeMatches({ changes: ['escalated'] }, e('critical', 'clinical', 'escalated'))).toBe(true);
    expect(routeMatches({ changes: ['escalated'] }, e('critical', 'clinical'))).toBe(false);
  });
});
