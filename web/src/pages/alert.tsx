import { useState } from 'react';
import { api } from '../api';
import { ReasonDialog } from '../components/reason-dialog';
import { Badge, LoadError, Loading, when } from '../components/status';
import { useApi, usePageTitle } from '../hooks';
import { Link } from '../router';
import { useCan } from '../session';
import type { AlertView } from '../types';

const ACTIONS = [
  { action: 'acknowledge', label: 'Acknowledge', required: false },
  { action: 'resolve', label: 'Resolve', required: true },
  { action: 'false-positive', label: 'Mark false positive', required: true },
] as const;

/** One alert: evidence, history and the response actions (each audited with its reason). */
export default function AlertPage({ id }: { id: string }) {
  const heading = usePageTitle('Alert');
  const can = useCan();
  const path = `/api/v1/alerts/${encodeURIComponent(id)}`;
  const alert = useApi<AlertView>(path, {}, 5000);
  const [dialog, setDialog] = useState<(typeof ACTIONS)[number] | null>(null);
  if (alert.error && !alert.data) return <LoadError error={alert.error} what="The alert" />;
  const a = alert.data;
  if (!a) return <Loading />;
  const closed = a.state === 'resolved' || a.state === 'false-positive';
  return (
    <>
      <div className="page-head">
        <h1 ref={heading} tabIndex={-1}>
          <Badge value={a.severity} /> {a.title}
        </h1>
        {can('alerts:write') && !closed && (
          <div className="actions">
            {ACTIONS.filter((x) => !(x.action === 'acknowledge' && a.state === 'acknowledged')).map((x) => (
              <button key={x.action} type="button" onClick={() => setDialog(x)}>
                {x.label}…
              </button>
            ))}
          </div>
        )}
      </div>
      <section className="panel">
        <dl>
          <dt>State</dt>
          <dd data-testid="alert-state">{a.state}</dd>
          <dt>Category / rule</dt>
          <dd>
            {a.category} / <code>{a.rule}</code>
          </dd>
          <dt>Device</dt>
          <dd>
            {a.deviceId ? <Link to={`/devices/${encodeURIComponent(a.deviceId)}`}>{a.deviceId}</Link> : '—'}
          </dd>
          <dt>Care unit</dt>
          <dd>{a.careUnit ?? '—'}</dd>
          {a.patientId && (
            <>
              <dt>Patient</dt>
              <dd>{a.patientId}</dd>
            </>
          )}
          <dt>Seen</dt>
          <dd>
            {a.count}× from {when(a.firstSeenAt)} to {when(a.lastSeenAt)}
          </dd>
          <dt>Escalation level</dt>
          <dd>{a.escalationLevel}</dd>
          <dt>Incident</dt>
          <dd>
            {a.incidentId ? (
              <Link to={`/incidents/${encodeURIComponent(a.incidentId)}`}>{a.incidentId}</Link>
            ) : (
              '—'
            )}
          </dd>
        </dl>
      </section>
      <section className="panel" aria-labelledby="evidence">
        <h2 id="evidence">Evidence</h2>
        <pre className="evidence">{JSON.stringify(a.evidence ?? {}, null, 2)}</pre>
      </section>
      <section className="panel" aria-labelledby="history">
        <h2 id="history">History</h2>
        <ol>
          {(a.history ?? []).map((h) => (
            <li key={`${h.at}-${h.change}`}>
              {when(h.at)} <strong>{h.change}</strong> by {h.actor}
              {h.reason ? `: ${h.reason}` : h.restricted ? ' (reason restricted to clinical staff)' : ''}
            </li>
          ))}
        </ol>
      </section>
      <ReasonDialog
        open={dialog !== null}
        title={dialog ? `${dialog.label}: ${a.title}` : ''}
        confirm={dialog?.label ?? ''}
        required={dialog?.required ?? false}
        onClose={() => setDialog(null)}
        onConfirm={async (reason) => {
          if (!dialog) return;
          await api(`${path}/${dialog.action}`, { method: 'POST', body: reason ? { reason } : {} });
          alert.reload();
        }}
      />
    </>
  );
}
