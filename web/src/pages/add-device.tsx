import { type FormEvent, useState } from 'react';
import { api } from '../api';
import { OneTimeToken } from '../components/one-time-token';
import { usePageTitle } from '../hooks';
import { Link } from '../router';
import type { Device } from '../types';

const TYPES = [
  'patient-monitor',
  'infusion-pump',
  'ecg-patch',
  'pulse-oximeter',
  'ventilator',
  'digital-stethoscope',
  'glucose-meter',
  'other',
];

const FIELDS: Array<{ name: string; label: string; required?: boolean; pattern?: string; hint?: string }> = [
  {
    name: 'id',
    label: 'Device id',
    required: true,
    pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]{2,63}',
    hint: 'letters, digits, . _ - (3–64); becomes the certificate CN',
  },
  { name: 'vendor', label: 'Vendor', required: true },
  { name: 'model', label: 'Model', required: true },
  { name: 'serial', label: 'Serial number' },
  { name: 'firmwareVersion', label: 'Firmware version' },
  { name: 'careUnit', label: 'Care unit' },
  { name: 'bed', label: 'Bed' },
  { name: 'owner', label: 'Owner' },
];

/** Registers a device and shows its one-time enrollment token once (text and QR code). */
export default function AddDevice() {
  const heading = usePageTitle('Add device');
  const [values, setValues] = useState<Record<string, string>>({ type: 'patient-monitor' });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<{ id: string; token: string; expiresAt: string } | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = Object.fromEntries(Object.entries(values).filter(([, v]) => v.trim() !== ''));
      const device = await api<Device>('/api/v1/devices', { method: 'POST', body });
      const token = await api<{ token: string; expiresAt: string }>(
        `/api/v1/devices/${encodeURIComponent(device.id)}/enrollment-tokens`,
        { method: 'POST' },
      );
      setCreated({ id: device.id, token: token.token, expiresAt: token.expiresAt });
      setValues({ type: 'patient-monitor' });
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <h1 ref={heading} tabIndex={-1}>
        Add device
      </h1>
      {created ? (
        <>
          <OneTimeToken deviceId={created.id} token={created.token} expiresAt={created.expiresAt} />
          <p>
            <Link to={`/devices/${encodeURIComponent(created.id)}`}>Open {created.id}</Link> ·{' '}
            <button type="button" onClick={() => setCreated(null)}>
              Add another device
            </button>
          </p>
        </>
      ) : (
        <form className="panel form" onSubmit={submit}>
          <label>
            Type
            <select value={values.type} onChange={(e) => setValues({ ...values, type: e.target.value })}>
              {TYPES.map((t) => (
                <option key={t}>{t}</option>
              ))}
            </select>
          </label>
          {FIELDS.map((f) => (
            <label key={f.name}>
              {f.label}
              {f.required ? ' (required)' : ''}
              <input
                name={f.name}
                value={values[f.name] ?? ''}
                required={f.required}
                pattern={f.pattern}
                maxLength={100}
                onChange={(e) => setValues({ ...values, [f.name]: e.target.value })}
              />
              {f.hint && <span className="hint">{f.hint}</span>}
            </label>
          ))}
          {error && (
            <p className="notice error" role="alert">
              {error}
            </p>
          )}
          <button type="submit" className="primary" disabled={busy}>
            Register and create enrollment token
          </button>
        </form>
      )}
    </>
  );
}
