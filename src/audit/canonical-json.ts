/**
 * RFC 8785 JSON Canonicalization Scheme (JCS). Entries are hashed as these exact bytes, so the
 * serialisation must never depend on property insertion order or on the platform.
 */

/** A JSON value as JCS accepts it (I-JSON: finite numbers, well-formed strings). */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue | undefined };

// A lone surrogate is not valid I-JSON (RFC 7493 §2.1), so JCS input may not contain one.
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * Serialises `value` canonically: object keys sorted by UTF-16 code units (RFC 8785 §3.2.3),
 * numbers in ECMAScript Number::toString form (§3.2.2.3), strings escaped as ES JSON.stringify
 * does (§3.2.2.2), no whitespace. Object members whose value is `undefined` are omitted.
 */
export function canonicalJson(value: JsonValue): string {
  return serialise(value);
}

/** One string in its JCS form (RFC 8785 §3.2.2.2); throws on a lone surrogate. */
export function jcsString(value: string): string {
  if (LONE_SURROGATE.test(value)) throw new TypeError('JCS: string contains a lone surrogate');
  return JSON.stringify(value);
}

function serialise(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return jcsString(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('JCS: NaN and Infinity are not JSON');
      // ES Number::toString is exactly the JCS number form; it also turns -0 into "0".
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          out += value[i] === undefined ? 'null' : serialise(value[i]);
        }
        return `${out}]`;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw new TypeError('JCS: only plain objects');
      const record = value as Record<string, unknown>;
      // Array.prototype.sort compares strings by UTF-16 code units, as §3.2.3 requires.
      const keys = Object.keys(record).sort();
      let out = '{';
      let first = true;
      for (const key of keys) {
        const member = record[key];
        if (member === undefined) continue;
        if (!first) out += ',';
        first = false;
        out += `${serialise(key)}:${serialise(member)}`;
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`JCS: cannot serialise a ${typeof value}`);
  }
}
