/**
 * Re-enrollment (RFC 7030 simplereenroll) supersedes the old certificate: live MQTT sessions
 * still using it are dropped at once, the old certificate can no longer connect, the new one can.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type E2e, enrolledDevice, makeCsr, startE2e } from './support/e2e.js';

let e: E2e;
beforeAll(async () => {
  e = await startE2e();
}, 60_000);
afterAll(async () => e?.close());

function connect(cert: string, key: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(e.urls.mqtt!, {
      ca: readFileSync(e.layout.rootCaCert),
      cert,
      key,
      reconnectPeriod: 0,
      connectTimeout: 5000,
    });
    client.once('connect', () => resolve(client));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
    client.once('close', () => reject(new Error('closed')));
  });
}

it('drops sessions on the superseded certificate within 1 s; only the new certificate connects', async () => {
  const dev = await enrolledDevice(e.admin, 'reenroll-01');
  // The credentials are files (as a device would keep them).
  const oldCert = readFileSync(dev.cert, 'utf8');
  const oldKey = readFileSync(dev.key, 'utf8');
  const old = await connect(oldCert, oldKey);
  const closed = new Promise<number>((resolve) => old.once('close', () => resolve(Date.now())));

  const csr = makeCsr(e.work, dev.deviceId);
  const started = Date.now();
  const issued = await e.app.pki.reenroll(new X509Certificate(oldCert).raw, readFileSync(csr.der));
  const droppedAfter = (await closed) - started;
  expect(droppedAfter).toBeLessThan(1000);

  const fresh = await connect(issued.certificate.toString('pem'), readFileSync(csr.key, 'utf8'));
  expect(fresh.connected).toBe(true);
  fresh.end(true);
  await expect(connect(oldCert, oldKey)).rejects.toBeDefined();
});
