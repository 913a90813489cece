import { Badge, LoadError, Loading } from '../components/status';
import { useApi, usePageTitle } from '../hooks';
import { Link } from '../router';
import { useCan } from '../session';
import { type AlertView, type FleetSummary, SEVERITIES } from '../types';

const LIFECYCLES = ['registered', 'enrolled', 'active', 'quarantined', 'retired'];

function OpenAlerts() {
  const alerts = useApi<{ items: AlertView[] }>('/api/v1/alerts', { state: 'open', limit: 500 }, 5000);
  if (alerts.error && !alerts.data) return <LoadError error={alerts.error} what="Alerts" />;
  if (!alerts.data) return <Loading />;
  const counts = new Map<string, number>();
  for (const a of alerts.data.items) counts.set(a.severity, (counts.get(a.severity) ?? 0) + 1);
  return (
    <ul className="severity-list" data-testid="open-alerts">
      {SEVERITIES.map((s) => (
        <li key={s}>
          <Badge value={s} /> <strong>{counts.get(s) ?? 0}</strong>
        </li>
      ))}
    </ul>
  );
}

/** The fleet at a glance, refreshed every 2 s. */
export function Overview() {
  const heading = usePageTitle('Fleet overview');
  const can = useCan();
  const summary = useApi<FleetSummary>('/api/v1/fleet/summary', {}, 2000);
  const s = summary.data;

  const types = s ? [...new Set(s.devices.byType.map((g) => g.type))] : [];
  const cell = (type: string, lifecycle: string) =>
    s?.devices.byType.find((g) => g.type === type && g.lifecycle === lifecycle)?.count ?? 0;
  const byLifecycle = (lifecycle: string) =>
    s?.devices.byType.filter((g) => g.lifecycle === lifecycle).reduce((n, g) => n + g.count, 0) ?? 0;

  return (
    <>
      <h1 ref={heading} tabIndex={-1}>
        Fleet overview
      </h1>
      {summary.error && !s && <LoadError error={summary.error} what="The fleet summary" />}
      {!s && !summary.error && <Loading />}
      {s && (
        <div data-ready="overview">
          <section className="cards" aria-label="Key figures">
            <div className="card">
              <span className="label">Devices</span>
              <strong data-testid="devices-total">{s.devices.total.toLocaleString()}</strong>
            </div>
            <div className="card">
              <span className="label">Connected now</span>
              <strong data-testid="connected">{s.connected.toLocaleString()}</strong>
            </div>
            <div className="card">
              <span className="label">Messages / s</span>
              <strong data-testid="msgs-per-second">{s.messagesPerSecond.toFixed(1)}</strong>
            </div>
            <div className="card">
              <span className="label">Quarantined</span>
              <strong>{byLifecycle('quarantined')}</strong>
            </div>
            <div className="card">
              <span className="label">Certificates expiring ≤ {s.certificates.expiringSoonDays} d</span>
              <strong data-testid="certs-expiring">{s.certificates.expiringSoon}</strong>
              {s.certificates.expired > 0 && <span className="warn">{s.certificates.expired} expired</span>}
            </div>
          </section>
          <div className="grid2">
            <section className="panel" aria-labelledby="by-type">
              <h2 id="by-type">Devices by type and state</h2>
              <div className="scroll">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Type</th>
                      {LIFECYCLES.map((l) => (
                        <th scope="col" key={l} className="num">
                          {l}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {types.map((t) => (
                      <tr key={t}>
                        <th scope="row">
                          <Link to={`/devices?type=${encodeURIComponent(t)}`}>{t}</Link>
                        </th>
                        {LIFECYCLES.map((l) => (
                          <td key={l} className="num">
                            {cell(t, l) || ''}
                          </td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </section>
            <section className="panel" aria-labelledby="open-alerts-title">
              <h2 id="open-alerts-title">Open alerts by severity</h2>
              {can('alerts:read') ? <OpenAlerts /> : <p className="muted">Not part of your role.</p>}
              <h2>Certificates expiring next</h2>
              {s.certificates.soonest.length === 0 ? (
                <p className="muted">None within {s.certificates.expiringSoonDays} days.</p>
              ) : (
                <ul>
                  {s.certificates.soonest.map((c) => (
                    <li key={`${c.deviceId}-${c.notAfter}`}>
                      <Link to={`/devices/${encodeURIComponent(c.deviceId)}`}>{c.deviceId}</Link>{' '}
                      {new Date(c.notAfter).toLocaleDateString()}
                    </li>
                  ))}
                </ul>
              )}
            </section>
          </div>
        </div>
      )}
    </>
  );
}
