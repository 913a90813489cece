import { Badge, LoadError, Loading, when } from '../components/status';
import { useApi, usePageTitle } from '../hooks';
import { Link } from '../router';
import type { Incident } from '../types';
import { AlertTable } from './alerts';

export default function IncidentPage({ id }: { id: string }) {
  const heading = usePageTitle('Incident');
  const incident = useApi<Incident>(`/api/v1/incidents/${encodeURIComponent(id)}`, {}, 5000);
  if (incident.error && !incident.data) return <LoadError error={incident.error} what="The incident" />;
  const i = incident.data;
  if (!i) return <Loading />;
  return (
    <>
      <h1 ref={heading} tabIndex={-1}>
        <Badge value={i.severity} /> {i.title}
      </h1>
      <section className="panel">
        <dl>
          <dt>State</dt>
          <dd>{i.state}</dd>
          <dt>Opened / updated</dt>
          <dd>
            {when(i.openedAt)} / {when(i.updatedAt)}
          </dd>
          <dt>Devices</dt>
          <dd>
            {i.deviceIds.map((d) => (
              <Link key={d} to={`/devices/${encodeURIComponent(d)}`}>
                {d}{' '}
              </Link>
            ))}
          </dd>
        </dl>
      </section>
      <section className="panel" aria-labelledby="incident-alerts">
        <h2 id="incident-alerts">Alerts ({i.alertCount})</h2>
        <AlertTable items={i.alerts ?? []} />
      </section>
    </>
  );
}
