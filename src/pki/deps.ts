import type { Principal } from '../access/index.js';
import type { EventBus } from '../events/index.js';
import type { InstallationLayout } from '../installation/layout.js';
import type { Database, Store, Transaction } from '../store/index.js';

/** One audit event as the PKI reports it (the audit log's input, narrowed to what we use). */
export interface PkiAuditEvent {
  actor: {
    type: 'user' | 'client' | 'device' | 'system' | 'anonymous';
    id?: string;
    name?: string;
    role?: string;
  };
  action: string;
  resource?: { type: string; id?: string };
  outcome: 'success' | 'failure' | 'denied';
  reason?: string;
  code?: string;
  source?: string;
  requestId?: string;
}

/** The narrow audit interface the PKI needs. */
export interface PkiAudit {
  append(event: PkiAuditEvent): Promise<unknown>;
}

/** What the PKI reads from the inventory about a device. */
export interface PkiDevice {
  id: string;
  lifecycle: string;
  careUnit: string | null;
}

/** The narrow inventory interface the PKI needs (throws DEVICE_NOT_FOUND for an unknown id). */
export interface PkiDevices {
  get(id: string): Promise<PkiDevice>;
}

/** The `pki` section of the configuration. */
export interface PkiConfig {
  deviceCertificateDays: number;
  enrollmentTokenTtlSeconds: number;
  crlValiditySeconds: number;
}

/** Everything `createPki` is built from. */
export interface PkiDeps {
  store: Store;
  audit: PkiAudit;
  bus: EventBus;
  devices: PkiDevices;
  config: { pki: PkiConfig };
  /** Where the CA certificates and the issuing CA key live. */
  layout: Pick<InstallationLayout, 'rootCaCert' | 'issuingCaCert' | 'issuingCaKey'>;
  /** Clock (Unix ms); tests inject one to expire tokens and certificates. */
  now?: () => number;
  /**
   * Runs inside the transaction that first enrolls a device (registered -> enrolled): telemetry
   * restarts the device's sequence numbers there, before the certificate can be used.
   */
  onFreshEnrollment?: (trx: Transaction<Database>, deviceId: string) => Promise<void>;
}

/** Where a request came from, for the audit entry. */
export interface RequestContext {
  source?: string;
  requestId?: string;
}

/** The audit actor for an operator. */
export function actorOf(p: Principal | undefined): PkiAuditEvent['actor'] {
  return p ? { type: p.kind, id: p.id, name: p.name, role: p.role } : { type: 'system', name: 'pulsegate' };
}
