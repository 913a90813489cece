import { useState } from 'react';
import { ApiError, api } from '../api';
import { OneTimeToken } from '../components/one-time-token';
import { ReasonDialog } from '../components/reason-dialog';
import { Badge, LoadError, Loading, when } from '../components/status';
import { Vitals } from '../components/vitals';
import { useApi, usePageTitle } from '../hooks';
import { useLiveTelemetry } from '../live-telemetry';
import { Link } from '../router';
import { useCan } from '../session';
import type { AlertView, Device } from '../types';

interface Certificate {
  serial: string;
  status: string;
  notBefore: string;
  notAfter: string;
  revokedAt: string | null;
  revocationReason: string | null;
  fingerprintSha256: string;
}
interface Binding {
  id: string;
  patientId: string;
  from: string;
  until: string | null;
}

const CRL_REASONS = [
  'keyCompromise',
  'cessationOfOperation',
  'affiliationChanged',
  'superseded',
  'unspecified',
];

function Field({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </>
  );
}

type Dialog = 'quarantine' | 'release' | 'revoke' | null;

export default function DevicePage({ id }: { id: string }) {
  const heading = usePageTitle(`Device ${id}`);
  const can = useCan();
  const path = `/api/v1/devices/${encodeURIComponent(id)}`;
  const device = useApi<Device>(path, {}, 5000);
  const certs = useApi<{ items: Certificate[] }>(`${path}/certificates`, {}, 10_000);
  const bindings = useApi<{ items: Binding[] }>(can('patients:read') ? `${path}/bindings` : null);
  const alerts = useApi<{ items: AlertView[] }>(
    can('alerts:read') ? '/api/v1/alerts' : null,
    { deviceId: id, limit: 20 },
    5000,
  );
  const live = useLiveTelemetry([id], can('telemetry:read'));
  const [dialog, setDialog] = useState<Dialog>(null);
  const [revokeReason, setRevokeReason] = useState('keyCompromise');
  const [message, setMessage] = useState<string | null>(null);
  const [token, setToken] = useState<{ token: string; expiresAt?: string } | null>(null);

  const act = async (run: () => Promise<unknown>, done: string) => {
    try {
      await run();
      setMessage(done);
      device.reload();
      certs.reload();
    } catch (error) {
      if (error instanceof ApiError && error.unavailable)
        throw new Error('This action is not available on this server yet.');
      throw error;
    }
  };

  if (device.error && !device.data) return <LoadError error={device.error} what="The device" />;
  const d = device.data;
  if (!d) return <Loading />;
  const current = certs.data?.items.find((c) => c.status === 'valid');
  const binding = bindings.data?.items.find((b) => b.until === null || Date.parse(b.until) > Date.now());

  return (
    <>
      <div className="page-head">
        <h1 ref={heading} tabIndex={-1}>
          {d.id} <Badge value={d.lifecycle} />
        </h1>
        <div className="actions">
          {can('devices:quarantine') && d.lifecycle !== 'quarantined' && d.lifecycle !== 'retired' && (
            <button type="button" className="danger" onClick={() => setDialog('quarantine')}>
              Quarantine…
            </button>
          )}
          {can('devices:write') && d.lifecycle === 'quarantined' && (
            <button type="button" onClick={() => setDialog('release')}>
              Release…
            </button>
          )}
          {can('devices:revoke') && current && (
            <button type="button" className="danger" onClick={() => setDialog('revoke')}>
              Revoke certificate…
            </button>
          )}
        </div>
      </div>
      {message && (
        <p className="notice ok" role="status" data-testid="action-result">
          {message}
        </p>
      )}
      {token && (
        <OneTimeToken
          deviceId={d.id}
          token={token.token}
          {...(token.expiresAt ? { expiresAt: token.expiresAt } : {})}
        />
      )}

      <div className="grid2">
        <section className="panel" aria-labelledby="identity">
          <h2 id="identity">Identity</h2>
          <dl>
            <Field label="Type">{d.type}</Field>
            <Field label="Vendor / model">
              {d.vendor} {d.model}
            </Field>
            <Field label="Serial">{d.serial ?? '—'}</Field>
            <Field label="Firmware">{d.firmwareVersion ?? '—'}</Field>
            <Field label="Owner">{d.owner ?? '—'}</Field>
            <Field label="State">
              <span data-testid="lifecycle">{d.lifecycle}</span>
            </Field>
            <Field label="Last seen">{when(d.lastSeenAt)}</Field>
          </dl>
          <h2>Location</h2>
          <dl>
            <Field label="Care unit">{d.careUnit ?? '—'}</Field>
            <Field label="Bed">{d.bed ?? '—'}</Field>
            <Field label="IP address">{d.ipAddress ?? '—'}</Field>
            <Field label="MAC address">{d.macAddress ?? '—'}</Field>
          </dl>
          {can('patients:read') && (
            <>
              <h2>Patient binding</h2>
              {bindings.error ? (
                <LoadError error={bindings.error} what="Patient bindings" />
              ) : binding ? (
                <dl>
                  <Field label="Patient">{binding.patientId}</Field>
                  <Field label="Since">{when(binding.from)}</Field>
                </dl>
              ) : (
                <p className="muted">Not bound to a patient.</p>
              )}
            </>
          )}
        </section>
        <section className="panel" aria-labelledby="certificate">
          <h2 id="certificate">Certificate</h2>
          <p>
            Status: <Badge value={d.certificateStatus} kind={`cert-${d.certificateStatus}`} />
          </p>
          {certs.error && <LoadError error={certs.error} what="Certificates" />}
          {current ? (
            <dl>
              <Field label="Serial">
                <code>{current.serial}</code>
              </Field>
              <Field label="Valid from">{when(current.notBefore)}</Field>
              <Field label="Expires">
                <span data-testid="cert-expiry">{when(current.notAfter)}</span>
              </Field>
              <Field label="SHA-256">
                <code className="wrap">{current.fingerprintSha256}</code>
              </Field>
            </dl>
          ) : (
            <p className="muted">No valid certificate.</p>
          )}
          {certs.data && certs.data.items.length > 1 && (
            <details>
              <summary>Earlier certificates ({certs.data.items.length - 1})</summary>
              <ul>
                {certs.data.items
                  .filter((c) => c !== current)
                  .map((c) => (
                    <li key={c.serial}>
                      <code>{c.serial.slice(0, 16)}</code> {c.status}
                      {c.revocationReason ? ` (${c.revocationReason})` : ''} until {when(c.notAfter)}
                    </li>
                  ))}
              </ul>
            </details>
          )}
          {can('alerts:read') && (
            <>
              <h2>Recent alerts</h2>
              {alerts.error ? (
                <LoadError error={alerts.error} what="Alerts" />
              ) : alerts.data?.items.length ? (
                <ul>
                  {alerts.data.items.map((a) => (
                    <li key={a.id}>
                      <Badge value={a.severity} />{' '}
                      <Link to={`/alerts/${encodeURIComponent(a.id)}`}>{a.title}</Link>{' '}
                      <span className="muted">{a.state}</span>
                    </li>
                  ))}
                </ul>
              ) : (
                <p className="muted">No alerts.</p>
              )}
            </>
          )}
          <h2>Recent device events</h2>
          {live.alarms.length ? (
            <ul>
              {live.alarms.slice(0, 10).map((a) => (
                <li key={`${a.seq}-${a.code}`}>
                  {when(a.time)} {a.kind} {a.code} ({a.priority})
                </li>
              ))}
            </ul>
          ) : (
            <p className="muted">No device alarms in the last hour.</p>
          )}
        </section>
      </div>

      {can('telemetry:read') && (
        <section className="panel" aria-labelledby="vitals-title">
          <h2 id="vitals-title">Vital signs, last hour (live)</h2>
          <Vitals live={live} />
        </section>
      )}

      <ReasonDialog
        open={dialog === 'quarantine'}
        title={`Quarantine ${d.id}`}
        confirm="Quarantine"
        onClose={() => setDialog(null)}
        onConfirm={(reason) =>
          act(
            () => api(`${path}/quarantine`, { method: 'POST', body: { reason } }),
            `${d.id} is quarantined.`,
          )
        }
      >
        <p>Revokes the certificate, drops the device's live session and refuses it until released.</p>
      </ReasonDialog>
      <ReasonDialog
        open={dialog === 'release'}
        title={`Release ${d.id}`}
        confirm="Release"
        onClose={() => setDialog(null)}
        onConfirm={(reason) =>
          act(async () => {
            const r = await api<{ enrollmentToken: string | { token: string; expiresAt?: string } }>(
              `${path}/release`,
              { method: 'POST', body: { reason } },
            );
            const t = r.enrollmentToken;
            setToken(typeof t === 'string' ? { token: t } : t);
          }, `${d.id} is released; it must enroll again with the token below.`)
        }
      />
      <ReasonDialog
        open={dialog === 'revoke'}
        title={`Revoke the certificate of ${d.id}`}
        confirm="Revoke"
        required={false}
        text={false}
        onClose={() => setDialog(null)}
        onConfirm={() =>
          act(
            () => api(`${path}/revoke`, { method: 'POST', body: { reason: revokeReason } }),
            'The certificate is revoked and the CRL republished.',
          )
        }
      >
        <label>
          Reason (RFC 5280)
          <select value={revokeReason} onChange={(e) => setRevokeReason(e.target.value)}>
            {CRL_REASONS.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
      </ReasonDialog>
    </>
  );
}
