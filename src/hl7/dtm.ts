/**
 * HL7 v2 DTM (date/time, v2.6 §2.A.22): YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ].
 * Returns Unix ms, or undefined when the text is not a DTM or names an impossible date.
 * `minDigits` sets the precision a caller needs (12 = to the minute). Without an offset the time
 * is the sender's local time, which HL7 leaves to site agreement; we read it as UTC, the
 * server's time zone, and PCD-01 senders are required to send the offset anyway.
 */
export function parseDtm(text: string, minDigits = 4): number | undefined {
  const m = /^(\d{4,14})(?:\.(\d{1,4}))?(?:([+-])(\d{2})(\d{2}))?$/.exec(text);
  if (!m) return undefined;
  const digits = m[1]!;
  if (digits.length < minDigits || digits.length % 2 !== 0) return undefined;
  if (m[2] !== undefined && digits.length !== 14) return undefined;
  const part = (at: number, fallback: number) =>
    digits.length >= at + 2 ? Number(digits.slice(at, at + 2)) : fallback;
  const year = Number(digits.slice(0, 4));
  const month = part(4, 1);
  const day = part(6, 1);
  const hour = part(8, 0);
  const minute = part(10, 0);
  const second = part(12, 0);
  const ms = m[2] ? Math.round(Number(`0.${m[2]}`) * 1000) : 0;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59)
    return undefined;
  let t = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  if (new Date(t).getUTCDate() !== day) return undefined; // 31 April and the like
  if (m[3]) {
    const oh = Number(m[4]);
    const om = Number(m[5]);
    if (oh > 14 || om > 59) return undefined;
    t -= (m[3] === '+' ? 1 : -1) * (oh * 60 + om) * 60_000;
  }
  return t;
}

/** Formats Unix ms as a DTM to the second in UTC with an explicit +0000 offset. */
export function formatDtm(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}+0000`;
}
