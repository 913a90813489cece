import type { Role } from './roles.js';

/** Who is making a request, after authentication. Never holds the token itself. */
export interface Principal {
  readonly kind: 'user' | 'client';
  /** User id or client id. */
  readonly id: string;
  /** Username or client name: a workforce identifier, safe to log and audit. */
  readonly name: string;
  readonly role: Role;
  /** Care units a clinician may see; ignored for roles that are not care-unit limited. */
  readonly careUnits: readonly string[];
  /** Devices a vendor account may touch; ignored for other roles. */
  readonly vendorDevices: readonly string[];
  /** SMART scopes granted to this token (empty for plain user sessions: role permissions apply). */
  readonly scopes: readonly string[];
  /** Set while a break-glass session is active; every access under it is flagged in the audit log. */
  readonly breakGlass?: { readonly id: string; readonly expiresAt: number };
  /** Identifier of the credential used (JWT `jti` or API-token id), never the secret. */
  readonly credentialId?: string;
  /** Set when the credential is an API token (automation), not a signed-in session. */
  readonly apiToken?: boolean;
  /** Start of a vendor account's access window (Unix ms); absent when unbounded. */
  readonly accessNotBefore?: number;
  /** End of a vendor account's access window (Unix ms); absent when unbounded. */
  readonly accessNotAfter?: number;
}

/** What a resource check needs to know about the thing being touched. */
export interface ResourceScope {
  readonly careUnit?: string | null;
  readonly deviceId?: string;
}
