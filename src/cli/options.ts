import { PulsegateError } from '../errors.js';
import { requireInstant } from '../instant.js';

/**
 * Checks of option values the commands share; each refuses with VALIDATION_FAILED naming the
 * option, so a typo is an error rather than a silently different command.
 */

/** `value` if it is one of `allowed` (or not given). */
export function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
): T | undefined {
  if (value !== undefined && !(allowed as readonly string[]).includes(value))
    throw new PulsegateError('VALIDATION_FAILED', `${name} must be one of ${allowed.join(', ')}`);
  return value as T | undefined;
}

/**
 * The epoch milliseconds of an RFC 3339 date-time option such as `2025-03-01T08:00:00Z` (or not
 * given). `Date.parse` would read `1` as 2001 and roll 2024-02-30 over into March.
 */
export function instantOption(value: string | undefined, name: string): number | undefined {
  return value === undefined ? undefined : requireInstant(value, name);
}
