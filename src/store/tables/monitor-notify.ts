/**
 * The notification outbox (monitor/notify). Times are Unix milliseconds.
 *
 * One row is one notification for one target (a webhook endpoint or a syslog/CEF receiver). It is
 * written before any delivery is tried, so nothing is lost across restarts; it stays until a
 * delivery succeeds (`delivered`) or the attempts run out (`dead`, the dead-letter list, from which
 * an operator can replay it). Payloads hold alert ids, rules, severities and device ids only: never
 * patient identifiers or values.
 */
export interface NotifyOutboxTable {
  /** Message id (also the Standard Webhooks `webhook-id`): stable across retries. */
  id: string;
  /** Configured target name. */
  target: string;
  /** 'webhook' | 'syslog'. */
  kind: string;
  /** The notification body (JSON text). */
  payload: string;
  /** 'pending' | 'delivered' | 'dead'. */
  state: string;
  attempts: number;
  /** When the next attempt may start. */
  next_attempt_at: number;
  /** A node holding the row for an attempt until then (several nodes share one database). */
  lease_until: number;
  /** Why the last attempt failed: a short, safe reason (status code, error code); never a secret. */
  last_error: string | null;
  created_at: number;
  updated_at: number;
}
