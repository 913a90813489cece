import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, type JsonValue } from './canonical-json.js';

describe('canonicalJson (RFC 8785)', () => {
  // RFC 8785 §3.2.2 "Serialization of Primitive Data Types", the example input and its output.
  it('serialises the §3.2.2 example exactly', () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
        '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",' +
        '"literals": [null, true, false]}',
    ) as JsonValue;
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  // RFC 8785 §3.2.3 "Sorting of Object Properties": keys sorted by UTF-16 code units.
  it('sorts properties as in the §3.2.3 example', () => {
    const input = JSON.parse(
      '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh",' +
        '"1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control",' +
        '"\\u00f6": "Latin Small Letter O With Diaeresis"}',
    ) as Record<string, string>;
    // Integer-like keys such as "1" come first in JS property order; JCS must not follow that.
    const order: Array<[string, string]> = [
      ['\r', 'Carriage Return'],
      ['1', 'One'],
      ['\u0080', 'Control'],
      ['\u00f6', 'Latin Small Letter O With Diaeresis'],
      ['\u20ac', 'Euro Sign'],
      ['\ud83d\ude00', 'Emoji: Grinning Face'],
      ['\ufb33', 'Hebrew Letter Dalet With Dagesh'],
    ];
    const expected = `{${order.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
    expect(canonicalJson(input)).toBe(expected);
  });

  // RFC 8785 Appendix B "Number Serialization Samples" (IEEE 754 bit pattern -> JCS text).
  it.each([
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ])('serialises the double %s as %s (Appendix B)', (bits, text) => {
    const n = Buffer.from(bits, 'hex').readDoubleBE(0);
    expect(canonicalJson(n)).toBe(text);
  });

  it('refuses NaN, Infinity (Appendix B) and lone surrogates (I-JSON)', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, '\ud800', { k: '\udc00x' }]) {
      expect(() => canonicalJson(bad as JsonValue)).toThrow(TypeError);
    }
  });

  it('is stable under key reordering and parses back to the same value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const shuffled = reorder(value as JsonValue);
        const a = canonicalJson(value as JsonValue);
        expect(canonicalJson(shuffled)).toBe(a);
        expect(canonicalJson(JSON.parse(a) as JsonValue)).toBe(a);
      }),
    );
  });
});

/** The same value with every object's keys inserted in reverse order. */
function reorder(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(reorder);
  if (value && typeof value === 'object') {
    const out: Record<string, JsonValue> = {};
    // defineProperty, not `out[key] =`: fc.jsonValue() can generate a `__proto__` key, which
    // assignment would turn into a prototype change instead of an own property.
    for (const key of Object.keys(value).reverse())
      Object.defineProperty(out, key, {
        value: reorder(value[key] as JsonValue),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return out;
  }
  return value;
}

describe('encodeEvent (presorted entry encoding)', () => {
  it('is byte-identical to canonicalJson of the validated entry (property)', async () => {
    const { encodeEvent, joinEncoded, validateEvent } = await import('./entry.js');
    const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
    const text = fc
      .string({ minLength: 1, maxLength: 20, unit: 'binary' })
      .filter((s) => !s.includes('\u0000'));
    const event = fc.record({
      actor: fc.record({
        type: fc.constantFrom('user', 'client', 'device', 'system', 'anonymous' as const),
        id: opt(text),
        name: opt(text),
        role: opt(text),
      }),
      action: fc.constantFrom('patient.read', 'auth.login', 'user.create'),
      resource: opt(fc.record({ type: fc.constantFrom('patient', 'Device'), id: opt(text) })),
      outcome: fc.constantFrom('success', 'failure', 'denied' as const),
      reason: opt(text),
      code: opt(fc.constantFrom('ACCESS_DENIED', 'X')),
      source: opt(fc.constantFrom('10.0.0.1', '::1')),
      breakGlass: opt(fc.boolean()),
      requestId: opt(fc.constantFrom('req-1', 'abc')),
    });
    fc.assert(
      fc.property(
        event,
        fc.nat(),
        fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }),
        (e, seq, d) => {
          const v = validateEvent(e);
          const time = d.toISOString();
          expect(joinEncoded(encodeEvent(v), seq, time)).toBe(
            canonicalJson({ ...v, seq, time } as unknown as JsonValue),
          );
        },
      ),
    );
  });
});
