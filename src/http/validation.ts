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

/**
 * The JSON pointer of the first string in a parsed body that is not well-formed Unicode (a lone
 * surrogate, which JSON's `\ud800` escape can carry), or undefined. Such text cannot be stored as
 * UTF-8 or canonicalised for the audit log (RFC 8785 refuses it), so it is refused at the edge.
 */
export function illFormedTextAt(value: unknown, pointer = ''): string | undefined {
  if (typeof value === 'string') return isWellFormedText(value) ? undefined : pointer || '/';
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const at = illFormedTextAt(value[i], `${pointer}/${i}`);
      if (at !== undefined) return at;
    }
    return undefined;
  }
  for (const [key, item] of Object.entries(value)) {
    const escaped = key.replaceAll('~', '~0').replaceAll('/', '~1');
    if (!isWellFormedText(key)) return `${pointer}/${escaped}`;
    const at = illFormedTextAt(item, `${pointer}/${escaped}`);
    if (at !== undefined) return at;
  }
  return undefined;
}
