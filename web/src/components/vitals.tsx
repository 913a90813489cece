import { type LiveTelemetry, seriesTestId } from '../live-telemetry';
import { LineChart } from './chart';
import { LoadError } from './status';

/** A grid of last-hour charts for every vital sign in `live`. */
export function Vitals({ live }: { live: LiveTelemetry }) {
  const now = live.updatedAt || Date.now();
  if (live.error && live.series.length === 0) return <LoadError error={live.error} what="Vital signs" />;
  if (live.series.length === 0) return <p className="muted">No readings in the last hour yet.</p>;
  return (
    <div className="charts" data-testid="vitals" aria-live="off">
      {live.series.map((s) => (
        <LineChart
          key={s.key}
          label={s.label}
          unit={s.unit}
          points={s.points}
          from={now - 3_600_000}
          to={now}
          testId={seriesTestId(s)}
        />
      ))}
    </div>
  );
}
