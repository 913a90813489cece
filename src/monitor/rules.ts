import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Static, Type as T } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { PulsegateError } from '../errors.js';
import { ALERT_SEVERITIES, type AlertSeverity } from './contracts.js';

/** The shipped rules file (`rules/monitor.yaml` at the package root, next to `dist/` and `src/`). */
export const DEFAULT_RULES_FILE = fileURLToPath(new URL('../../rules/monitor.yaml', import.meta.url));

const Count = T.Integer({ minimum: 0, maximum: 1_000_000_000 });
const Thresholds = T.Object(
  {
    messagesPerWindow: Count,
    bytesPerWindow: Count,
    maxMessageBytes: Count,
    connectsPerWindow: Count,
    disconnectsPerWindow: Count,
    authFailuresPerWindow: Count,
    addressAuthFailuresPerWindow: Count,
    deniedTopicsPerWindow: Count,
    replaysPerWindow: Count,
    sequenceGapsPerWindow: Count,
    clockSkewSeconds: Count,
  },
  { additionalProperties: false },
);
export type Thresholds = Static<typeof Thresholds>;

const SeverityOrOff = T.Union([...ALERT_SEVERITIES.map((s) => T.Literal(s)), T.Literal('off')]);

export const RULE_NAMES = [
  'device.flood',
  'device.bytes',
  'device.message-size',
  'device.size-jump',
  'device.connects',
  'device.disconnects',
  'device.auth-failures',
  'address.auth-failures',
  'device.topic-spoof',
  'device.replay',
  'device.sequence-gap',
  'device.clock-skew',
  'device.off-hours',
  'device.rate-deviation',
  'device.new-address',
  'device.cloned-identity',
  'fleet.shared-key',
  'fleet.duplicate-session',
  'fleet.cert-expiring',
  'fleet.revoked-connecting',
  'fleet.weak-key',
  'fleet.never-seen',
  'fleet.silent',
  'fleet.no-owner',
  'fleet.no-location',
] as const;
export type RuleName = (typeof RULE_NAMES)[number];

/** The rules file, as validated. */
export const RulesFileSchema = T.Object(
  {
    version: T.Literal(1),
    windowSeconds: T.Integer({ minimum: 1, maximum: 86_400 }),
    cooldownSeconds: T.Integer({ minimum: 0, maximum: 86_400 }),
    static: Thresholds,
    deviceTypes: T.Optional(T.Record(T.String({ pattern: '^[a-z0-9-]{1,64}$' }), T.Partial(Thresholds))),
    baseline: T.Object(
      {
        warmupHours: T.Integer({ minimum: 0, maximum: 8760 }),
        sizeWarmupMessages: T.Integer({ minimum: 1, maximum: 1_000_000 }),
        sizeFactor: T.Number({ minimum: 1, maximum: 1000 }),
        sizeMinExcessBytes: Count,
        rateFactor: T.Number({ minimum: 1, maximum: 1000 }),
        rateMinExcess: Count,
        offHoursMaxExpected: T.Number({ minimum: 0, maximum: 1_000_000 }),
        offHoursMinMessages: T.Integer({ minimum: 1, maximum: 1_000_000 }),
        addressWarmupHours: T.Integer({ minimum: 0, maximum: 8760 }),
        maxAddresses: T.Integer({ minimum: 1, maximum: 256 }),
      },
      { additionalProperties: false },
    ),
    severities: T.Partial(
      T.Object(
        Object.fromEntries(RULE_NAMES.map((r) => [r, SeverityOrOff])) as Record<
          RuleName,
          typeof SeverityOrOff
        >,
        {
          additionalProperties: false,
        },
      ),
    ),
    fleet: T.Object(
      {
        neverSeenGraceHours: T.Integer({ minimum: 0, maximum: 8760 }),
        silentAfterMinutes: T.Integer({ minimum: 1, maximum: 525_600 }),
        silentAfterMinutesByType: T.Optional(
          T.Record(T.String({ pattern: '^[a-z0-9-]{1,64}$' }), T.Integer({ minimum: 1, maximum: 525_600 })),
        ),
        minRsaBits: T.Integer({ minimum: 512, maximum: 16_384 }),
        allowedCurves: T.Array(T.String({ minLength: 1, maxLength: 32 }), { maxItems: 32 }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type RulesFile = Static<typeof RulesFileSchema>;

/** Rules ready for the detectors: thresholds resolved per device type, severities looked up. */
export class MonitorRules {
  readonly file: RulesFile;
  /** Where the rules came from (a path), for status output. */
  readonly source: string;
  readonly windowMs: number;
  readonly cooldownMs: number;
  readonly #byType = new Map<string, Thresholds>();

  constructor(file: RulesFile, source: string) {
    this.file = file;
    this.source = source;
    this.windowMs = file.windowSeconds * 1000;
    this.cooldownMs = file.cooldownSeconds * 1000;
    for (const [type, over] of Object.entries(file.deviceTypes ?? {}))
      this.#byType.set(type, { ...file.static, ...over });
  }

  /** Thresholds for a device type (the static ones when the type has no overrides). */
  thresholds(deviceType: string | null | undefined): Thresholds {
    return (deviceType && this.#byType.get(deviceType)) || this.file.static;
  }

  /** The severity of a rule, or null when the rules file turns it off. */
  severity(rule: RuleName): AlertSeverity | null {
    const s = this.file.severities[rule] ?? 'medium';
    return s === 'off' ? null : s;
  }

  get baseline(): RulesFile['baseline'] {
    return this.file.baseline;
  }

  get fleet(): RulesFile['fleet'] {
    return this.file.fleet;
  }
}

/** Parses and validates rules text; MONITOR_RULES_INVALID naming the first problems. */
export function parseRules(text: string, source: string): MonitorRules {
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 100 });
  } catch (error) {
    throw new PulsegateError('MONITOR_RULES_INVALID', `not valid YAML (${(error as Error).name})`);
  }
  const errors = [...Value.Errors(RulesFileSchema, raw)].slice(0, 5);
  if (errors.length > 0) {
    throw new PulsegateError(
      'MONITOR_RULES_INVALID',
      errors.map((e) => `${e.path || '/'}: ${e.message}`).join('; '),
      { fields: errors.map((e) => ({ pointer: e.path || '/', problem: e.message })) },
    );
  }
  return new MonitorRules(raw as RulesFile, source);
}

/** Reads and validates a rules file. */
export function loadRules(path: string = DEFAULT_RULES_FILE): MonitorRules {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new PulsegateError('MONITOR_RULES_INVALID', 'the rules file cannot be read');
  }
  return parseRules(text, path);
}
