/**
 * Webhooks end to end against a real HTTPS receiver: every request's Standard Webhooks signature is
 * verified independently (HMAC-SHA256 over `id.timestamp.body`); a receiver that is down gets
 * retries and, once back, every notification exactly once, also after the sender restarts (the
 * outbox is in the database); after the last attempt a notification is a dead letter that can be
 * replayed. Runs on SQLite and PostgreSQL.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { EventBus } from '../../events/index.js';
import { describeEachDialect } from '../../testing/dialects.js';
import type { TestStore } from '../../testing/stores.js';
import type { AlertEvent } from '../contracts.js';
import { type MonitorFixture, monitorFixture } from '../test-fixture.js';
import { createNotifyService, type NotifyConfig, type NotifyService } from './notify-service.js';
import { makeTestTls, type TestTls } from './test-tls.js';
import { parseSecret, sign, verify } from './webhook.js';

let tls: TestTls;
beforeAll(() => {
  tls = makeTestTls();
  return () => tls.cleanup();
});

interface Received {
  path: string;
  id: string;
  timestamp: number;
  body: string;
}

/** A webhook receiver over HTTPS that verifies each signature with its own HMAC code. */
class Receiver {
  readonly received: Received[] = [];
  readonly badSignatures: string[] = [];
  status = 204;
  /** Sent as Retry-After with a refusal, when set. */
  retryAfter: string | undefined;
  /** Requests answered, whatever the status. */
  hits = 0;
  #server: https.Server | undefined;
  constructor(readonly key: Buffer) {}

  async start(port = 0): Promise<number> {
    this.#server = https.createServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const id = String(req.headers['webhook-id']);
        const ts = String(req.headers['webhook-timestamp']);
        const expected = `v1,${createHmac('sha256', this.key).update(`${id}.${ts}.${body}`).digest('base64')}`;
        const given = String(req.headers['webhook-signature'] ?? '');
        const ok =
          given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
        if (!ok) this.badSignatures.push(id);
        else if (this.status < 300)
          this.received.push({ path: req.url ?? '', id, timestamp: Number(ts), body });
        this.hits++;
        const retry = this.status >= 300 && this.retryAfter ? { 'retry-after': this.retryAfter } : {};
        res.writeHead(ok ? this.status : 401, retry).end();
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(port, '127.0.0.1', resolve));
    return (this.#server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const r = new Receiver(Buffer.alloc(32));
  const port = await r.start();
  await r.stop();
  return port;
}

const event = (n: number, at: number, extra: Partial<AlertEvent> = {}): AlertEvent => ({
  alertId: `alert-${n}`,
  category: 'security',
  severity: 'high',
  rule: 'device.flood',
  title: 'Message flood from device',
  deviceId: `dev-${n}`,
  careUnit: 'icu',
  state: 'open',
  count: 1,
  incidentId: null,
  escalationLevel: 0,
  change: 'created',
  actor: 'system',
  at,
  ...extra,
});

describeEachDialect('notify: webhooks', (open) => {
  let t: TestStore | undefined;
  let m: MonitorFixture | undefined;
  const services: NotifyService[] = [];
  const receivers: Receiver[] = [];
  afterEach(async () => {
    for (const s of services.splice(0)) await s.close();
    for (const r of receivers.splice(0)) await r.stop();
    if (m) await m.cleanup();
    else await t?.cleanup();
    t = undefined;
    m = undefined;
  });

  async function setup(
    port: number,
    overrides: Partial<NotifyConfig> = {},
    secret = newSecret(),
    extra: NotifyConfig['webhooks'] = [],
    /** Raise through the real durable alert store (its bus, store and clock) instead of a bare bus. */
    withAlertStore = false,
  ) {
    if (withAlertStore) {
      m = await monitorFixture(open);
      t = m.t;
    } else t = await open();
    const secretFile = join(tls.dir, `secret-${randomBytes(4).toString('hex')}`);
    writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
    const clock = m?.clock ?? { ms: Date.now() };
    const bus = m?.bus ?? new EventBus();
    const config: NotifyConfig = {
      webhooks: [
        { name: 'siem', url: `https://127.0.0.1:${port}/hooks/pulsegate`, secretFile, caFile: tls.caFile },
        ...extra,
      ],
      syslog: [],
      maxAttempts: 5,
      retryBaseSeconds: 1,
      retryMaxSeconds: 60,
      timeoutSeconds: 5,
      streamHeartbeatSeconds: 15,
      streamMaxBufferBytes: 65536,
      streamMaxSubscribers: 10,
      ...overrides,
    };
    const make = () => {
      const s = createNotifyService({
        store: t!.store,
        bus,
        config,
        dataDir: tls.dir,
        version: 'test',
        access: { authorize() {}, checkResource() {} },
        isCareUnitLimited: () => false,
        careUnitOf: async () => null,
        now: () => clock.ms,
      });
      services.push(s);
      return s;
    };
    return { bus, clock, make, key: parseSecret(secret), alerts: m?.alerts };
  }

  it('signs every delivery; a receiver that is down gets retries and everything once it is back, across a restart', async () => {
    const port = await freePort();
    const { bus, clock, make, key } = await setup(port);
    let notify = make();
    for (let i = 1; i <= 5; i++) bus.emit('alert.raised', event(i, clock.ms));
    await notify.drain();
    expect(await notify.counts()).toEqual({ pending: 5 });
    // Retried with backoff while the receiver is down (still nothing delivered, nothing dropped).
    clock.ms += 2_000;
    await notify.drain();
    expect(await notify.counts()).toEqual({ pending: 5 });

    // The sender restarts: a new service on the same database finds the outbox.
    await notify.close();
    notify = make();
    const receiver = new Receiver(key);
    receivers.push(receiver);
    await receiver.start(port);
    clock.ms += 10_000;
    await notify.drain();
    expect(receiver.badSignatures).toEqual([]);
    expect(receiver.received.map((r) => JSON.parse(r.body).data.alertId).sort()).toEqual([
      'alert-1',
      'alert-2',
      'alert-3',
      'alert-4',
      'alert-5',
    ]);
    expect(new Set(receiver.received.map((r) => r.id)).size).toBe(5);
    expect(await notify.counts()).toEqual({});
    for (const r of receiver.received) {
      // The attempt's timestamp, not the event's; and the library verifier agrees.
      expect(r.timestamp).toBe(Math.floor(clock.ms / 1000));
      expect(
        verify(
          key,
          { id: r.id, timestamp: String(r.timestamp), signature: sign(key, r.id, r.timestamp, r.body) },
          r.body,
          r.timestamp,
        ),
      ).toBe(true);
      expect(JSON.parse(r.body)).toMatchObject({ type: 'alert.raised', data: { rule: 'device.flood' } });
    }
    // Nothing is sent twice.
    clock.ms += 60_000;
    await notify.drain();
    expect(receiver.received).toHaveLength(5);
  });

  it('dead-letters after the last attempt, lists it, and replays it on request', async () => {
    const secret = newSecret();
    const receiver = new Receiver(parseSecret(secret));
    receivers.push(receiver);
    receiver.status = 503;
    const port = await receiver.start();
    const { bus, clock, make } = await setup(port, { maxAttempts: 3 }, secret);
    const notify = make();
    bus.emit(
      'alert.raised',
      event(7, clock.ms, { category: 'clinical', severity: 'critical', rule: 'clinical.news2' }),
    );
    await notify.drain();
    clock.ms += 5_000;
    await notify.drain();
    expect(await notify.deadLetters()).toEqual([]);
    clock.ms += 5_000;
    await notify.drain();
    // Three attempts, all refused (and all correctly signed): now a dead letter, never dropped.
    expect(receiver.badSignatures).toEqual([]);
    const dead = await notify.deadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ target: 'siem', attempts: 3, lastError: 'HTTP 503' });
    expect(await notify.counts()).toEqual({ dead: 1 });
    clock.ms += 3_600_000;
    await notify.drain();
    expect(await notify.counts()).toEqual({ dead: 1 });

    receiver.status = 200;
    await notify.replay(dead[0]!.id);
    await notify.drain();
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]!.id).toBe(dead[0]!.id);
    expect(await notify.counts()).toEqual({});
    await expect(notify.replay(dead[0]!.id)).rejects.toMatchObject({ code: 'NOTIFY_DEAD_LETTER_NOT_FOUND' });
  });

  it("holds a receiver's Retry-After to retryMaxSeconds (ten years would park a message for good)", async () => {
    const secret = newSecret();
    const receiver = new Receiver(parseSecret(secret));
    receivers.push(receiver);
    receiver.status = 503;
    receiver.retryAfter = String(10 * 365 * 86_400);
    const port = await receiver.start();
    const { bus, clock, make } = await setup(port, { maxAttempts: 3 }, secret);
    const notify = make();
    bus.emit('alert.raised', event(11, clock.ms));
    await notify.drain();
    expect(receiver.hits).toBe(1);
    // retryMaxSeconds is 60 here: the next attempt comes a minute later, not in ten years.
    clock.ms += 61_000;
    await notify.drain();
    expect(receiver.hits).toBe(2);
    receiver.status = 204;
    clock.ms += 61_000;
    await notify.drain();
    expect(receiver.received).toHaveLength(1);
    expect(await notify.counts()).toEqual({});
  });

  it('routes by severity and category, and never sends patient identifiers or values', async () => {
    const secret = newSecret();
    const receiver = new Receiver(parseSecret(secret));
    receivers.push(receiver);
    const port = await receiver.start();
    const secretFile = join(tls.dir, 'ward-secret');
    writeFileSync(secretFile, secret, { mode: 0o600 });
    // A second target that takes only clinical alerts of medium severity or more.
    const ward = {
      name: 'ward',
      url: `https://127.0.0.1:${port}/ward`,
      secretFile,
      caFile: tls.caFile,
      minSeverity: 'medium' as const,
      categories: ['clinical' as const],
    };
    const { bus, clock, make, alerts } = await setup(port, {}, secret, [ward], true);
    const notify = make();
    // A clinical alert raised through the durable alert store with a patient and values: the bus
    // event and the webhook carry neither.
    const onBus: AlertEvent[] = [];
    bus.on('alert.raised', (e) => onBus.push(e));
    const raised = await alerts!.raise({
      category: 'clinical',
      severity: 'high',
      rule: 'clinical.vital-limit',
      title: 'Oxygen saturation (SpO2) below the care unit limit',
      deviceId: 'dev-9',
      careUnit: 'ward-3',
      patientId: 'MRN-SECRET-123',
      evidence: { kind: 'spo2', value: 83.5, limit: 92 },
      dedupKey: 'k1',
      at: clock.ms,
    });
    expect(raised.outcome).toBe('created');
    expect(onBus).toHaveLength(1);
    expect(onBus[0]).toMatchObject({ rule: 'clinical.vital-limit', careUnit: 'ward-3', change: 'created' });
    expect(JSON.stringify(onBus)).not.toMatch(/MRN-SECRET-123|83\.5|evidence|patientId/);
    bus.emit('alert.raised', event(8, clock.ms, { severity: 'info' }));
    bus.emit('alert.raised', event(9, clock.ms, { change: 'deduplicated', count: 2 }));
    await notify.drain();
    const bodies = receiver.received.map((r) => r.body);
    const rules = (path: string) =>
      receiver.received
        .filter((r) => r.path === path)
        .map((r) => `${JSON.parse(r.body).data.rule}/${JSON.parse(r.body).data.severity}`)
        .sort();
    // Default route: everything but merged duplicates.
    expect(rules('/hooks/pulsegate')).toEqual(['clinical.vital-limit/high', 'device.flood/info']);
    // The ward route: clinical, medium or more.
    expect(rules('/ward')).toEqual(['clinical.vital-limit/high']);
    // The webhook names the stored alert (its id in the durable store), nothing more.
    const stored = raised.outcome === 'created' ? raised.alertId : undefined;
    expect(
      receiver.received
        .filter((r) => JSON.parse(r.body).data.alertId === stored)
        .map((r) => r.path)
        .sort(),
    ).toEqual(['/hooks/pulsegate', '/ward']);
    for (const b of bodies) {
      expect(b).not.toContain('MRN-SECRET-123');
      expect(b).not.toContain('83.5');
      expect(JSON.parse(b).data).not.toHaveProperty('patientId');
      expect(JSON.parse(b).data).not.toHaveProperty('evidence');
    }
  });
});
