import { useState } from 'react';
import { Badge, LoadError, Loading, when } from '../components/status';
import { useApi, useDebounced, usePageTitle } from '../hooks';
import { Link } from '../router';
import { useCan } from '../session';
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
const LIFECYCLES = ['registered', 'enrolled', 'active', 'quarantined', 'retired'];
const CERT = ['none', 'valid', 'expired', 'revoked'];
const PAGE = 50;

const COLUMNS: Array<{ key: string; label: string }> = [
  { key: 'id', label: 'Device' },
  { key: 'type', label: 'Type' },
  { key: 'model', label: 'Model' },
  { key: 'firmwareVersion', label: 'Firmware' },
  { key: 'careUnit', label: 'Care unit' },
  { key: 'bed', label: 'Bed' },
  { key: 'lifecycle', label: 'State' },
  { key: 'certificateStatus', label: 'Certificate' },
  { key: 'lastSeenAt', label: 'Last seen' },
];

/**
 * The inventory: filtering, search, sorting and paging all happen in the database (the API's
 * list query), so the page holds 50 rows however large the fleet is.
 */
export default function Inventory() {
  const heading = usePageTitle('Devices');
  const can = useCan();
  const initialType = new URLSearchParams(location.search).get('type') ?? '';
  const [type, setType] = useState(TYPES.includes(initialType) ? initialType : '');
  const [lifecycle, setLifecycle] = useState('');
  const [certificateStatus, setCert] = useState('');
  const [search, setSearch] = useState('');
  const [sort, setSort] = useState('id');
  const [offset, setOffset] = useState(0);
  const q = useDebounced(search.trim(), 250);
  const list = useApi<{ items: Device[]; total: number }>(
    '/api/v1/devices',
    { type, lifecycle, certificateStatus, q, sort, limit: PAGE, offset },
    10_000,
  );

  const filter = (set: (v: string) => void) => (v: string) => {
    set(v);
    setOffset(0);
  };
  const toggleSort = (key: string) => {
    setSort(sort === key ? `-${key}` : key);
    setOffset(0);
  };
  const total = list.data?.total ?? 0;

  return (
    <>
      <div className="page-head">
        <h1 ref={heading} tabIndex={-1}>
          Devices
        </h1>
        {can('devices:write') && (
          <Link className="button primary" to="/devices/new">
            Add device
          </Link>
        )}
      </div>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter devices">
        <label>
          Search
          <input
            type="search"
            name="q"
            value={search}
            maxLength={100}
            placeholder="id, model, serial, unit, bed"
            onChange={(e) => filter(setSearch)(e.target.value)}
          />
        </label>
        <label>
          Type
          <select name="type" value={type} onChange={(e) => filter(setType)(e.target.value)}>
            <option value="">all</option>
            {TYPES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <label>
          State
          <select name="lifecycle" value={lifecycle} onChange={(e) => filter(setLifecycle)(e.target.value)}>
            <option value="">all</option>
            {LIFECYCLES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <label>
          Certificate
          <select
            name="certificateStatus"
            value={certificateStatus}
            onChange={(e) => filter(setCert)(e.target.value)}
          >
            <option value="">all</option>
            {CERT.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
      </form>
      {list.error && <LoadError error={list.error} what="The device list" />}
      {!list.data && !list.error && <Loading />}
      {list.data && (
        <>
          <p className="muted" aria-live="polite" data-testid="device-count">
            {total === 0
              ? 'No devices match.'
              : `${offset + 1}–${Math.min(offset + PAGE, total)} of ${total.toLocaleString()} devices`}
          </p>
          <div className="scroll">
            <table className="devices">
              <thead>
                <tr>
                  {COLUMNS.map((c) => {
                    const dir = sort === c.key ? 'ascending' : sort === `-${c.key}` ? 'descending' : 'none';
                    return (
                      <th key={c.key} scope="col" aria-sort={dir}>
                        <button type="button" className="sort" onClick={() => toggleSort(c.key)}>
                          {c.label}
                          <span aria-hidden="true">
                            {dir === 'ascending' ? ' ▲' : dir === 'descending' ? ' ▼' : ''}
                          </span>
                        </button>
                      </th>
                    );
                  })}
                </tr>
              </thead>
              <tbody>
                {list.data.items.map((d) => (
                  <tr key={d.id}>
                    <th scope="row">
                      <Link to={`/devices/${encodeURIComponent(d.id)}`}>{d.id}</Link>
                    </th>
                    <td>{d.type}</td>
                    <td>
                      {d.vendor} {d.model}
                    </td>
                    <td>{d.firmwareVersion ?? '—'}</td>
                    <td>{d.careUnit ?? '—'}</td>
                    <td>{d.bed ?? '—'}</td>
                    <td>
                      <Badge value={d.lifecycle} />
                    </td>
                    <td>
                      <Badge value={d.certificateStatus} kind={`cert-${d.certificateStatus}`} />
                    </td>
                    <td>{when(d.lastSeenAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav className="pager" aria-label="Pages">
            <button
              type="button"
              disabled={offset === 0}
              onClick={() => setOffset(Math.max(0, offset - PAGE))}
            >
              Previous
            </button>
            <button type="button" disabled={offset + PAGE >= total} onClick={() => setOffset(offset + PAGE)}>
              Next
            </button>
          </nav>
        </>
      )}
    </>
  );
}
