import type { Principal } from '../access/index.js';
import type { DeviceIdentity, DeviceIdentityVerifier, PeerCertificate } from '../ingest/ports.js';
import { loadCertificateAuthority } from './certificate-authority.js';
import { markExpiredCertificates } from './certificate-expiry.js';
import { type CertificateView, listDeviceCertificates } from './certificate-rows.js';
import { certsOnlyBase64 } from './certs-only.js';
import type { PkiDeps, RequestContext } from './deps.js';
import { type CreatedEnrollmentToken, createEnrollmentToken } from './enrollment-tokens.js';
import { createIdentify } from './identify.js';
import { IdentityCache } from './identity-cache.js';
import { createIssuance, type IssuedCertificate } from './issuance.js';
import type { PkiContext } from './pki-context.js';
import { createRevocation, type RevocationResult, type RevocationTarget } from './revocation.js';
import { issueServiceCertificate, type ServiceCertificate, type ServiceName } from './service-certificate.js';

// Bounded staleness for decisions another node made (this node's own changes apply at once).
const IDENTITY_TTL_MS = 30_000;
const IDENTITY_MAX_ENTRIES = 50_000;

/** The device PKI: enrollment tokens, EST issuance, revocation, CRL, CA certificates, identity. */
export interface Pki extends DeviceIdentityVerifier {
  createEnrollmentToken(
    deviceId: string,
    actor?: Principal,
    request?: RequestContext,
  ): Promise<CreatedEnrollmentToken>;
  enroll(
    bearerToken: string | undefined,
    csrDer: Uint8Array,
    request?: RequestContext,
  ): Promise<IssuedCertificate>;
  reenroll(
    peerCertDer: Uint8Array | undefined,
    csrDer: Uint8Array,
    request?: RequestContext,
  ): Promise<IssuedCertificate>;
  revoke(
    target: RevocationTarget,
    reason: string,
    actor?: Principal,
    request?: RequestContext,
  ): Promise<RevocationResult>;
  /** The current CRL (DER), signed by the issuing CA. */
  crlDer(): Promise<Buffer>;
  /** The issuing and root CA certificates as a base64 certs-only CMS (EST `/cacerts`). */
  cacertsPkcs7(): string;
  listCertificates(deviceId: string): Promise<CertificateView[]>;
  identify(peer: PeerCertificate): Promise<DeviceIdentity>;
  /** Issues and records one of Pulsegate's own client certificates (see service-certificate.ts). */
  issueServiceCertificate(name: ServiceName, days: number, actor?: Principal): Promise<ServiceCertificate>;
  /** Marks devices whose certificates have all expired by `now` (default: now); returns their ids. */
  markExpired(now?: number): Promise<string[]>;
  /** Stops listening on the event bus. */
  close(): void;
}

/** Builds the PKI from the installation's CA files, the store and the event bus. */
export async function createPki(deps: PkiDeps): Promise<Pki> {
  const ca = await loadCertificateAuthority(deps.layout);
  const identities = new IdentityCache({ ttlMs: IDENTITY_TTL_MS, maxEntries: IDENTITY_MAX_ENTRIES });
  const ctx: PkiContext = {
    db: deps.store.db,
    audit: deps.audit,
    bus: deps.bus,
    devices: deps.devices,
    config: deps.config.pki,
    ca,
    now: deps.now ?? Date.now,
    identities,
    crlChanged: () => revocation.crlChanged(),
    ...(deps.onFreshEnrollment ? { onFreshEnrollment: deps.onFreshEnrollment } : {}),
  };
  const revocation = createRevocation(ctx);
  const issuance = createIssuance(ctx);
  const verifier = createIdentify(ctx);
  const cacerts = certsOnlyBase64([ca.issuing, ca.root]);
  // Revocations (ours or reported by another part of the process) and device changes such as
  // quarantine must reach the next connection at once, not after the cache entry ages out.
  const unsubscribe = [
    deps.bus.on('certificate.revoked', ({ serial }) => identities.delete(serial)),
    deps.bus.on('device.changed', ({ deviceId }) => identities.deleteDevice(deviceId)),
  ];

  return {
    createEnrollmentToken: (deviceId, actor, request) => createEnrollmentToken(ctx, deviceId, actor, request),
    enroll: issuance.enroll,
    reenroll: issuance.reenroll,
    revoke: revocation.revoke,
    crlDer: revocation.crlDer,
    cacertsPkcs7: () => cacerts,
    listCertificates: (deviceId) => listDeviceCertificates(ctx.db, deviceId),
    identify: verifier.identify,
    markExpired: (now) => markExpiredCertificates(ctx, now ?? ctx.now()),
    issueServiceCertificate: (name, days, actor) => issueServiceCertificate(ctx, name, days, actor),
    close() {
      for (const off of unsubscribe) off();
    },
  };
}
