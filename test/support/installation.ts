/**
 * A real installation for integration tests: `createInstallation` (CA, keys, schema, admin) and
 * the real app from the composition root, driven in-process with `app.http.inject()`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Role } from '../../src/access/index.js';
import { createApp, type PulsegateApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { createInstallation, installationLayout } from '../../src/installation/index.js';
import { createLogger } from '../../src/logging/logger.js';

export interface TestInstallation {
  dataDir: string;
  app: PulsegateApp;
  adminToken: string;
  /** Creates a user with an API token and returns the token. */
  userWithToken(
    username: string,
    role: Role,
    extra?: {
      careUnits?: string[];
      vendorDevices?: string[];
      accessNotBefore?: number;
      accessNotAfter?: number;
    },
  ): Promise<string>;
  /** The same, signed in with its password: a session token (what break-glass starts from). */
  userWithSession(
    username: string,
    role: Role,
    extra?: Parameters<TestInstallation['userWithToken']>[2],
  ): Promise<string>;
  cleanup(): Promise<void>;
}

export async function startTestInstallation(
  opts: { postgresUrl?: string; settings?: Record<string, Record<string, unknown>> } = {},
): Promise<TestInstallation> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pulsegate-it-'));
  const settings: Record<string, Record<string, unknown>> = {
    server: { port: 0, host: '127.0.0.1' },
    mqtt: { port: 0, host: '127.0.0.1' },
    log: { level: 'silent' },
    ...opts.settings,
  };
  if (opts.postgresUrl) settings.database = { url: opts.postgresUrl };
  await createInstallation({ dataDir, settings, env: {} });
  const app = await createApp(loadConfig(dataDir, {}), {
    logger: createLogger({ level: 'silent' }),
    env: {},
  });
  const adminToken = readFileSync(installationLayout(dataDir).adminToken, 'utf8').trim();
  return {
    dataDir,
    app,
    adminToken,
    async userWithToken(username, role, extra = {}) {
      await app.access.users.add({
        username,
        password: randomBytes(18).toString('base64url'),
        role,
        ...extra,
      });
      return (await app.access.createApiToken({ username, name: 'test' })).token;
    },
    async userWithSession(username, role, extra = {}) {
      const password = randomBytes(18).toString('base64url');
      await app.access.users.add({ username, password, role, ...extra });
      return (await app.access.login({ username, password }, {})).access_token;
    },
    async cleanup() {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Inject with a bearer token; returns status and parsed JSON body. */
export async function call(
  app: PulsegateApp,
  method: string,
  url: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string>; rawBody?: string } = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Record<string, unknown> }> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let payload: string | undefined;
  if (opts.rawBody !== undefined) payload = opts.rawBody;
  else if (opts.body !== undefined) payload = JSON.stringify(opts.body);
  if (payload !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const res = await app.http.inject({ method: method as 'GET', url, headers, payload });
  let body: Record<string, unknown> = {};
  try {
    body = res.body ? (JSON.parse(res.body) as Record<string, unknown>) : {};
  } catch {
    body = { raw: res.body };
  }
  return { status: res.statusCode, body, headers: res.headers };
}
