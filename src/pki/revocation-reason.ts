import { x509 } from './x509-setup.js';

/** The CRLReason names (RFC 5280 §5.3.1) an operator may give when revoking a device certificate. */
export const REVOCATION_REASONS = [
  'unspecified',
  'keyCompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
] as const;

export type RevocationReason = (typeof REVOCATION_REASONS)[number];

/** The CRL entry reason code for a reason name. */
export function crlReasonCode(reason: string): x509.X509CrlReason {
  const code = x509.X509CrlReason[reason as keyof typeof x509.X509CrlReason];
  return code ?? x509.X509CrlReason.unspecified;
}

/** Narrows text to a reason name. */
export function isRevocationReason(text: string): text is RevocationReason {
  return (REVOCATION_REASONS as readonly string[]).includes(text);
}
