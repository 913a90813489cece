/**
 * HTTPS ingest over a real TLS listener (the server's own Fastify build with the real access and
 * audit services): the device authenticates with its client certificate; 202 after storage;
 * refusals are problem+json with the code, an `ingest.refused` event, and nothing stored.
 */

import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foreignCa, issueClientCert } from '../../test/support/ingest-certs.js';
import { SqliteTestSink, TestIdentityVerifier, vitals } from '../../test/support/ingest-fixtures.js';
import { type IngestTestEnv, ingestTestEnv, recordEvents } from '../../test/support/ingest-harness.js';
import { createServices, type Services } from '../app.js';
import { EventBus } from '../events/index.js';
import { buildHttpServer, createMetricsRegistry, type PulsegateHttp } from '../http/index.js';
import { createLogger } from '../logging/logger.js';
import { VERSION } from '../version.js';
import { ingestRoutes } from './index.js';

let env: IngestTestEnv;
let services: Services;
let http: PulsegateHttp;
let port: number;
let sink: SqliteTestSink;
let identity: TestIdentityVerifier;
const bus = new EventBus();
const events = recordEvents(bus, ['ingest.refused']);

function post(
  path: string,
  body: string,
  device: { cert: string; key: string } | null,
  options: { chunked?: boolean } = {},
) {
  return new Promise<{ status: number; body: Record<string, unknown>; type: string }>((resolve, reject) => {
    const req = request(
      {
        host: 'localhost',
        port,
        path,
        method: 'POST',
        ca: readFileSync(env.caBundle),
        ...(device ? { cert: readFileSync(device.cert), key: readFileSync(device.key) } : {}),
        headers: { 'content-type': 'application/json' },
        agent: false,
        timeout: 5000,
      },
      (res) => {
        let data = '';
        res.on('data', (d) => (data += d));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(data || '{}'),
            type: String(res.headers['content-type']),
          }),
        );
      },
    );
    req.on('error', reject);
    if (options.chunked) {
      // No content-length: the body arrives in pieces and its size is known only while reading.
      for (let i = 0; i < body.length; i += 256) req.write(body.slice(i, i + 256));
      req.end();
    } else req.end(body);
  });
}

beforeAll(async () => {
  env = await ingestTestEnv();
  const logger = createLogger({ level: 'silent' });
  services = await createServices(env.config, { logger, env: {} });
  identity = new TestIdentityVerifier(env.tls.ca[0]!);
  sink = new SqliteTestSink(join(env.dir, 'telemetry.db'));
  http = await buildHttpServer({
    auth: services.access,
    audit: services.audit,
    logger,
    metrics: createMetricsRegistry(),
    ready: async () => true,
    routes: [
      ingestRoutes({ identity, sink, bus, limits: { maxPayloadBytes: 1024, ratePerSecond: 1, burst: 3 } }),
    ],
    bodyLimitBytes: env.config.server.bodyLimitBytes,
    tls: { cert: env.tls.cert, key: env.tls.key, minVersion: 'TLSv1.2', clientCa: env.tls.ca },
    publicUrl: 'https://localhost',
    version: VERSION,
  });
  await http.listen({ host: '127.0.0.1', port: 0 });
  const address = http.server.address();
  port = typeof address === 'object' && address ? address.port : 0;
});

afterAll(async () => {
  await http?.close();
  await services?.close();
  sink?.close();
  env?.cleanup();
});

const last = () => events.of('ingest.refused').at(-1);

describe('HTTPS ingest', () => {
  it('stores telemetry from a device certificate and answers 202 after storage', async () => {
    const r = await post('/api/v1/ingest/telemetry', vitals(1), env.device('pump-0200'));
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ stored: 1, flagged: 0 });
    expect(sink.seqs('pump-0200')).toEqual([1]);
    const e = await post('/api/v1/ingest/events', vitals(1), env.device('pump-0200'));
    expect(e.status).toBe(202);
  });

  it.each([
    ['no certificate', () => null, 401, 'INGEST_CLIENT_CERT_REQUIRED'],
    [
      'another CA',
      () => issueClientCert(env.dir, foreignCa(env.dir), 'pump-0201'),
      401,
      'INGEST_CERT_INVALID',
    ],
    [
      'an expired certificate',
      () => env.device('pump-0201', { startDate: '20200101000000Z', endDate: '20200201000000Z' }),
      401,
      'INGEST_CERT_EXPIRED',
    ],
    [
      'a revoked certificate',
      () => {
        const dev = env.device('pump-0201');
        identity.revoked.add(dev.serial);
        return dev;
      },
      401,
      'INGEST_CERT_REVOKED',
    ],
  ])('refuses %s', async (_name, device, status, code) => {
    const r = await post('/api/v1/ingest/telemetry', vitals(1), device());
    expect(r.status).toBe(status);
    expect(r.type).toMatch(/application\/problem\+json/);
    expect(r.body.code).toBe(code);
    expect(last()).toMatchObject({ kind: 'connect', code });
    expect(sink.count('pump-0201')).toBe(0);
  });

  it.each([
    ['invalid JSON', '{"seq": 1,', 400, 'TELEMETRY_INVALID_JSON'],
    ['a schema violation', '{"seq": -1, "observations": []}', 400, 'TELEMETRY_SCHEMA'],
    ['an oversize payload', `{"pad":"${'x'.repeat(2000)}"}`, 413, 'INGEST_PAYLOAD_TOO_LARGE'],
  ])('refuses %s', async (_name, body, status, code) => {
    const r = await post('/api/v1/ingest/telemetry', body, env.device('pump-0202'));
    expect(r.status).toBe(status);
    expect(r.body.code).toBe(code);
    expect(last()).toMatchObject({ kind: 'publish', code, deviceId: 'pump-0202' });
    expect(sink.count('pump-0202')).toBe(0);
  });

  it('refuses an oversize body sent chunked (size unknown in advance), recorded, nothing stored', async () => {
    const r = await post(
      '/api/v1/ingest/telemetry',
      `{"pad":"${'x'.repeat(4000)}"}`,
      env.device('pump-0203'),
      {
        chunked: true,
      },
    );
    expect(r.status).toBe(413);
    expect(last()).toMatchObject({
      kind: 'publish',
      code: 'INGEST_PAYLOAD_TOO_LARGE',
      deviceId: 'pump-0203',
    });
    expect(sink.count('pump-0203')).toBe(0);
  });

  it('identifies the client before reading the body: no certificate is 401 even for an oversize body', async () => {
    const r = await post('/api/v1/ingest/telemetry', `{"pad":"${'x'.repeat(4000)}"}`, null);
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('INGEST_CLIENT_CERT_REQUIRED');
    expect(last()).toMatchObject({ kind: 'connect', code: 'INGEST_CLIENT_CERT_REQUIRED' });
  });

  it('rate-limits a device', async () => {
    const dev = env.device('pump-0203');
    const statuses: number[] = [];
    for (let seq = 1; seq <= 6; seq++)
      statuses.push((await post('/api/v1/ingest/telemetry', vitals(seq), dev)).status);
    expect(statuses.slice(0, 3)).toEqual([202, 202, 202]);
    expect(statuses).toContain(429);
    expect(last()).toMatchObject({ code: 'INGEST_RATE_LIMITED', deviceId: 'pump-0203' });
    expect(sink.count('pump-0203')).toBe(statuses.filter((s) => s === 202).length);
  });
});
