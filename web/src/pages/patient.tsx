import { Badge, LoadError, Loading, when } from '../components/status';
import { Vitals } from '../components/vitals';
import { useApi, usePageTitle } from '../hooks';
import { useLiveTelemetry } from '../live-telemetry';
import { Link } from '../router';
import { useCan } from '../session';
import type { TriageItem } from '../types';
import { Trend } from './triage';

const COMPONENTS: Array<[string, string]> = [
  ['respiratoryRate', 'Respiration rate'],
  ['spo2', 'SpO₂'],
  ['airOrOxygen', 'Air or oxygen'],
  ['systolic', 'Systolic BP'],
  ['pulse', 'Pulse'],
  ['consciousness', 'Consciousness'],
  ['temperature', 'Temperature'],
];

/** One patient: NEWS2 breakdown and live vitals from every device bound to them. */
export default function PatientPage({ deviceId }: { deviceId: string }) {
  const heading = usePageTitle('Patient');
  const can = useCan();
  const triage = useApi<{ items: TriageItem[] }>('/api/v1/triage', {}, 5000);
  const item = triage.data?.items.find((p) => p.deviceIds.includes(deviceId));
  const devices = item?.deviceIds ?? [deviceId];
  const live = useLiveTelemetry(devices, can('telemetry:read'));
  return (
    <>
      <h1 ref={heading} tabIndex={-1}>
        Patient {item ? item.patientId : ''}
      </h1>
      <p>
        <Link to="/triage">← Triage board</Link>
      </p>
      {triage.error && !triage.data && <LoadError error={triage.error} what="NEWS2" />}
      {!triage.data && !triage.error && <Loading />}
      {item && (
        <section className="panel" aria-labelledby="news2">
          <h2 id="news2">
            NEWS2 {item.score} <Badge value={item.level} kind={`news-${item.level}`} />{' '}
            <Trend trend={item.trend} />
          </h2>
          {item.missing?.length ? (
            <p className="notice">
              No recent value for {item.missing.join(', ')}: the score is a lower bound.
            </p>
          ) : null}
          {item.spo2Scale === 2 && <p className="muted">SpO₂ scored on scale 2 (target 88–92 %).</p>}
          <p className="muted">
            {item.careUnit ?? 'no care unit'}
            {item.bed ? `, bed ${item.bed}` : ''} · observed {when(item.observedAt)} · devices:{' '}
            {item.deviceIds.map((d) => (
              <Link key={d} to={`/devices/${encodeURIComponent(d)}`}>
                {d}{' '}
              </Link>
            ))}
          </p>
          <dl className="components">
            {COMPONENTS.map(([k, label]) => (
              <div key={k}>
                <dt>{label}</dt>
                <dd>{item.components[k] ?? 'no recent value'}</dd>
              </div>
            ))}
          </dl>
        </section>
      )}
      <section className="panel" aria-labelledby="vitals-title">
        <h2 id="vitals-title">Vital signs, last hour (live)</h2>
        <Vitals live={live} />
      </section>
    </>
  );
}
