/**
 * The live-stream hub on a real HTTP server and real sockets: a client that stops reading is
 * dropped once its unsent bytes pass the limit (memory stays bounded) while a reading client keeps
 * receiving; filtering follows the access policy for each event kind.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Principal, ResourceScope } from '../../access/index.js';
import { checkResource } from '../../access/policy.js';
import { CARE_UNIT_LIMITED, type Permission, roleHas } from '../../access/roles.js';
import { PulsegateError } from '../../errors.js';
import { type AlertEvent, createdAlertEvent } from '../contracts.js';
import { StreamHub } from './stream.js';

const principal = (role: Principal['role'], extra: Partial<Principal> = {}): Principal => ({
  kind: 'user',
  id: role,
  name: role,
  role,
  careUnits: [],
  vendorDevices: [],
  scopes: [],
  ...extra,
});

const access = {
  authorize(p: Principal, permission: Permission) {
    if (!roleHas(p.role, permission)) throw new PulsegateError('ACCESS_DENIED');
  },
  checkResource: (p: Principal, scope: ResourceScope) => checkResource(p, scope, Date.now()),
};

const alert = (careUnit: string | null, category: AlertEvent['category'] = 'clinical'): AlertEvent =>
  createdAlertEvent({
    alertId: 'a',
    category,
    rule: 'clinical.news2',
    title: 'x',
    deviceId: 'dev-1',
    careUnit,
    at: 1,
  });

describe('stream hub', () => {
  let server: http.Server | undefined;
  let hub: StreamHub | undefined;
  afterEach(async () => {
    hub?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  async function serve(who: (req: http.IncomingMessage) => Principal, maxBufferBytes = 64 * 1024) {
    hub = new StreamHub({
      access,
      heartbeatMs: 60_000,
      maxBufferBytes,
      maxSubscribers: 10,
      isCareUnitLimited: (p) => CARE_UNIT_LIMITED.has(p.role),
    });
    server = http.createServer((req, res) => hub!.subscribe(who(req), res));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  it('drops a client that stops reading instead of buffering without bound; others keep receiving', async () => {
    const port = await serve(() => principal('security-analyst'), 1024 * 1024);
    // A stalled client: connects, sends the request, never reads.
    const stalled = net.connect(port, '127.0.0.1');
    stalled.pause();
    stalled.write('GET /stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n');
    // A healthy client that reads everything.
    let received = 0;
    const healthy = await new Promise<http.IncomingMessage>((resolve) =>
      http.get({ port, host: '127.0.0.1', path: '/stream' }, resolve),
    );
    healthy.on('data', (c: Buffer) => {
      received += c.length;
    });
    const end = Date.now() + 20_000;
    while (hub!.size < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(hub!.size).toBe(2);

    const big = { ...alert('ICU', 'security'), title: 'x'.repeat(8 * 1024) };
    let sent = 0;
    while (hub!.dropped === 0 && sent < 20_000) {
      hub!.publish({ kind: 'alert', data: big });
      sent++;
      // Let the healthy client read now and then (8 x 8 KiB stays far under its 1 MiB limit).
      if (sent % 8 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    expect(hub!.dropped).toBe(1);
    expect(hub!.size).toBe(1);
    // The stalled client was cut off long before 20,000 x 8 KiB were queued for it.
    expect(sent).toBeLessThan(20_000);
    hub!.publish({ kind: 'alert', data: alert('ICU', 'security') });
    const before = received;
    const wait = Date.now() + 20_000;
    while (received === before && Date.now() < wait) await new Promise((r) => setTimeout(r, 10));
    expect(received).toBeGreaterThan(before);
    healthy.destroy();
    stalled.destroy();
  });

  it('filters each event kind by permission, care unit and vendor device', async () => {
    const who: Record<string, Principal> = {
      nurse: principal('clinician', { careUnits: ['ICU'] }),
      analyst: principal('security-analyst'),
      engineer: principal('clinical-engineer'),
      vendor: principal('vendor-service', { vendorDevices: ['dev-1'] }),
    };
    const port = await serve((req) => who[req.url!.slice(1)]!);
    const got: Record<string, string> = {};
    await Promise.all(
      Object.keys(who).map(
        (name) =>
          new Promise<void>((resolve) => {
            got[name] = '';
            http.get({ port, host: '127.0.0.1', path: `/${name}` }, (res) => {
              res.setEncoding('utf8');
              res.on('data', (c: string) => {
                got[name] += c;
              });
              resolve();
            });
          }),
      ),
    );
    const end = Date.now() + 20_000;
    while (hub!.size < 4 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    hub!.publish({ kind: 'alert', data: { ...alert('ICU'), alertId: 'icu-clinical' } });
    hub!.publish({ kind: 'alert', data: { ...alert('WARD'), alertId: 'ward-clinical' } });
    hub!.publish({ kind: 'alert', data: { ...alert('ICU', 'security'), alertId: 'icu-security' } });
    hub!.publish({ kind: 'telemetry', data: { deviceId: 'dev-1', count: 4, at: 1 }, careUnit: 'ICU' });
    hub!.publish({
      kind: 'device',
      data: { deviceId: 'dev-1', change: 'quarantined', at: 1 },
      careUnit: 'ICU',
    });
    hub!.publish({ kind: 'device', data: { deviceId: 'dev-2', change: 'updated', at: 1 }, careUnit: 'ICU' });
    hub!.publish({ kind: 'alert', data: { ...alert(null, 'security'), alertId: 'done' } });
    const wait = Date.now() + 20_000;
    while (!got.analyst!.includes('"done"') && Date.now() < wait) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    const ids = (text: string) =>
      [...text.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map(([, kind, data]) => {
        const d = JSON.parse(data!);
        return kind === 'alert' ? d.alertId : `${kind}:${d.deviceId}`;
      });
    expect(ids(got.nurse!)).toEqual(['icu-clinical', 'telemetry:dev-1', 'device:dev-1', 'device:dev-2']);
    expect(ids(got.analyst!)).toEqual([
      'icu-clinical',
      'ward-clinical',
      'icu-security',
      'device:dev-1',
      'device:dev-2',
      'done',
    ]);
    expect(ids(got.engineer!)).toEqual([
      'icu-clinical',
      'ward-clinical',
      'icu-security',
      'device:dev-1',
      'device:dev-2',
      'done',
    ]);
    // A vendor account: only its own device, and no alerts or telemetry (no such permission).
    expect(ids(got.vendor!)).toEqual(['device:dev-1']);
  });

  it('holds one account to its share of streams, so it cannot take every slot', async () => {
    hub = new StreamHub({
      access,
      heartbeatMs: 60_000,
      maxBufferBytes: 64 * 1024,
      maxSubscribers: 10,
      maxPerPrincipal: 2,
      isCareUnitLimited: (p) => CARE_UNIT_LIMITED.has(p.role),
    });
    const codes: string[] = [];
    server = http.createServer((req, res) => {
      try {
        hub!.subscribe(principal(req.url === '/other' ? 'auditor' : 'security-analyst'), res);
      } catch (error) {
        codes.push((error as PulsegateError).code);
        res.writeHead(503).end();
      }
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const open = (path: string) =>
      new Promise<http.IncomingMessage>((resolve) => http.get({ port, host: '127.0.0.1', path }, resolve));
    const statuses = [];
    for (const path of ['/mine', '/mine', '/mine', '/other']) statuses.push((await open(path)).statusCode);
    expect(statuses).toEqual([200, 200, 503, 200]);
    expect(codes).toEqual(['NOTIFY_STREAM_FULL']);
  });

  it('sends a subscriber only the kinds it asked for, and says which kinds anyone wants', async () => {
    hub = new StreamHub({
      access,
      heartbeatMs: 60_000,
      maxBufferBytes: 64 * 1024,
      maxSubscribers: 10,
      isCareUnitLimited: (p) => CARE_UNIT_LIMITED.has(p.role),
    });
    server = http.createServer((req, res) =>
      hub!.subscribe(
        principal('admin'),
        res,
        undefined,
        req.url === '/alerts' ? new Set(['alert']) : undefined,
      ),
    );
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const open = (path: string) =>
      new Promise<{ text: string }>((resolve) =>
        http.get({ port, host: '127.0.0.1', path }, (res) => {
          const got = { text: '' };
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            got.text += c;
          });
          resolve(got);
        }),
      );
    const alertsOnly = await open('/alerts');
    const end = Date.now() + 20_000;
    while (hub.size < 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect([hub.wants('alert'), hub.wants('telemetry'), hub.wants('device')]).toEqual([true, false, false]);
    const everything = await open('/all');
    while (hub.size < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(hub.wants('telemetry')).toBe(true);

    hub.publish({ kind: 'telemetry', data: { deviceId: 'dev-1', count: 4, at: 1 }, careUnit: 'ICU' });
    hub.publish({ kind: 'device', data: { deviceId: 'dev-1', change: 'updated', at: 1 }, careUnit: 'ICU' });
    hub.publish({ kind: 'alert', data: { ...alert('ICU'), alertId: 'last' } });
    while (!(alertsOnly.text.includes('"last"') && everything.text.includes('"last"')) && Date.now() < end)
      await new Promise((r) => setTimeout(r, 10));
    const kinds = (text: string) => [...text.matchAll(/event: (\w+)\n/g)].map(([, kind]) => kind);
    expect(kinds(alertsOnly.text)).toEqual(['alert']);
    expect(kinds(everything.text)).toEqual(['telemetry', 'device', 'alert']);
  });
});
