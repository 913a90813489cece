import { useState } from 'react';
import { Badge, LoadError, Loading, when } from '../components/status';
import { useApi, usePageTitle } from '../hooks';
import { Link } from '../router';
import { type AlertView, SEVERITIES } from '../types';

const STATES = ['open', 'acknowledged', 'resolved', 'false-positive'];
const CATEGORIES = ['security', 'clinical', 'technical'];

export function AlertTable({ items }: { items: AlertView[] }) {
  return (
    <div className="scroll">
      <table data-testid="alerts">
        <thead>
          <tr>
            <th scope="col">Severity</th>
            <th scope="col">Alert</th>
            <th scope="col">Category</th>
            <th scope="col">Device</th>
            <th scope="col">State</th>
            <th scope="col" className="num">
              Count
            </th>
            <th scope="col">Last seen</th>
          </tr>
        </thead>
        <tbody>
          {items.map((a) => (
            <tr key={a.id}>
              <td>
                <Badge value={a.severity} />
              </td>
              <th scope="row">
                <Link to={`/alerts/${encodeURIComponent(a.id)}`}>{a.title}</Link>
              </th>
              <td>{a.category}</td>
              <td>
                {a.deviceId ? (
                  <Link to={`/devices/${encodeURIComponent(a.deviceId)}`}>{a.deviceId}</Link>
                ) : (
                  '—'
                )}
              </td>
              <td>{a.state}</td>
              <td className="num">{a.count}</td>
              <td>{when(a.lastSeenAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export default function Alerts() {
  const heading = usePageTitle('Alerts');
  const [state, setState] = useState('open');
  const [severity, setSeverity] = useState('');
  const [category, setCategory] = useState('');
  const [cursor, setCursor] = useState<string | null>(null);
  const alerts = useApi<{ items: AlertView[]; next: string | null }>(
    '/api/v1/alerts',
    { state, severity, category, limit: 50, cursor },
    5000,
  );
  const reset = (set: (v: string) => void) => (v: string) => {
    set(v);
    setCursor(null);
  };
  return (
    <>
      <h1 ref={heading} tabIndex={-1}>
        Alerts
      </h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter alerts">
        <label>
          State
          <select value={state} onChange={(e) => reset(setState)(e.target.value)}>
            <option value="">all</option>
            {STATES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Severity
          <select value={severity} onChange={(e) => reset(setSeverity)(e.target.value)}>
            <option value="">all</option>
            {SEVERITIES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Category
          <select value={category} onChange={(e) => reset(setCategory)(e.target.value)}>
            <option value="">all</option>
            {CATEGORIES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
      </form>
      {alerts.error && !alerts.data && <LoadError error={alerts.error} what="Alerts" />}
      {!alerts.data && !alerts.error && <Loading />}
      {alerts.data && (
        <>
          <AlertTable items={alerts.data.items} />
          {alerts.data.items.length === 0 && <p className="muted">No alerts match.</p>}
          <nav className="pager" aria-label="Pages">
            <button type="button" disabled={!cursor} onClick={() => setCursor(null)}>
              Newest
            </button>
            <button
              type="button"
              disabled={!alerts.data.next}
              onClick={() => setCursor(alerts.data?.next ?? null)}
            >
              Older
            </button>
          </nav>
        </>
      )}
    </>
  );
}
