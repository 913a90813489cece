import { Badge, LoadError, Loading, when } from '../components/status';
import { useApi, usePageTitle } from '../hooks';
import { Link } from '../router';
import type { TriageItem } from '../types';

const TREND: Record<string, { arrow: string; label: string }> = {
  up: { arrow: '↑', label: 'worsening' },
  down: { arrow: '↓', label: 'improving' },
  flat: { arrow: '→', label: 'stable' },
};

export function Trend({ trend }: { trend: TriageItem['trend'] }) {
  if (!trend) return <span className="muted">—</span>;
  const t = TREND[trend]!;
  return (
    <span className={`trend trend-${trend}`} title={t.label}>
      <span aria-hidden="true">{t.arrow}</span>
      <span className="sr-only">{t.label}</span>
    </span>
  );
}

/**
 * The clinician's patients by NEWS2, most acute first. Patient pages are addressed by a bound
 * device id, so no patient identifier ever appears in a URL.
 */
export default function Triage() {
  const heading = usePageTitle('Triage');
  const triage = useApi<{ items: TriageItem[] }>('/api/v1/triage', {}, 5000);
  return (
    <>
      <h1 ref={heading} tabIndex={-1}>
        Triage (NEWS2)
      </h1>
      {triage.error && !triage.data && <LoadError error={triage.error} what="The triage board" />}
      {!triage.data && !triage.error && <Loading />}
      {triage.data && (
        <div className="scroll">
          <table data-testid="triage">
            <thead>
              <tr>
                <th scope="col">Patient</th>
                <th scope="col">Care unit</th>
                <th scope="col">Bed</th>
                <th scope="col" className="num">
                  NEWS2
                </th>
                <th scope="col">Risk</th>
                <th scope="col">Trend</th>
                <th scope="col">Observed</th>
              </tr>
            </thead>
            <tbody>
              {triage.data.items.map((p) => (
                <tr key={`${p.careUnit}-${p.deviceIds.join(',')}`} className={`level-${p.level}`}>
                  <th scope="row">
                    {p.deviceIds[0] ? (
                      <Link to={`/triage/patient/${encodeURIComponent(p.deviceIds[0])}`}>{p.patientId}</Link>
                    ) : (
                      p.patientId
                    )}
                  </th>
                  <td>{p.careUnit ?? '—'}</td>
                  <td>{p.bed ?? '—'}</td>
                  <td className="num">
                    <strong>
                      {p.missing?.length ? '≥ ' : ''}
                      {p.score}
                    </strong>
                  </td>
                  <td>
                    <Badge value={p.level} kind={`news-${p.level}`} />
                  </td>
                  <td>
                    <Trend trend={p.trend} />
                  </td>
                  <td>{when(p.observedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {triage.data.items.length === 0 && <p className="muted">No patients with recent observations.</p>}
        </div>
      )}
    </>
  );
}
