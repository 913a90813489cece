import type { KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import type { Store } from '../store/index.js';
import type { ScryptParams } from './password.js';
import type { Principal } from './principal.js';

/** A public JSON Web Key as published in a JWKS (RFC 7517). */
export type JsonWebKey = JWK;

/** A public key as we publish or store it: only the public members (RFC 7518 §6). */
export interface PublicJwk {
  kty: string;
  kid?: string;
  alg?: string;
  use?: string;
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

/** The current token-signing key, as the keys capability hands it out. */
export interface SigningKey {
  readonly kid: string;
  /** Must be `ES256` for the `jwt` use; checked before signing. */
  readonly alg: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicJwk: JsonWebKey;
}

/** The narrow slice of the keys capability that access needs. */
export interface AccessKeys {
  signingKey(purpose: 'jwt'): Promise<SigningKey>;
  /** All current and retired public keys, each with kid/alg/use. */
  verificationKeys(purpose: 'jwt'): Promise<JsonWebKey[]>;
  /** Envelope encryption for free text that may hold PHI (break-glass reasons). */
  encrypt(
    scope: { purpose: string; subject: string; period: string },
    plaintext: Uint8Array,
    aad: Uint8Array,
  ): Promise<Buffer>;
  decryptMany(items: ReadonlyArray<{ sealed: Uint8Array; aad: Uint8Array }>): Promise<Buffer[]>;
}

/** Who did something, as the audit log records it. Never a secret. */
export interface AuditActor {
  type: 'user' | 'client' | 'device' | 'system' | 'anonymous';
  id?: string;
  name?: string;
  role?: string;
}

/** One audit event, in the shape the audit capability's `append` accepts. */
export interface AccessAuditEvent {
  actor: AuditActor;
  action: string;
  resource?: { type: string; id?: string };
  outcome: 'success' | 'failure' | 'denied';
  reason?: string;
  code?: string;
  source?: string;
  breakGlass?: boolean;
  requestId?: string;
}

/** The narrow slice of the audit capability that access needs. */
export interface AuditSink {
  append(event: AccessAuditEvent): Promise<unknown>;
}

/** The `auth` settings, plus the issuer/audience derived from the public URL. */
export interface AccessConfig {
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
  maxFailedLogins: number;
  lockoutSeconds: number;
  breakGlassMaxMinutes: number;
}

/** Everything `createAccessService` is built from. */
export interface AccessDeps {
  store: Store;
  keys: AccessKeys;
  audit: AuditSink;
  config: AccessConfig;
  /** Clock in Unix milliseconds; injected by tests. */
  now?: () => number;
  /** scrypt cost for new hashes. Production keeps the default (N=16384); tests lower it. */
  passwordHashing?: Partial<ScryptParams>;
}

/** Dependencies after defaults are applied, shared by the parts of the service. */
export interface AccessContext {
  readonly store: Store;
  readonly keys: AccessKeys;
  readonly audit: AuditSink;
  readonly config: AccessConfig;
  readonly now: () => number;
  readonly hashing: ScryptParams;
}

/** The audit actor for a principal, or the system when an operator acts from the CLI. */
export function actorOf(principal: Principal | undefined): AuditActor {
  if (!principal) return { type: 'system' };
  return { type: principal.kind, id: principal.id, name: principal.name, role: principal.role };
}
