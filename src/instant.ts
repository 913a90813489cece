import { PulsegateError } from './errors.js';

/**
 * RFC 3339 §5.6 date-time, strictly: a calendar date that exists, a time of day, and a zone.
 * A leap second (`23:59:60`) is refused rather than mapped: JavaScript time has no leap seconds
 * (`Date.parse` answers NaN), and a NaN instant must never reach a query or a stored row.
 */
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|([+-])(\d{2}):(\d{2}))$/;

const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/** The epoch milliseconds of an RFC 3339 date-time, or undefined if it names no real instant. */
export function instantOf(text: string): number | undefined {
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  if (m[9] && (Number(m[10]) > 23 || Number(m[11]) > 59)) return undefined;
  const ms = Date.parse(text.replace(' ', 'T'));
  return Number.isFinite(ms) ? ms : undefined;
}

/** Whether `text` is an RFC 3339 date-time naming a real instant (the `date-time` schema format). */
export const isInstant = (text: string): boolean => instantOf(text) !== undefined;

/** The epoch milliseconds of `text`, or VALIDATION_FAILED naming `what`. */
export function requireInstant(text: string, what: string): number {
  const ms = instantOf(text);
  if (ms === undefined)
    throw new PulsegateError('VALIDATION_FAILED', `${what} must be an RFC 3339 date-time that exists`);
  return ms;
}
