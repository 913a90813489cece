import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import { isWellFormedText } from '../free-text.js';
import { isInstant } from '../instant.js';

/**
 * Two validators. Bodies are strict: no type coercion and no silent removal of unknown fields,
 * so `"5"` for a number or an extra property is a VALIDATION_FAILED, not a quiet fix-up.
 * Query strings and path parameters are text on the wire, so those coerce scalars.
 */
const common: Options = { allErrors: false, useDefaults: true, removeAdditional: false, strict: false };

function build(coerceTypes: boolean | 'array') {
  const ajv = new Ajv({ ...common, coerceTypes });
  addFormats.default(ajv);
  // ajv-formats' date-time accepts a leap second, which JavaScript cannot represent (NaN).
  ajv.addFormat('date-time', { type: 'string', validate: isInstant });
  return ajv;
}

const strict = build(false);
const coercing = build('array');

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? strict : coercing;
  return ajv.compile(schema as object) as ReturnType<FastifySchemaCompiler<unknown>>;
};

/**
 * Validates a value against a route body schema outside HTTP (the CLI), with the same strict
 * validator, so both ways in accept exactly the same input. Returns the first problem, if any.
 */
export function bodyProblem(schema: object, value: unknown): string | undefined {
  const check = strict.compile(schema);
  if (check(value)) return undefined;
  const e = check.errors?.[0];
  return e
    ? `${e.instancePath.replace(/^\//, '') || 'input'} ${e.message ?? 'is not valid'}`
    : 'input is not valid';
}

/** What makes a string unstorable, or undefined. */
function textProblem(text: string): string | undefined {
  if (!isWellFormedText(text)) return 'not well-formed Unicode (a lone surrogate)';
  // PostgreSQL text cannot hold U+0000, and no field of ours has a use for it.
  if (text.includes('\u0000')) return 'contains a NUL character';
  return undefined;
}

/**
 * The JSON pointer and problem of the first string (value or key) in parsed input that cannot be
 * stored: not well-formed Unicode (a lone surrogate, which JSON's `\ud800` escape can carry; RFC
 * 8785 canonical JSON for the audit log refuses it) or holding U+0000 (PostgreSQL refuses it,
 * which surfaced as a 500). Such text is refused at the edge, before any handler or write.
 */
export function unstorableTextAt(value: unknown, pointer = ''): { at: string; problem: string } | undefined {
  if (typeof value === 'string') {
    const problem = textProblem(value);
    return problem ? { at: pointer || '/', problem } : undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = unstorableTextAt(value[i], `${pointer}/${i}`);
      if (found) return found;
    }
    return undefined;
  }
  for (const [key, item] of Object.entries(value)) {
    const escaped = key.replaceAll('~', '~0').replaceAll('/', '~1');
    const problem = textProblem(key);
    if (problem) return { at: `${pointer}/${escaped}`, problem };
    const found = unstorableTextAt(item, `${pointer}/${escaped}`);
    if (found) return found;
  }
  return undefined;
}
