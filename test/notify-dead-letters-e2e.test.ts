/**
 * Dead letters through the HTTP API of the real server: a webhook target that refuses connections
 * with a one-attempt budget turns every notification into a dead letter at once; the list shows it
 * (no payload values), replay is audited with actor and reason, and bad input changes nothing.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestInstallation, type TestInstallation } from './support/installation.js';

let t: TestInstallation;
let dir: string;
let analyst: string;
let clinician: string;

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pulsegate-dl-'));
  const secretFile = join(dir, 'webhook.secret');
  writeFileSync(secretFile, `whsec_${randomBytes(32).toString('base64')}`, { mode: 0o600 });
  const port = await closedPort();
  t = await startTestInstallation({
    settings: {
      notify: {
        maxAttempts: 1,
        webhooks: [{ name: 'down', url: `https://127.0.0.1:${port}/hook`, secretFile }],
      },
    },
  });
  analyst = await t.userWithToken('analyst', 'security-analyst');
  clinician = await t.userWithToken('nurse', 'clinician', { careUnits: ['ICU'] });
}, 60_000);
afterAll(async () => {
  await t?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('dead letters API', () => {
  it('lists dead letters and replays one (audited); bad input is refused and changes nothing', async () => {
    await t.app.alerts.raise({
      category: 'security',
      severity: 'high',
      rule: 'device.flood',
      title: 'Message flood from device',
      deviceId: 'dev-1',
      careUnit: null,
      evidence: { messages: 5000 },
      dedupKey: 'flood:dev-1',
      at: Date.now(),
    });
    await t.app.notify.drain();
    const list = await call(t.app, 'GET', '/api/v1/notify/dead-letters', { token: analyst });
    expect(list.status).toBe(200);
    const items = list.body.items as Array<Record<string, unknown>>;
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      target: 'down',
      kind: 'webhook',
      attempts: 1,
      lastError: 'ECONNREFUSED',
      event: { type: 'alert.raised', rule: 'device.flood', severity: 'high', category: 'security' },
    });
    expect(JSON.stringify(items)).not.toContain('5000');
    const id = items[0]!.id as string;

    // Clinicians hold no notify permission.
    expect((await call(t.app, 'GET', '/api/v1/notify/dead-letters', { token: clinician })).status).toBe(403);
    // Bad input: no reason, malformed id, unknown id. Nothing changes.
    const noReason = await call(t.app, 'POST', `/api/v1/notify/dead-letters/${id}/replay`, {
      token: analyst,
      body: {},
    });
    expect([noReason.status, noReason.body.code]).toEqual([400, 'VALIDATION_FAILED']);
    const badId = await call(t.app, 'POST', '/api/v1/notify/dead-letters/not-an-id/replay', {
      token: analyst,
      body: { reason: 'x' },
    });
    expect(badId.status).toBe(400);
    const unknown = await call(t.app, 'POST', `/api/v1/notify/dead-letters/msg_${'A'.repeat(22)}/replay`, {
      token: analyst,
      body: { reason: 'x' },
    });
    expect([unknown.status, unknown.body.code]).toEqual([404, 'NOTIFY_DEAD_LETTER_NOT_FOUND']);
    expect(await t.app.notify.counts()).toEqual({ dead: 1 });

    const replay = await call(t.app, 'POST', `/api/v1/notify/dead-letters/${id}/replay`, {
      token: analyst,
      body: { reason: 'receiver fixed' },
    });
    expect(replay.status).toBe(202);
    await t.app.notify.drain();
    // Still down: back on the dead-letter list after its fresh attempt, never dropped.
    expect(await t.app.notify.counts()).toEqual({ dead: 1 });
    const audit = await t.app.audit.list({ after: -1, limit: 1000, action: 'notify.replay' });
    expect(audit.map((e) => [e.actor.name, e.resource?.id, e.reason])).toEqual([
      ['analyst', id, 'receiver fixed'],
    ]);
  });
});
