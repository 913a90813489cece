import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { TObject, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { PulsegateError } from '../errors.js';
import { type Config, ConfigSchema, type LoadedConfig } from './schema.js';

export const CONFIG_FILE = 'pulsegate.yaml';
const ENV_PREFIX = 'PULSEGATE_';

/** Environment variables that are not configuration keys (secrets passed in by the operator). */
const RESERVED_ENV = new Set(['PULSEGATE_MASTER_KEY', 'PULSEGATE_DATA']);

/** `accessTokenTtlSeconds` → `ACCESS_TOKEN_TTL_SECONDS`. */
function envSegment(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** Every leaf of the schema as [dotted path, env name, schema]. */
export function configKeys(): Array<{ path: string; env: string; schema: TSchema }> {
  const out: Array<{ path: string; env: string; schema: TSchema }> = [];
  for (const [section, sectionSchema] of Object.entries(ConfigSchema.properties)) {
    for (const [key, schema] of Object.entries((sectionSchema as TObject).properties)) {
      out.push({
        path: `${section}.${key}`,
        env: `${ENV_PREFIX}${envSegment(section)}_${envSegment(key)}`,
        schema,
      });
    }
  }
  return out;
}

function coerceEnv(raw: string, schema: TSchema): unknown {
  const type = schema.type as string | undefined;
  if (type === 'integer' || type === 'number') return raw.trim() === '' ? raw : Number(raw);
  if (type === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw;
  // Lists and maps (notify.webhooks, clinical.limits) are given as JSON.
  if (type === 'array' || type === 'object') {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}

function readFileConfig(dataDir: string): Record<string, unknown> {
  const file = join(dataDir, CONFIG_FILE);
  if (!existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    // The parser's message quotes the offending line, which may hold a secret (a database URL's
    // password): only the problem and its position are shown.
    const e = error as Error & { code?: string; linePos?: Array<{ line: number; col: number }> };
    const at = e.linePos?.[0];
    throw new PulsegateError(
      'CONFIG_INVALID',
      `${CONFIG_FILE} is not valid YAML${e.code ? ` (${e.code})` : ''}${at ? ` at line ${at.line}, column ${at.col}` : ''}`,
    );
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new PulsegateError('CONFIG_INVALID', `${CONFIG_FILE} must be a mapping of sections`);
  }
  return parsed as Record<string, unknown>;
}

function applyEnv(target: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const known = configKeys();
  const byEnv = new Map(known.map((k) => [k.env, k]));
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined || RESERVED_ENV.has(name)) continue;
    const key = byEnv.get(name);
    if (!key) {
      throw new PulsegateError('CONFIG_INVALID', `unknown environment variable ${name}`);
    }
    const [section, leaf] = key.path.split('.') as [string, string];
    if (target[section] === undefined) target[section] = {};
    const sectionObj = target[section] as Record<string, unknown>;
    sectionObj[leaf] = coerceEnv(raw, key.schema);
  }
}

/**
 * A refused value as the message shows it: a URL's user information (a database or broker
 * password) is replaced, so a typo in a secret-bearing URL does not print the secret.
 */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text
    .replace(/([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/@\s"]*@/g, '$1***@')
    .replace(/([?&](?:password|passwd|pwd|sslpassword|secret|token)=)[^&\s"]*/gi, '$1***');
}

function describeAllowed(schema: TSchema | undefined): string {
  if (!schema) return 'no such key is allowed';
  if (Array.isArray(schema.anyOf))
    return `one of ${schema.anyOf.map((s: TSchema) => JSON.stringify(s.const)).join(', ')}`;
  const parts: string[] = [String(schema.type ?? 'value')];
  if (schema.minimum !== undefined) parts.push(`>= ${schema.minimum}`);
  if (schema.maximum !== undefined) parts.push(`<= ${schema.maximum}`);
  if (schema.pattern !== undefined) parts.push(`matching ${schema.pattern}`);
  if (schema.minLength !== undefined) parts.push(`at least ${schema.minLength} characters`);
  return parts.join(' ');
}

/**
 * Validates a raw configuration object and fills in defaults. A bad value throws CONFIG_INVALID
 * naming the key (and its environment variable) and what is allowed.
 */
export function validateConfig(raw: Record<string, unknown>): Config {
  const withDefaults = Value.Default(ConfigSchema, structuredClone(raw)) as Record<string, unknown>;
  const errors = [...Value.Errors(ConfigSchema, withDefaults)];
  if (errors.length > 0) {
    const keys = configKeys();
    const messages = errors.slice(0, 5).map((e) => {
      const segments = e.path.split('/').slice(1);
      const path = segments.join('.');
      const key = keys.find((k) => k.path === path);
      if (key) return `${path} (${key.env}): must be ${describeAllowed(key.schema)}, got ${shown(e.value)}`;
      // Inside a list or map value (notify.webhooks[0].url, clinical.limits.icu.spo2.low).
      const top = keys.find((k) => k.path === segments.slice(0, 2).join('.'));
      if (top && segments.length > 2) {
        const inner = segments
          .slice(2)
          .map((s) => (/^\d+$/.test(s) ? `[${s}]` : `.${s}`))
          .join('');
        const problem = Array.isArray(e.schema.anyOf)
          ? `must be ${describeAllowed(e.schema)}`
          : e.message.toLowerCase();
        return `${top.path}${inner} (in ${top.env}): ${problem}, got ${shown(e.value)}`;
      }
      const [section, leaf] = path.split('.');
      const sectionKeys = keys
        .filter((k) => k.path.startsWith(`${section}.`))
        .map((k) => k.path.split('.')[1]);
      if (leaf !== undefined && sectionKeys.length > 0) {
        return `${path}: unknown key; ${section} allows ${sectionKeys.join(', ')}`;
      }
      if (section && sectionKeys.length === 0) {
        return `${section}: unknown section; allowed sections are ${Object.keys(ConfigSchema.properties).join(', ')}`;
      }
      return `${path || '(root)'}: ${e.message}`;
    });
    throw new PulsegateError('CONFIG_INVALID', `invalid configuration: ${messages.join('; ')}`);
  }
  const config = withDefaults as Config;
  const problems = beyondSchema(config);
  if (problems.length > 0)
    throw new PulsegateError('CONFIG_INVALID', `invalid configuration: ${problems.join('; ')}`);
  return config;
}

const envOf = (path: string) => configKeys().find((k) => k.path === path)!.env;

/** Whether the runtime knows `zone` as an IANA time zone (Intl throws a RangeError if not). */
function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\]|::1)$/i;
const TLS_SSLMODES = new Set(['require', 'verify-ca', 'verify-full']);

/**
 * A PostgreSQL server on another host carries the audit log, sealed telemetry and credentials'
 * hashes over the network: it must be reached over TLS (`sslmode=verify-full`, or `require` /
 * `verify-ca`). Loopback and Unix-socket connections (`?host=/path`) stay on the machine.
 */
function databaseTlsProblem(url: string): string | undefined {
  if (url === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a valid URL';
  }
  // The driver connects to a `host` parameter when there is one, not to the URL's host name: the
  // place judged is where the connection goes.
  const host = parsed.searchParams.get('host') ?? parsed.hostname;
  if (host === '' || host.startsWith('/') || LOOPBACK.test(host)) return undefined;
  const sslmode = parsed.searchParams.get('sslmode');
  if (sslmode && TLS_SSLMODES.has(sslmode)) return undefined;
  return 'a database on another host must be reached over TLS: add ?sslmode=verify-full (or require / verify-ca)';
}

/**
 * What the schema cannot say (checked after it): keys that one setting makes necessary, and
 * values that only the runtime can judge.
 */
function beyondSchema(config: Config): string[] {
  const problems: string[] = [];
  if (!isTimeZone(config.monitor.timeZone)) {
    problems.push(
      `monitor.timeZone (${envOf('monitor.timeZone')}): must be an IANA time zone such as UTC or Europe/London, got ${shown(config.monitor.timeZone)}`,
    );
  }
  const tlsProblem = databaseTlsProblem(config.database.url);
  if (tlsProblem) problems.push(`database.url (${envOf('database.url')}): ${tlsProblem}`);
  const m = config.mqtt;
  if (m.mode === 'external') {
    for (const key of ['externalUrl', 'externalCaFile', 'externalCertFile', 'externalKeyFile'] as const) {
      if (m[key] === '')
        problems.push(`mqtt.${key} (${envOf(`mqtt.${key}`)}): required when mqtt.mode is external`);
    }
  }
  return problems;
}

/** Loads `DATA/pulsegate.yaml`, overlays `PULSEGATE_*` variables, validates once. */
export function loadConfig(dataDir: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const absolute = isAbsolute(dataDir) ? dataDir : resolve(dataDir);
  return configFrom(absolute, readFileConfig(absolute), env);
}

/**
 * The configuration `values` (sections as `pulsegate.yaml` holds them) would give with the
 * `PULSEGATE_*` variables over them, validated like `loadConfig`: lets `init` check its settings
 * before it writes anything.
 */
export function configFrom(
  dataDir: string,
  values: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): LoadedConfig {
  const absolute = isAbsolute(dataDir) ? dataDir : resolve(dataDir);
  const raw = structuredClone(values);
  applyEnv(raw, env);
  return { ...validateConfig(raw), dataDir: absolute };
}

/** Resolves a path from the config against the data dir. */
export function dataPath(config: LoadedConfig, path: string): string {
  return isAbsolute(path) ? path : join(config.dataDir, path);
}
