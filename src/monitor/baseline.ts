/**
 * A device's learned behaviour, kept in memory and persisted in batches: an hour-of-day profile
 * of messages per hour, the running mean and variance of its message sizes, and the source
 * addresses it connects from. Updating it is O(1) per message; folding a finished hour into the
 * profile is O(1) per hour (O(24 x 7) at most after a long silence).
 */
export interface BaselineProfile {
  v: 1;
  /** Time of the first event seen (ms). */
  firstAt: number;
  /** Whole hours folded into the profile. */
  hours: number;
  /** Mean messages per hour at each hour of the day (local time of `monitor.timeZone`). */
  hourly: number[];
  /** How often each hour of the day was folded. */
  seen: number[];
  /** The absolute hour (floor(ms / 3600000)) being counted, and its count so far. */
  curHour: number;
  curCount: number;
  /** True while the current hour began mid-way (first hour after start): it is not folded. */
  curPartial: boolean;
  /** Message sizes: count, mean, Welford M2. */
  sizeN: number;
  sizeMean: number;
  sizeM2: number;
  addresses: string[];
}

const HOUR = 3_600_000;
/** After this many folds an hour's mean moves like an exponential average (about two weeks). */
const HOUR_MEMORY = 14;
/** After this many messages the size statistics move like an exponential average. */
const SIZE_MEMORY = 10_000;
/** Longest silence folded hour by hour; beyond it the profile simply resumes. */
const MAX_FOLD_HOURS = 24 * 7;

export function newProfile(t: number): BaselineProfile {
  return {
    v: 1,
    firstAt: t,
    hours: 0,
    hourly: new Array<number>(24).fill(0),
    seen: new Array<number>(24).fill(0),
    curHour: Math.floor(t / HOUR),
    curCount: 0,
    curPartial: true,
    sizeN: 0,
    sizeMean: 0,
    sizeM2: 0,
    addresses: [],
  };
}

/** Checks a stored profile's shape (rows are ours, but a bad row must not break detection). */
export function isProfile(v: unknown): v is BaselineProfile {
  const p = v as BaselineProfile;
  return (
    typeof p === 'object' &&
    p !== null &&
    p.v === 1 &&
    Array.isArray(p.hourly) &&
    p.hourly.length === 24 &&
    Array.isArray(p.seen) &&
    p.seen.length === 24 &&
    Number.isFinite(p.curHour) &&
    Array.isArray(p.addresses)
  );
}

/** Maps absolute hours to the hour of the day in one IANA time zone, cached per hour. */
export class HourOfDay {
  readonly #format: Intl.DateTimeFormat;
  readonly #cache = new Map<number, number>();

  constructor(timeZone: string) {
    this.#format = new Intl.DateTimeFormat('en-US', { timeZone, hour: 'numeric', hourCycle: 'h23' });
  }

  of(absHour: number): number {
    let h = this.#cache.get(absHour);
    if (h === undefined) {
      h = Number(this.#format.format(new Date(absHour * HOUR + 1))) % 24;
      if (this.#cache.size > 10_000) this.#cache.clear();
      this.#cache.set(absHour, h);
    }
    return h;
  }
}

/** Folds the finished hours before `absHour` into the profile; returns true when the hour changed. */
export function advanceHour(p: BaselineProfile, absHour: number, hod: HourOfDay): boolean {
  if (absHour <= p.curHour) return false;
  if (!p.curPartial) fold(p, hod.of(p.curHour), p.curCount);
  const silent = Math.min(absHour - p.curHour - 1, MAX_FOLD_HOURS);
  for (let k = 1; k <= silent; k++) fold(p, hod.of(absHour - k), 0);
  p.curHour = absHour;
  p.curCount = 0;
  p.curPartial = false;
  return true;
}

function fold(p: BaselineProfile, h: number, count: number): void {
  const n = Math.min(p.seen[h]! + 1, HOUR_MEMORY);
  p.hourly[h] = p.hourly[h]! + (count - p.hourly[h]!) / n;
  p.seen[h] = p.seen[h]! + 1;
  p.hours++;
}

/** Messages expected in hour-of-day `h`: its own mean once seen, else the mean over the seen hours. */
export function expectedAt(p: BaselineProfile, h: number): number {
  if (p.seen[h]! > 0) return p.hourly[h]!;
  let sum = 0;
  let n = 0;
  for (let i = 0; i < 24; i++) {
    if (p.seen[i]! > 0) {
      sum += p.hourly[i]!;
      n++;
    }
  }
  return n > 0 ? sum / n : 0;
}

/** Adds one message size (Welford; exponential after SIZE_MEMORY messages). */
export function addSize(p: BaselineProfile, bytes: number): void {
  const n = Math.min(p.sizeN + 1, SIZE_MEMORY);
  const delta = bytes - p.sizeMean;
  p.sizeMean += delta / n;
  p.sizeM2 =
    p.sizeN + 1 > SIZE_MEMORY
      ? p.sizeM2 * (1 - 1 / n) + delta * (bytes - p.sizeMean)
      : p.sizeM2 + delta * (bytes - p.sizeMean);
  p.sizeN++;
}
