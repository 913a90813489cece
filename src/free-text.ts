/**
 * Free text people type (reasons, notes) before it is stored or audited: well-formed Unicode
 * (RFC 8785 canonical JSON refuses lone surrogates, so ill-formed text could not be audited),
 * no control characters, and bounded in characters (code points, as JSON Schema counts them).
 */

/** In a `u` regular expression a surrogate pair is one code point, so this matches lone surrogates only. */
const LONE_SURROGATE = /\p{Cs}/u;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Whether `text` is well-formed Unicode (no lone surrogate). */
export const isWellFormedText = (text: string): boolean => !LONE_SURROGATE.test(text);

/** What is wrong with `text` as free text of at most `max` characters, or undefined. */
export function freeTextProblem(text: string, max: number): string | undefined {
  if (!isWellFormedText(text)) return 'is not well-formed Unicode (a lone surrogate)';
  if (CONTROL.test(text)) return 'contains control characters';
  let chars = 0;
  for (const _ of text) if (++chars > max) return `is longer than ${max} characters`;
  return undefined;
}
