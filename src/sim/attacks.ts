import mqtt, { type MqttClient } from 'mqtt';
import { newSerial } from '../pki/index.js';
import { privateKeyToPem } from '../pki/pem.js';
import { EC_P256, SIGN_SHA256, subtle, x509 } from '../pki/x509-setup.js';
import type { ApiClient } from './api-client.js';
import type { DeviceCredentials } from './est-client.js';

/** The attack scenarios the simulator can run against an installation. */
export const ATTACKS = ['wrong-ca', 'topic-spoof', 'flood', 'malformed', 'replay'] as const;
export type AttackName = (typeof ATTACKS)[number];

/** What a scenario did and whether Pulsegate defended as it should. */
export interface AttackResult {
  attack: AttackName;
  expected: string;
  observed: string;
  defended: boolean;
}

export interface AttackContext {
  mqttUrl: string;
  ca: string | Buffer;
  api: ApiClient;
  /** An enrolled device the attacker controls (its own, legitimate credentials). */
  attacker: DeviceCredentials;
  /** Another device, whose identity the attacker tries to use. */
  victimId: string;
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
function connect(ctx: AttackContext, creds: { certPem: string; keyPem: string }): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(ctx.mqttUrl, {
      ca: ctx.ca,
      cert: creds.certPem,
      key: creds.keyPem,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      protocolVersion: 4,
    });
    const fail = (reason: string) => {
      client.end(true);
      reject(new Error(reason));
    };
    const timer = setTimeout(() => fail('timed out'), 6000);
    client.once('connect', () => {
      clearTimeout(timer);
      resolve(client);
    });
    client.once('error', (error) => {
      clearTimeout(timer);
      fail(error.message);
    });
    client.once('close', () => {
      clearTimeout(timer);
      fail('connection closed during the handshake');
    });
  });
}

/**
 * A `seq` base that grows over time but stays inside the schema's uint32: 1,000 numbers per
 * second of wall time, so reruns against the same device never look like replays.
 */
const seqBase = () => (Math.floor(Date.now() / 1000) % 4_000_000) * 1000;

const payload = (seq: number, value = 72) =>
  JSON.stringify({
    seq,
    ts: new Date().toISOString(),
    observations: [{ code: { system: 'LOINC', code: '8867-4' }, value, unit: '/min' }],
  });

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
    };
  },

  async flood(ctx) {
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
    client.end(true);
    const after = await stored(ctx, ctx.attacker.deviceId);
    return {
      attack: 'replay',
      expected: 'replayed and older sequence numbers are not stored again',
      observed: `first ${first}, replay ${again}, older ${older}; readings ${before} -> ${after}`,
      defended: first === 'acked' && after === before,
    };
  },
};

/** Runs the named scenarios in order. */
export async function runAttacks(
  ctx: AttackContext,
  names: readonly AttackName[] = ATTACKS,
): Promise<AttackResult[]> {
  const results: AttackResult[] = [];
  for (const name of names) results.push(await SCENARIOS[name](ctx));
  return results;
}
