import mqtt, { type MqttClient } from 'mqtt';
import { newSerial } from '../pki/index.js';
import { privateKeyToPem } from '../pki/pem.js';
import { EC_P256, SIGN_SHA256, subtle, x509 } from '../pki/x509-setup.js';
import type { ApiClient } from './api-client.js';
import type { DeviceCredentials } from './est-client.js';

/** The attack scenarios the simulator can run against an installation. */
export const ATTACKS = [
  'wrong-ca',
  'topic-spoof',
  'flood',
  'malformed',
  'replay',
  'auth-storm',
  'new-address',
  'size-jump',
  'off-hours',
  'cloned-cert',
] as const;
export type AttackName = (typeof ATTACKS)[number];

/** What a scenario did and whether Pulsegate defended as it should. */
export interface AttackResult {
  attack: AttackName;
  expected: string;
  observed: string;
  defended: boolean;
  /** The monitoring rule that should report it, and whether an alert with it was found. */
  alert?: { rule: string; raised: boolean; alertId?: string };
}

export interface AttackContext {
  mqttUrl: string;
  ca: string | Buffer;
  api: ApiClient;
  /** An enrolled device the attacker controls (its own, legitimate credentials). */
  attacker: DeviceCredentials;
  /** Another device, whose identity the attacker tries to use. */
  victimId: string;
  /**
   * A second local address to connect from ("another place"): new-address and cloned-cert use it,
   * auth-storm uses `stormAddress`. On one host, other loopback addresses (127.0.0.2) serve.
   */
  altAddress?: string;
  stormAddress?: string;
  /** How long to wait for the expected alert (default 10 s); 0 skips looking for alerts. */
  alertWaitMs?: number;
}

type Outcome = 'acked' | 'closed' | 'timeout';

/** Publishes at QoS 1 and reports whether a PUBACK came back or the server closed the connection. */
function publishAndWatch(
  client: MqttClient,
  topic: string,
  payload: string | Buffer,
  timeoutMs = 3000,
): Promise<Outcome> {
  if (!client.connected) return Promise.resolve('closed');
  return new Promise((resolve) => {
    const done = (outcome: Outcome) => {
      clearTimeout(timer);
      client.off('close', onClose);
      resolve(outcome);
    };
    const onClose = () => done('closed');
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    client.once('close', onClose);
    client.publish(topic, payload, { qos: 1 }, (error) => done(error ? 'closed' : 'acked'));
  });
}

/** Connects once (no reconnects); settles on CONNACK, on a refused handshake, or after 5 s. */
function connect(
  ctx: AttackContext,
  creds: { certPem: string; keyPem: string },
  opts: { localAddress?: string; clientId?: string } = {},
): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(ctx.mqttUrl, {
      ca: ctx.ca,
      cert: creds.certPem,
      key: creds.keyPem,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      protocolVersion: 4,
      ...(opts.clientId ? { clientId: opts.clientId } : {}),
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    } as mqtt.IClientOptions);
    // The handshake listeners go once it is settled: a later close (the server dropping an
    // attacker mid-scenario) belongs to the scenario, not to this promise.
    const settle = () => {
      clearTimeout(timer);
      client.off('connect', onConnect);
      client.off('error', onError);
      client.off('close', onClose);
    };
    const fail = (reason: string) => {
      settle();
      client.end(true);
      reject(new Error(reason));
    };
    const onConnect = () => {
      settle();
      client.on('error', () => {});
      // Without reconnects, messages still waiting for a PUBACK when the server drops the
      // connection would wait forever: ending the client fails them, and the scenario sees why.
      client.once('close', () => client.end(true));
      resolve(client);
    };
    const onError = (error: Error) => fail(error.message);
    const onClose = () => fail('connection closed during the handshake');
    const timer = setTimeout(() => fail('timed out'), 6000);
    client.once('connect', onConnect);
    client.once('error', onError);
    client.once('close', onClose);
  });
}

/**
 * A `seq` base that grows over time but stays inside the schema's uint32: 1,000 numbers per
 * second of wall time, so reruns against the same device never look like replays.
 */
const seqBase = () => (Math.floor(Date.now() / 1000) % 4_000_000) * 1000;

const payload = (seq: number, value = 72, observations = 1) =>
  JSON.stringify({
    seq,
    ts: new Date().toISOString(),
    observations: Array.from({ length: observations }, () => ({
      code: { system: 'LOINC', code: '8867-4' },
      value,
      unit: '/min',
    })),
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for an alert of `rule` (about `deviceId`, or whose title names `titleHas`) raised since `since`. */
async function alertRaised(
  ctx: AttackContext,
  rule: string,
  since: number,
  match: { deviceId?: string; titleHas?: string },
): Promise<NonNullable<AttackResult['alert']>> {
  const deadline = Date.now() + (ctx.alertWaitMs ?? 10_000);
  if (ctx.alertWaitMs === 0) return { rule, raised: false };
  const query = `since=${encodeURIComponent(new Date(since - 1000).toISOString())}&limit=100${
    match.deviceId ? `&deviceId=${encodeURIComponent(match.deviceId)}` : ''
  }`;
  for (;;) {
    const page = await ctx.api.send<{ items: Array<{ id: string; rule: string; title: string }> }>(
      'GET',
      `/api/v1/alerts?${query}`,
    );
    const hit = page.items.find(
      (a) => a.rule === rule && (!match.titleHas || a.title.includes(match.titleHas)),
    );
    if (hit) return { rule, raised: true, alertId: hit.id };
    if (Date.now() > deadline) return { rule, raised: false };
    await sleep(200);
  }
}

/** Publishes `n` well-formed messages one after another (each acknowledged) and returns the next seq. */
async function publishSeries(
  client: MqttClient,
  deviceId: string,
  from: number,
  n: number,
  observations = 1,
) {
  for (let i = 0; i < n; i++)
    await client.publishAsync(`devices/${deviceId}/telemetry`, payload(from + i, 72, observations), {
      qos: 1,
    });
  return from + n;
}

async function stored(ctx: AttackContext, deviceId: string): Promise<number> {
  const page = await ctx.api.send<{ observations: unknown[] }>(
    'GET',
    `/api/v1/devices/${deviceId}/telemetry?limit=500`,
  );
  return page.observations.length;
}

/** A certificate for the victim's id from a CA the attacker made up. */
async function forgedCredentials(deviceId: string): Promise<{ certPem: string; keyPem: string }> {
  const keys = (await subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: newSerial(),
    name: `CN=${deviceId}`,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    signingAlgorithm: SIGN_SHA256,
    keys,
  });
  return { certPem: cert.toString('pem'), keyPem: await privateKeyToPem(keys.privateKey) };
}

const SCENARIOS: Record<AttackName, (ctx: AttackContext) => Promise<AttackResult>> = {
  async 'wrong-ca'(ctx) {
    const expected = 'TLS handshake refused';
    try {
      const client = await connect(ctx, await forgedCredentials(ctx.victimId));
      await client.endAsync();
      return { attack: 'wrong-ca', expected, observed: 'connected', defended: false };
    } catch (error) {
      return {
        attack: 'wrong-ca',
        expected,
        observed: `refused (${(error as Error).message.slice(0, 60)})`,
        defended: true,
      };
    }
  },

  async 'topic-spoof'(ctx) {
    const since = Date.now();
    const before = await stored(ctx, ctx.victimId);
    const client = await connect(ctx, ctx.attacker);
    const outcome = await publishAndWatch(
      client,
      `devices/${ctx.victimId}/telemetry`,
      payload(1_000_000, 180),
    );
    client.end(true);
    const after = await stored(ctx, ctx.victimId);
    return {
      attack: 'topic-spoof',
      expected: 'disconnected, nothing stored for the victim',
      observed: `${outcome}, victim readings ${before} -> ${after}`,
      defended: outcome !== 'acked' && after === before,
      alert: await alertRaised(ctx, 'device.topic-spoof', since, { deviceId: ctx.attacker.deviceId }),
    };
  },

  async flood(ctx) {
    const since = Date.now();
    const client = await connect(ctx, ctx.attacker);
    let acked = 0;
    let closed = false;
    client.once('close', () => {
      closed = true;
    });
    const base = seqBase();
    // Far above any sane device rate: the per-device token bucket must cut it off.
    for (let i = 0; i < 5000 && !closed; i++) {
      client.publish(`devices/${ctx.attacker.deviceId}/telemetry`, payload(base + i), { qos: 1 }, (error) => {
        if (!error) acked++;
      });
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 5));
    }
    for (let waited = 0; !closed && waited < 3000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    client.end(true);
    return {
      attack: 'flood',
      expected: 'rate limit disconnects the device',
      observed: closed ? `disconnected after ${acked} acknowledged messages` : 'never limited',
      defended: closed,
      alert: await alertRaised(ctx, 'device.flood', since, { deviceId: ctx.attacker.deviceId }),
    };
  },

  async malformed(ctx) {
    const results: string[] = [];
    let defended = true;
    for (const [label, body] of [
      ['invalid JSON', '{"seq": 1, "ts": '],
      ['schema violation', JSON.stringify({ seq: 'one', observations: 'none' })],
      [
        'impossible value',
        JSON.stringify({
          seq: seqBase() + 900,
          ts: new Date().toISOString(),
          observations: [{ code: { system: 'LOINC', code: '59408-5' }, value: 150, unit: '%' }],
        }),
      ],
    ] as const) {
      const client = await connect(ctx, ctx.attacker);
      const outcome = await publishAndWatch(client, `devices/${ctx.attacker.deviceId}/telemetry`, body);
      client.end(true);
      results.push(`${label}: ${outcome}`);
      if (outcome === 'acked') defended = false;
    }
    return {
      attack: 'malformed',
      expected: 'each refused (connection closed, no PUBACK)',
      observed: results.join('; '),
      defended,
    };
  },

  async replay(ctx) {
    const since = Date.now();
    const client = await connect(ctx, ctx.attacker);
    const seq = seqBase() + 500;
    const first = await publishAndWatch(client, `devices/${ctx.attacker.deviceId}/telemetry`, payload(seq));
    const before = await stored(ctx, ctx.attacker.deviceId);
    const again = await publishAndWatch(client, `devices/${ctx.attacker.deviceId}/telemetry`, payload(seq));
    const older = await publishAndWatch(
      client,
      `devices/${ctx.attacker.deviceId}/telemetry`,
      payload(seq - 10),
    );
    // A captured message replayed a few more times.
    for (let k = 0; k < 2; k++)
      await publishAndWatch(client, `devices/${ctx.attacker.deviceId}/telemetry`, payload(seq - 20 - k));
    client.end(true);
    const after = await stored(ctx, ctx.attacker.deviceId);
    return {
      attack: 'replay',
      expected: 'replayed and older sequence numbers are not stored again',
      observed: `first ${first}, replay ${again}, older ${older}; readings ${before} -> ${after}`,
      defended: first === 'acked' && after === before,
      alert: await alertRaised(ctx, 'device.replay', since, { deviceId: ctx.attacker.deviceId }),
    };
  },

  /** Many refused handshakes (certificates from a CA of the attacker's own) from one address. */
  async 'auth-storm'(ctx) {
    const since = Date.now();
    const forged = await forgedCredentials(ctx.victimId);
    let refused = 0;
    for (let i = 0; i < 8; i++) {
      try {
        const c = await connect(ctx, forged, ctx.stormAddress ? { localAddress: ctx.stormAddress } : {});
        await c.endAsync();
      } catch {
        refused++;
      }
    }
    const alert = await alertRaised(ctx, 'address.auth-failures', since, {
      ...(ctx.stormAddress ? { titleHas: ctx.stormAddress } : {}),
    });
    return {
      attack: 'auth-storm',
      expected: 'every handshake refused; an authentication-failure storm alert names the address',
      observed: `${refused}/8 refused; alert ${alert.raised ? 'raised' : 'missing'}`,
      defended: refused === 8 && alert.raised,
      alert,
    };
  },

  /** The device's own credentials used from an address it never connected from. */
  async 'new-address'(ctx) {
    const since = Date.now();
    const home = await connect(ctx, ctx.attacker);
    await home.endAsync();
    let connected = false;
    try {
      const away = await connect(ctx, ctx.attacker, ctx.altAddress ? { localAddress: ctx.altAddress } : {});
      connected = true;
      await away.endAsync();
    } catch {
      // refused connections are reported below
    }
    const alert = await alertRaised(ctx, 'device.new-address', since, { deviceId: ctx.attacker.deviceId });
    return {
      attack: 'new-address',
      expected: 'a new-source-address alert for the device',
      observed: `connected from ${ctx.altAddress ?? 'the default address'}: ${connected}; alert ${alert.raised ? 'raised' : 'missing'}`,
      defended: alert.raised,
      alert,
    };
  },

  /** Ordinary messages, then one many times larger (exfiltration or a malformed firmware). */
  async 'size-jump'(ctx) {
    const since = Date.now();
    const client = await connect(ctx, ctx.attacker);
    const next = await publishSeries(client, ctx.attacker.deviceId, seqBase() + 2000, 60);
    const big = await publishAndWatch(
      client,
      `devices/${ctx.attacker.deviceId}/telemetry`,
      payload(next, 72, 60),
    );
    client.end(true);
    const alert = await alertRaised(ctx, 'device.size-jump', since, { deviceId: ctx.attacker.deviceId });
    return {
      attack: 'size-jump',
      expected: 'a payload-size-jump alert for the device',
      observed: `large message ${big}; alert ${alert.raised ? 'raised' : 'missing'}`,
      defended: alert.raised,
      alert,
    };
  },

  /**
   * Activity now, from a device whose learned profile says it is silent at this hour (the alert
   * needs that history: a device past its warm-up, quiet at this hour of the day).
   */
  async 'off-hours'(ctx) {
    const since = Date.now();
    const client = await connect(ctx, ctx.attacker);
    await publishSeries(client, ctx.attacker.deviceId, seqBase() + 3000, 8);
    client.end(true);
    const alert = await alertRaised(ctx, 'device.off-hours', since, { deviceId: ctx.attacker.deviceId });
    return {
      attack: 'off-hours',
      expected: 'an off-hours alert for a device usually silent at this hour',
      observed: `8 messages sent; alert ${alert.raised ? 'raised' : 'missing'}`,
      defended: alert.raised,
      alert,
    };
  },

  /** One certificate in use from two places at once (a cloned device). */
  async 'cloned-cert'(ctx) {
    const since = Date.now();
    const original = await connect(ctx, ctx.attacker, { clientId: `${ctx.attacker.deviceId}-original` });
    let clone: MqttClient | undefined;
    try {
      clone = await connect(ctx, ctx.attacker, {
        clientId: `${ctx.attacker.deviceId}-clone`,
        ...(ctx.altAddress ? { localAddress: ctx.altAddress } : {}),
      });
    } catch {
      // reported below
    }
    const alert = await alertRaised(ctx, 'device.cloned-identity', since, {
      deviceId: ctx.attacker.deviceId,
    });
    await clone?.endAsync();
    await original.endAsync();
    return {
      attack: 'cloned-cert',
      expected: 'a cloned-identity alert naming both addresses',
      observed: `clone connected: ${clone !== undefined}; alert ${alert.raised ? 'raised' : 'missing'}`,
      defended: alert.raised,
      alert,
    };
  },
};

/**
 * Runs the named scenarios in order. With `attackerFor`, each scenario gets an attacker identity
 * of its own, so what one scenario leaves behind at the broker (an emptied rate bucket after the
 * flood, a learned baseline, an open alert) cannot decide the next one. A scenario that fails
 * outright is reported as not defended, with the reason, and the others still run.
 */
export async function runAttacks(
  ctx: AttackContext,
  names: readonly AttackName[] = ATTACKS,
  attackerFor?: (name: AttackName) => Promise<DeviceCredentials>,
): Promise<AttackResult[]> {
  const results: AttackResult[] = [];
  for (const name of names) {
    try {
      const attacker = attackerFor ? await attackerFor(name) : ctx.attacker;
      results.push(await SCENARIOS[name]({ ...ctx, attacker }));
    } catch (error) {
      results.push({
        attack: name,
        expected: 'the scenario runs to its end',
        observed: `scenario failed: ${(error as Error).message}`,
        defended: false,
      });
    }
  }
  return results;
}
