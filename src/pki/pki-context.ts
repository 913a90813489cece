import type { Principal } from '../access/index.js';
import type { PulsegateError } from '../errors.js';
import type { EventBus } from '../events/index.js';
import type { Database, Kysely } from '../store/index.js';
import type { CertificateAuthority } from './certificate-authority.js';
import type { PkiAudit, PkiAuditEvent, PkiConfig, PkiDeps, PkiDevices, RequestContext } from './deps.js';
import type { IdentityCache } from './identity-cache.js';

/** What the parts of the PKI service share (built once by `createPki`). */
export interface PkiContext {
  db: Kysely<Database>;
  audit: PkiAudit;
  bus: EventBus;
  devices: PkiDevices;
  config: PkiConfig;
  ca: CertificateAuthority;
  now: () => number;
  identities: IdentityCache;
  /** Marks the cached CRL stale (a certificate was revoked or superseded). */
  crlChanged(): void;
  /** See PkiDeps.onFreshEnrollment. */
  onFreshEnrollment?: PkiDeps['onFreshEnrollment'];
}

/** Lifecycles in which a device may neither enroll nor connect. */
export const BLOCKED_LIFECYCLES: ReadonlySet<string> = new Set(['quarantined', 'retired']);

/** Appends a refusal to the audit log and returns the error to throw. */
export async function auditRefusal(
  ctx: PkiContext,
  event: Omit<PkiAuditEvent, 'outcome' | 'code'>,
  error: PulsegateError,
  request: RequestContext = {},
): Promise<PulsegateError> {
  await ctx.audit.append({
    ...event,
    outcome: 'denied',
    code: error.code,
    ...(request.source ? { source: request.source } : {}),
    ...(request.requestId ? { requestId: request.requestId } : {}),
  });
  return error;
}

/** The request's source and id as audit fields. */
export function requestFields(request: RequestContext = {}): Pick<PkiAuditEvent, 'source' | 'requestId'> {
  return {
    ...(request.source ? { source: request.source } : {}),
    ...(request.requestId ? { requestId: request.requestId } : {}),
  };
}

export type { Principal };
