import { useState } from 'react';
import { Badge, LoadError, Loading, when } from '../components/status';
import { useApi, usePageTitle } from '../hooks';
import { Link } from '../router';
import type { Incident } from '../types';

export default function Incidents() {
  const heading = usePageTitle('Incidents');
  const [state, setState] = useState('');
  const incidents = useApi<{ items: Incident[] }>('/api/v1/incidents', { state }, 5000);
  return (
    <>
      <h1 ref={heading} tabIndex={-1}>
        Incidents
      </h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter incidents">
        <label>
          State
          <select value={state} onChange={(e) => setState(e.target.value)}>
            <option value="">all</option>
            <option>open</option>
            <option>resolved</option>
          </select>
        </label>
      </form>
      {incidents.error && !incidents.data && <LoadError error={incidents.error} what="Incidents" />}
      {!incidents.data && !incidents.error && <Loading />}
      {incidents.data && (
        <div className="scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Severity</th>
                <th scope="col">Incident</th>
                <th scope="col">State</th>
                <th scope="col" className="num">
                  Alerts
                </th>
                <th scope="col">Devices</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {incidents.data.items.map((i) => (
                <tr key={i.id}>
                  <td>
                    <Badge value={i.severity} />
                  </td>
                  <th scope="row">
                    <Link to={`/incidents/${encodeURIComponent(i.id)}`}>{i.title}</Link>
                  </th>
                  <td>{i.state}</td>
                  <td className="num">{i.alertCount}</td>
                  <td>{i.deviceIds.length}</td>
                  <td>{when(i.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {incidents.data.items.length === 0 && <p className="muted">No incidents.</p>}
        </div>
      )}
    </>
  );
}
