import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from './entry.js';
import { toFhirAuditEvent } from './fhir.js';
import { createSyslogSender, toSyslog } from './syslog.js';

const read: AuditEntry = {
  seq: 7,
  time: '2024-05-01T12:00:00.123Z',
  actor: { type: 'user', id: 'u1', name: 'dr.house', role: 'clinician' },
  action: 'patient.read',
  resource: { type: 'patient', id: 'p-42' },
  outcome: 'success',
  source: '10.1.2.3',
  breakGlass: true,
  requestId: 'req-9',
};
const denied: AuditEntry = {
  seq: 8,
  time: '2024-05-01T12:00:01.000Z',
  actor: { type: 'anonymous' },
  action: 'auth.login',
  outcome: 'denied',
  code: 'AUTH_INVALID_CREDENTIALS',
  reason: 'bad "password" \\ [x]',
};

describe('FHIR AuditEvent (IHE BALP)', () => {
  it('maps a patient read to a BALP Read with patient entity, requestor, network and break-glass', () => {
    const ae = toFhirAuditEvent(read, { observer: 'pulsegate-node-1' });
    expect(ae).toMatchObject({
      resourceType: 'AuditEvent',
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
      action: 'R',
      recorded: read.time,
      outcome: '0',
      source: { observer: { display: 'pulsegate-node-1' }, type: [{ code: '4' }] },
    });
    expect(ae.subtype).toContainEqual({ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' });
    // BALP-shaped, but no profile claimed: its Read profile also wants client and server agents.
    expect(ae).not.toHaveProperty('meta');
    expect(ae.agent[0]).toMatchObject({
      who: { identifier: { value: 'u1' }, display: 'dr.house' },
      requestor: true,
      network: { address: '10.1.2.3', type: '2' },
      purposeOfUse: [{ coding: [{ code: 'BTG' }] }],
    });
    expect(ae.entity?.[0]).toMatchObject({ what: { reference: 'Patient/p-42' }, role: { code: '1' } });
  });

  it('maps a refused login to DICOM User Authentication / Login with a failure outcome', () => {
    const ae = toFhirAuditEvent(denied);
    expect(ae.type).toMatchObject({ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110114' });
    expect(ae.subtype[0]).toMatchObject({ code: '110122' });
    expect(ae.action).toBe('E');
    expect(ae.outcome).toBe('4');
    expect(ae.outcomeDesc).toContain('AUTH_INVALID_CREDENTIALS');
  });

  it('maps creates, updates and deletes to C, U and D', () => {
    for (const [verb, action] of [
      ['create', 'C'],
      ['update', 'U'],
      ['delete', 'D'],
    ] as const) {
      expect(toFhirAuditEvent({ ...read, action: `device.${verb}` }).action).toBe(action);
    }
  });
});

/** A strict RFC 5424 parser: header fields, SD elements with escaped PARAM-VALUEs, then MSG. */
function parse5424(line: string) {
  const header = /^<(\d{1,3})>1 (\S+) (\S{1,255}) (\S{1,48}) (\S{1,128}) (\S{1,32}) /.exec(line);
  if (!header) throw new Error(`bad header: ${line}`);
  let rest = line.slice(header[0].length);
  const sd: Record<string, Record<string, string>> = {};
  const element = /^\[([^ =\]"]{1,32})((?: [^ =\]"]{1,32}="(?:[^"\\\]]|\\["\\\]])*")*)\]/;
  for (let m = element.exec(rest); m; m = element.exec(rest)) {
    const params: Record<string, string> = {};
    for (const p of m[2]!.matchAll(/ ([^ =\]"]+)="((?:[^"\\\]]|\\["\\\]])*)"/g)) {
      params[p[1]!] = p[2]!.replace(/\\(["\\\]])/g, '$1');
    }
    sd[m[1]!] = params;
    rest = rest.slice(m[0].length);
  }
  if (!rest.startsWith(' ')) throw new Error('no MSG separator');
  return {
    pri: Number(header[1]),
    timestamp: header[2],
    hostname: header[3],
    appName: header[4],
    msgId: header[6],
    sd,
    msg: rest.slice(1),
  };
}

describe('RFC 5424 syslog', () => {
  it('renders PRI, version, timestamp, header fields, escaped structured data and a BOM message', () => {
    const parsed = parse5424(toSyslog(denied, { hostname: 'node-1', appName: 'pulsegate', procId: '42' }));
    expect(parsed.pri).toBe(13 * 8 + 4);
    expect(parsed).toMatchObject({
      timestamp: denied.time,
      hostname: 'node-1',
      appName: 'pulsegate',
      msgId: 'auth.login',
    });
    expect(parsed.sd['audit@32473']).toMatchObject({
      seq: '8',
      action: 'auth.login',
      outcome: 'denied',
      code: 'AUTH_INVALID_CREDENTIALS',
      reason: 'bad "password" \\ [x]',
    });
    expect(parsed.msg.startsWith('\uFEFFauth.login denied')).toBe(true);
    expect(parse5424(toSyslog(read)).pri).toBe(13 * 8 + 6);
  });
});

describe('syslog sender over TLS with RFC 6587 octet counting', () => {
  let dir: string;
  let cert: string;
  let key: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pulsegate-syslog-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    key = readFileSync(join(dir, 'key.pem'), 'utf8');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Splits a TCP stream into octet-counted frames (RFC 6587 §3.4.1), refusing anything else. */
  function frames(data: Buffer): string[] {
    const out: string[] = [];
    let i = 0;
    while (i < data.length) {
      const sp = data.indexOf(0x20, i);
      const len = data.subarray(i, sp).toString('ascii');
      if (sp < 0 || !/^[1-9][0-9]*$/.test(len)) throw new Error(`bad MSG-LEN at byte ${i}`);
      const end = sp + 1 + Number(len);
      if (end > data.length) throw new Error('truncated frame');
      out.push(data.subarray(sp + 1, end).toString('utf8'));
      i = end;
    }
    return out;
  }

  it('delivers each message as one octet-counted frame to a verified TLS receiver', async () => {
    const received: Buffer[] = [];
    const server = tls.createServer({ cert, key, minVersion: 'TLSv1.2' });
    const closed = new Promise<void>((resolve) => {
      server.on('secureConnection', (s) => {
        s.on('data', (d: Buffer) => received.push(d));
        s.on('end', () => {
          s.end();
          resolve();
        });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const sender = await createSyslogSender({ host: '127.0.0.1', port, tls: true, ca: cert });
    const lines = [toSyslog(read), toSyslog(denied), toSyslog({ ...read, seq: 9, reason: 'ünïcödé ✓' })];
    for (const line of lines) await sender.send(line);
    await sender.close();
    await closed;
    server.close();
    const got = frames(Buffer.concat(received));
    expect(got).toEqual(lines);
    expect(got.map((l) => parse5424(l).sd['audit@32473']?.seq)).toEqual(['7', '8', '9']);
  });

  it('refuses a receiver whose certificate it does not trust', async () => {
    const server = tls.createServer({ cert, key });
    server.on('tlsClientError', () => {});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    await expect(createSyslogSender({ host: '127.0.0.1', port, tls: true })).rejects.toThrow();
    server.close();
  });
});
