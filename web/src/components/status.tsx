import { ApiError } from '../api';

/** The state of a section whose data did not load: not installed (404 route), denied, or failed. */
export function LoadError({ error, what }: { error: Error; what: string }) {
  if (error instanceof ApiError && error.unavailable)
    return (
      <p className="notice" data-state="unavailable">
        Not available on this server yet: {what.toLowerCase()}.
      </p>
    );
  if (error instanceof ApiError && error.status === 403)
    return <p className="notice">Your role may not see {what.toLowerCase()}.</p>;
  return (
    <p className="notice error" role="alert">
      Could not load {what.toLowerCase()}: {error.message}
    </p>
  );
}

export function Loading() {
  return (
    <p className="muted" aria-live="polite">
      Loading…
    </p>
  );
}

export function Badge({ value, kind }: { value: string; kind?: string }) {
  return <span className={`badge badge-${kind ?? value}`}>{value}</span>;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}
