import { type LiveTelemetry, seriesTestId } from '../live-telemetry';
import { LineChart } from './chart';
import { LoadError } from './status';

/** A grid of last-hour charts for every vital sign in `live`. */
export function Vitals({ live }: { live: LiveTelemetry }) {
  const now = live.updatedAt || Date.now();
  if (live.error && live.series.length === 0) return <LoadError error={live.error} what="Vital signs" />;
  if (live.series.length === 0) return <p className="muted">No readings in the last hour yet.</p>;
  // The axis spans the last hour, or less while there is less history (a new device is readable).
  let earliest = now;
  for (const s of live.series) if (s.points[0] && s.points[0].t < earliest) earliest = s.points[0].t;
  const from = Math.max(now - 3_600_000, earliest - Math.max(10_000, (now - earliest) * 0.05));
  return (
    <div className="charts" data-testid="vitals" aria-live="off">
      {live.series.map((s) => (
        <LineChart
          key={s.key}
          label={s.label}
          unit={s.unit}
          points={s.points}
          from={from}
          to={now}
          testId={seriesTestId(s)}
        />
      ))}
    </div>
  );
}
