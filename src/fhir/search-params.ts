/**
 * FHIR search parameter parsing (R4 "search.html"): each resource declares the parameters it
 * supports with their type; values are parsed strictly, unknown parameters are an error unless
 * the client sent `Prefer: handling=lenient` (§3.1.1.4.1 "Handling unknown parameters"), in which
 * case they are ignored and reported. A modifier of a supported parameter is never ignored (none
 * is supported, and dropping `code:not` would widen the result). Dates follow §3.1.1.4.5: a value
 * is an implicit range at its precision, compared with the prefixes eq, ne, gt, lt, ge, le.
 */
import { type FieldProblem, PulsegateError } from '../errors.js';

export type ParamType = 'token' | 'reference' | 'date' | 'number' | 'string' | 'sort' | 'cursor';

/** What a resource's search supports: parameter name -> type. */
export type ParamSpec = Readonly<Record<string, ParamType>>;

/** One token (`system|code`, `code`, `|code`, `system|`). Undefined system means "any". */
export interface TokenValue {
  system?: string;
  code?: string;
}

export type DatePrefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le';

/** A date comparison: the value's implicit range [start, end) and the prefix. */
export interface DateCondition {
  prefix: DatePrefix;
  start: number;
  end: number;
}

/** A parsed search: each parameter's occurrences (AND) of comma-separated values (OR). */
export interface ParsedSearch {
  tokens: Map<string, TokenValue[][]>;
  references: Map<string, string[][]>;
  dates: Map<string, DateCondition[]>;
  numbers: Map<string, number>;
  sort?: string;
  cursor?: string;
  /** Parameters ignored under `handling=lenient`. */
  ignored: string[];
  /** The accepted parameters in a stable order, for the Bundle's `self` link. */
  accepted: Array<[string, string]>;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}(:[a-z-]{1,32})?$/;
const MAX_VALUES = 20;
const MAX_VALUE_LENGTH = 256;
/** FHIR dateTime at any precision (R4 datatypes "dateTime"), time zone required when there is a time. */
const DATE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2}))?)?)?$/;

const invalid = (name: string, problem: string) =>
  new PulsegateError('FHIR_PARAM_INVALID', `${name}: ${problem}`, { fields: [{ pointer: name, problem }] });

/** Midnight UTC of a calendar date; unlike `Date.UTC`, years 0–99 stay years 0–99 (not 1900–1999). */
function utc(year: number, monthIndex: number, day: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, monthIndex, day);
  return d.getTime();
}

/** Parses a FHIR date search value (after the prefix) into its range [start, end). */
export function parseDateRange(name: string, text: string): { start: number; end: number } {
  const m = DATE.exec(text);
  if (!m) throw invalid(name, 'not a FHIR date or dateTime');
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const year = Number(y);
  const month = mo === undefined ? undefined : Number(mo);
  const day = d === undefined ? undefined : Number(d);
  if (month !== undefined && (month < 1 || month > 12)) throw invalid(name, 'month out of range');
  if (day !== undefined) {
    const last = new Date(utc(year, month!, 0)).getUTCDate();
    if (day < 1 || day > last) throw invalid(name, 'day out of range');
  }
  if (h === undefined) {
    // Dates without a time are taken in UTC (the server's time zone).
    if (month === undefined) return { start: utc(year, 0, 1), end: utc(year + 1, 0, 1) };
    if (day === undefined) return { start: utc(year, month - 1, 1), end: utc(year, month, 1) };
    return { start: utc(year, month - 1, day), end: utc(year, month - 1, day + 1) };
  }
  if (Number(h) > 23 || Number(mi) > 59 || (s !== undefined && Number(s) > 59))
    throw invalid(name, 'time out of range');
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s ?? '00'}${frac ? `.${frac.slice(0, 3).padEnd(3, '0')}` : ''}${tz}`;
  const start = Date.parse(iso);
  if (!Number.isFinite(start)) throw invalid(name, 'not a valid instant');
  const width = frac ? 1 : s !== undefined ? 1000 : 60_000;
  return { start, end: start + width };
}

/** True when a point in time satisfies every condition (AND). */
export function dateMatches(time: number, conditions: readonly DateCondition[]): boolean {
  for (const c of conditions) {
    const ok =
      c.prefix === 'eq'
        ? time >= c.start && time < c.end
        : c.prefix === 'ne'
          ? time < c.start || time >= c.end
          : c.prefix === 'gt'
            ? time >= c.end
            : c.prefix === 'ge'
              ? time >= c.start
              : c.prefix === 'lt'
                ? time < c.start
                : time < c.end; // le
    if (!ok) return false;
  }
  return true;
}

/** The narrowest [from, to) that holds every time matching the conditions (for SQL prefilters). */
export function dateBounds(conditions: readonly DateCondition[]): { from?: number; to?: number } {
  let from: number | undefined;
  let to: number | undefined;
  const lower = (v: number) => {
    from = from === undefined ? v : Math.max(from, v);
  };
  const upper = (v: number) => {
    to = to === undefined ? v : Math.min(to, v);
  };
  for (const c of conditions) {
    if (c.prefix === 'eq') {
      lower(c.start);
      upper(c.end);
    } else if (c.prefix === 'gt') lower(c.end);
    else if (c.prefix === 'ge') lower(c.start);
    else if (c.prefix === 'lt') upper(c.start);
    else if (c.prefix === 'le') upper(c.end);
  }
  return { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
}

function parseToken(name: string, text: string): TokenValue {
  const bar = text.indexOf('|');
  if (bar < 0) return { code: text };
  const system = text.slice(0, bar);
  const code = text.slice(bar + 1);
  if (code.includes('|')) throw invalid(name, 'a token has at most one "|"');
  if (system === '' && code === '') throw invalid(name, 'empty token');
  // `|code` means "no system" (§3.1.1.4.2); we treat it as the code with any system of ours.
  return { ...(system ? { system } : {}), ...(code ? { code } : {}) };
}

function parseReference(name: string, text: string, targets: readonly string[]): string {
  const parts = text.split('/');
  if (parts.length === 1) return parts[0]!;
  if (parts.length === 2 && targets.includes(parts[0]!)) return parts[1]!;
  throw invalid(name, `must be an id or ${targets.map((t) => `${t}/[id]`).join(' or ')}`);
}

const PREFIXES: readonly DatePrefix[] = ['eq', 'ne', 'gt', 'lt', 'ge', 'le'];

/**
 * Parses a query object (Fastify's: repeated keys become arrays) against a resource's spec.
 * `referenceTargets` names the resource type each reference parameter may point at.
 */
export function parseSearch(
  query: Record<string, unknown>,
  spec: ParamSpec,
  options: {
    lenient: boolean;
    referenceTargets?: Readonly<Record<string, readonly string[]>>;
    sorts?: readonly string[];
    maxCount?: number;
  },
): ParsedSearch {
  const out: ParsedSearch = {
    tokens: new Map(),
    references: new Map(),
    dates: new Map(),
    numbers: new Map(),
    ignored: [],
    accepted: [],
  };
  const problems: FieldProblem[] = [];
  for (const key of Object.keys(query).sort()) {
    const raw = query[key];
    const values = (Array.isArray(raw) ? raw : [raw]).map(String);
    if (key === '_format') continue; // checked by the content negotiation before any handler
    const named = NAME.test(key);
    // Own properties only: `constructor`, `toString` or `__proto__` are not parameters.
    const type = named && Object.hasOwn(spec, key) ? spec[key] : undefined;
    const base = key.split(':')[0]!;
    if (type === undefined && named && base !== key && Object.hasOwn(spec, base)) {
      // A modifier changes what a parameter matches (`code:not` excludes): dropping it would answer
      // another question, so it is refused even under lenient handling, which covers unknown
      // parameters only (R4 search.html#modifiers: a server rejects a modifier it does not support).
      throw new PulsegateError(
        'FHIR_PARAM_UNKNOWN',
        `modifier ${key.slice(base.length)} of ${base} is not supported`,
        {
          fields: [{ pointer: key, problem: 'this modifier is not supported' }],
        },
      );
    }
    if (type === undefined) {
      if (options.lenient) {
        out.ignored.push(named ? key : '(unprintable)');
        continue;
      }
      // The parameter name is safe to echo only when it looks like one.
      throw new PulsegateError('FHIR_PARAM_UNKNOWN', named ? `unknown parameter ${key}` : undefined, {
        fields: [{ pointer: named ? key : '(parameter)', problem: 'not supported' }],
      });
    }
    if (values.length > MAX_VALUES) throw invalid(key, 'repeated too often');
    for (const value of values) {
      if (value.length === 0 || value.length > MAX_VALUE_LENGTH)
        throw invalid(key, `must be 1 to ${MAX_VALUE_LENGTH} characters`);
      if (/\p{Cc}/u.test(value)) throw invalid(key, 'control characters are not allowed');
      out.accepted.push([key, value]);
      switch (type) {
        case 'token': {
          const list = out.tokens.get(key) ?? [];
          list.push(value.split(',').map((v) => parseToken(key, v)));
          out.tokens.set(key, list);
          break;
        }
        case 'reference': {
          const list = out.references.get(key) ?? [];
          const targets = options.referenceTargets?.[key] ?? [];
          list.push(value.split(',').map((v) => parseReference(key, v, targets)));
          out.references.set(key, list);
          break;
        }
        case 'date': {
          if (value.includes(',')) throw invalid(key, 'comma-separated dates are not supported');
          const prefix = PREFIXES.find((p) => value.startsWith(p));
          const text = prefix ? value.slice(2) : value;
          if (!prefix && /^[a-z]{2}/.test(value)) throw invalid(key, 'unsupported prefix');
          const range = parseDateRange(key, text);
          const list = out.dates.get(key) ?? [];
          list.push({ prefix: prefix ?? 'eq', ...range });
          out.dates.set(key, list);
          break;
        }
        case 'number': {
          if (values.length > 1) throw invalid(key, 'may be given once');
          if (!/^\d{1,6}$/.test(value)) throw invalid(key, 'must be a whole number');
          const n = Number(value);
          const max = options.maxCount ?? 1000;
          if (key === '_count' && (n < 1 || n > max)) throw invalid(key, `must be 1 to ${max}`);
          out.numbers.set(key, n);
          break;
        }
        case 'sort': {
          if (values.length > 1) throw invalid(key, 'may be given once');
          if (!options.sorts?.includes(value))
            throw invalid(key, `supported: ${(options.sorts ?? []).join(', ') || 'none'}`);
          out.sort = value;
          break;
        }
        case 'cursor': {
          if (values.length > 1) throw invalid(key, 'may be given once');
          out.cursor = value;
          out.accepted.pop(); // the cursor never goes into `self`
          break;
        }
        case 'string':
          break;
      }
    }
  }
  if (problems.length > 0) throw new PulsegateError('FHIR_PARAM_INVALID', undefined, { fields: problems });
  return out;
}

/** True when the request asked for lenient handling (RFC 7240 Prefer, FHIR `handling=lenient`). */
export function isLenient(prefer: string | string[] | undefined): boolean {
  const text = Array.isArray(prefer) ? prefer.join(',') : (prefer ?? '');
  return (
    text
      .split(/[,;]/)
      // RFC 7240: preference = token [ BWS "=" BWS word ], so spaces may surround the "=".
      .map((p) => p.toLowerCase().replaceAll('"', '').replace(/\s+/g, ''))
      .includes('handling=lenient')
  );
}
