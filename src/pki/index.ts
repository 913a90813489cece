/** The pki capability's public API: CA bootstrap, EST enrollment, revocation, CRL, device identity. */

export type { CertificateAuthority } from './certificate-authority.js';
export { type CertificateView, toCertificateView } from './certificate-rows.js';
export { watchStoreChanges } from './change-watch.js';
export type {
  PkiAudit,
  PkiAuditEvent,
  PkiConfig,
  PkiDeps,
  PkiDevice,
  PkiDevices,
  RequestContext,
} from './deps.js';
export { deviceUri } from './device-certificate.js';
export { ENROLLMENT_TOKEN_PREFIX } from './enrollment-token.js';
export type { CreatedEnrollmentToken } from './enrollment-tokens.js';
export { createPkiHierarchy, type IssuedPem, newSerial, type PkiBootstrap } from './hierarchy.js';
export type { IssuedCertificate } from './issuance.js';
export { importPrivateKeyPem, privateKeyToPem } from './pem.js';
export { createPki, type Pki } from './pki-service.js';
export type { RevocationResult, RevocationTarget } from './revocation.js';
export { REVOCATION_REASONS, type RevocationReason } from './revocation-reason.js';
export { type PkiRouteAccess, type PkiRoutesDeps, pkiRoutes } from './routes.js';
