/**
 * An address that keeps failing authentication cannot grow the append-only audit log at will:
 * past `auth.failedRequestsPerMinute` its failures get 429 RATE_LIMITED with no entry each (one
 * `access.rate-limited` entry records the switch), while a good credential still works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestInstallation, type TestInstallation } from './support/installation.js';

describe('failed authentication flood', () => {
  let t: TestInstallation;
  beforeAll(async () => {
    t = await startTestInstallation({ settings: { auth: { failedRequestsPerMinute: 5 } } });
  }, 60_000);
  afterAll(async () => {
    await t?.cleanup();
  });

  const count = async (action: string) => (await t.app.audit.list({ action, limit: 1000 })).length;

  it('audits the first failures, then answers 429 without an entry each; good tokens still pass', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await call(t.app, 'GET', '/api/v1/devices', {})).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    expect(await count('access.denied')).toBe(5);
    expect(await count('access.rate-limited')).toBe(1);
    const size = (await t.app.audit.list({ limit: 100_000 })).length;
    for (let i = 0; i < 20; i++) {
      const res = await call(t.app, 'GET', '/api/v1/devices', { token: i % 2 ? 'pg_forged' : 'a.b.c' });
      expect(res.status).toBe(429);
      expect(res.body.code).toBe('RATE_LIMITED');
    }
    expect((await t.app.audit.list({ limit: 100_000 })).length).toBe(size);
    const good = await call(t.app, 'GET', '/api/v1/devices', { token: t.adminToken });
    expect(good.status).toBe(200);
  });
});
