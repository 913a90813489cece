import { displayUnit, isOrdinal } from '../units';

/** One series of a vital sign: points in time order. */
export interface Point {
  t: number;
  v: number;
}

const W = 600;

/** "−60 min", "−4 min", "−40 s": the left end of the time axis. */
function span(ms: number): string {
  return ms >= 120_000 ? `−${Math.round(ms / 60_000)} min` : `−${Math.round(ms / 1000)} s`;
}
const H = 140;
const PAD = { l: 44, r: 8, t: 8, b: 20 };

/**
 * A line chart as plain SVG (no chart library: the console needs one kind of chart and a small
 * bundle). The latest value is also given as text for screen readers and tests.
 */
export function LineChart({
  label,
  unit,
  points,
  from,
  to,
  testId,
}: {
  label: string;
  unit: string;
  points: Point[];
  from: number;
  to: number;
  testId?: string;
}) {
  const last = points[points.length - 1];
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const p of points) {
    if (p.v < lo) lo = p.v;
    if (p.v > hi) hi = p.v;
  }
  if (!Number.isFinite(lo)) [lo, hi] = [0, 1];
  const ordinal = isOrdinal(unit);
  if (ordinal) {
    // Scores are whole numbers from 0: the axis starts at 0 and spans at least one step.
    lo = Math.min(0, Math.floor(lo));
    hi = Math.max(Math.ceil(hi), lo + 1);
  } else if (hi - lo < 1e-9) [lo, hi] = [lo - 1, hi + 1];
  // Tick labels: an ordinal's whole-number bounds, otherwise the padded ends of the axis.
  const [bottom, top] = [lo, hi];
  const pad = (hi - lo) * 0.1;
  lo -= pad;
  hi += pad;
  const x = (t: number) => PAD.l + ((t - from) / Math.max(1, to - from)) * (W - PAD.l - PAD.r);
  const y = (v: number) => PAD.t + (1 - (v - lo) / (hi - lo)) * (H - PAD.t - PAD.b);
  let d = '';
  for (const p of points) d += `${d ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
  // Whole values as whole numbers (72 /min, 95 mmHg), others to one decimal (37.4 °C).
  const fmt = (v: number) =>
    ordinal || Number.isInteger(v) || Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1);
  const shownUnit = displayUnit(unit);
  return (
    <figure className="chart" data-testid={testId}>
      <figcaption>
        <span>{label}</span>{' '}
        <strong className="latest" data-testid={testId ? `${testId}-latest` : undefined}>
          {last ? `${fmt(last.v)} ${shownUnit}` : '—'}
        </strong>
        <span className="muted">
          {' '}
          ({points.length} {points.length === 1 ? 'reading' : 'readings'})
        </span>
      </figcaption>
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`${label}, ${span(to - from).slice(1)} to now${last ? `, latest ${fmt(last.v)} ${shownUnit}` : ', no data'}`}
        preserveAspectRatio="none"
      >
        <line className="axis" x1={PAD.l} x2={W - PAD.r} y1={H - PAD.b} y2={H - PAD.b} />
        <text className="tick" x={PAD.l - 4} y={PAD.t + 10} textAnchor="end">
          {fmt(ordinal ? top : hi)}
        </text>
        <text className="tick" x={PAD.l - 4} y={H - PAD.b} textAnchor="end">
          {fmt(ordinal ? bottom : lo)}
        </text>
        <text className="tick" x={PAD.l} y={H - 4}>
          {span(to - from)}
        </text>
        <text className="tick" x={W - PAD.r} y={H - 4} textAnchor="end">
          now
        </text>
        {d && <path className="line" d={d} />}
        {last && <circle className="dot" cx={x(last.t)} cy={y(last.v)} r={3} />}
      </svg>
    </figure>
  );
}
