/** RFC 5424 and CEF rendering of alert events, checked with a strict parser; property tests for escaping. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AlertEvent } from '../contracts.js';
import { cefExtensionValue, cefHeaderField, toCef } from './cef.js';
import { parseRfc5424 } from './rfc5424-parser.js';
import { alertToSyslog } from './syslog-target.js';

const AT = Date.UTC(2026, 10, 29, 9, 30, 15, 123);
const alert = (extra: Partial<AlertEvent> = {}): AlertEvent => ({
  alertId: 'a-1',
  category: 'security',
  severity: 'critical',
  rule: 'device.cloned-certificate',
  title: 'Certificate used from two places',
  deviceId: 'dev-0001',
  careUnit: 'icu',
  state: 'open',
  count: 3,
  incidentId: null,
  escalationLevel: 1,
  change: 'escalated',
  actor: 'system',
  at: AT,
  ...extra,
});

/** Reads a CEF record back (header split on unescaped pipes; extension keys found before unescaped '='). */
function parseCef(line: string) {
  const header: string[] = [];
  let i = 0;
  let cur = '';
  while (header.length < 7) {
    const c = line[i++];
    if (c === undefined) throw new Error('short header');
    if (c === '\\') cur += line[i++];
    else if (c === '|') {
      header.push(cur);
      cur = '';
    } else cur += c;
  }
  const ext: Record<string, string> = {};
  const rest = line.slice(i);
  const keys = [...rest.matchAll(/(?:^| )([A-Za-z0-9]+)=/g)].filter((m) => {
    // A key's '=' is unescaped: count the backslashes before it.
    let n = 0;
    for (let k = m.index! + m[0].length - 2; k >= 0 && rest[k] === '\\'; k--) n++;
    return n % 2 === 0;
  });
  keys.forEach((m, k) => {
    const start = m.index! + m[0].length;
    const end = k + 1 < keys.length ? keys[k + 1]!.index! : rest.length;
    ext[m[1]!] = rest
      .slice(start, end)
      // One pass, left to right: `\\n` is a backslash and an n, not a backslash and a line break.
      .replace(/\\([\\=nr])/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
  });
  return { header, ext };
}

describe('RFC 5424 rendering', () => {
  it('is strict RFC 5424 with the alert in structured data and the title as MSG', () => {
    const p = parseRfc5424(alertToSyslog(alert(), { format: 'rfc5424', hostname: 'pg-1', version: '0.1.0' }));
    expect(p).toMatchObject({
      facility: 4, // security/authorization
      severity: 2, // critical
      timestamp: '2026-11-29T09:30:15.123Z',
      hostname: 'pg-1',
      appName: 'pulsegate',
      msgId: 'device.cloned-certificate',
      msg: 'Certificate used from two places',
      bom: true,
    });
    expect(p.sd['alert@32473']).toEqual({
      alertId: 'a-1',
      category: 'security',
      severity: 'critical',
      rule: 'device.cloned-certificate',
      change: 'escalated',
      state: 'open',
      count: '3',
      deviceId: 'dev-0001',
      careUnit: 'icu',
      escalationLevel: '1',
      actor: 'system',
    });
    const clinical = parseRfc5424(
      alertToSyslog(alert({ category: 'clinical', severity: 'medium' }), { format: 'rfc5424', version: '1' }),
    );
    expect([clinical.facility, clinical.severity]).toEqual([16, 4]);
  });

  it('escapes any title and parameter value so the message still parses', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.string({ maxLength: 40 }), (title, actor) => {
        const line = alertToSyslog(alert({ title, actor }), { format: 'rfc5424', version: '1' });
        const p = parseRfc5424(line);
        expect(p.sd['alert@32473']!.actor).toBe(actor.replace(/\p{Cc}/gu, ' '));
        expect(line).not.toMatch(/[\r\n]/);
      }),
    );
  });
});

describe('CEF', () => {
  it('renders the ArcSight header and extension', () => {
    const line = toCef(alert({ title: 'a|b\\c', careUnit: 'x=y' }), '0.1.0');
    expect(line.startsWith('CEF:0|Pulsegate|Pulsegate|0.1.0|device.cloned-certificate|a\\|b\\\\c|10|')).toBe(
      true,
    );
    const { header, ext } = parseCef(line);
    expect(header[5]).toBe('a|b\\c');
    expect(ext).toMatchObject({
      rt: String(AT),
      cat: 'security',
      externalId: 'a-1',
      deviceExternalId: 'dev-0001',
      act: 'escalated',
      cs1Label: 'careUnit',
      cs1: 'x=y',
      cnt: '3',
    });
  });

  it('escapes header fields and extension values for any input (round trip)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), fc.string({ maxLength: 60 }), (title, unit) => {
        const { header, ext } = parseCef(toCef(alert({ title, careUnit: unit }), '1'));
        expect(header[5]).toBe(title.replace(/[\r\n]+/g, ' '));
        expect(ext.cs1).toBe(unit.replace(/\r\n/g, '\n'));
      }),
    );
    expect(cefHeaderField('a|b\\')).toBe('a\\|b\\\\');
    expect(cefExtensionValue('k=v\\\nx')).toBe('k\\=v\\\\\\nx');
  });

  it('travels as the MSG of an RFC 5424 message', () => {
    const p = parseRfc5424(alertToSyslog(alert(), { format: 'cef', version: '0.1.0' }));
    expect(p.msgId).toBe('CEF');
    expect(p.msg.startsWith('CEF:0|Pulsegate|')).toBe(true);
  });
});
