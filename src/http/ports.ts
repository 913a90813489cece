import type { Principal } from '../access/principal.js';
import type { Permission } from '../access/roles.js';

/** What the HTTP layer needs from access control (implemented by the access capability). */
export interface HttpAuth {
  authenticate(authorization: string | undefined, ctx: { source?: string }): Promise<Principal>;
  authorize(principal: Principal, permission: Permission): void;
}

/** An audit event as the HTTP layer records it (implemented by the audit capability). */
export interface HttpAuditEvent {
  actor: { type: 'user' | 'client' | 'anonymous'; id?: string; name?: string; role?: string };
  action: string;
  resource?: { type: string; id?: string };
  outcome: 'success' | 'failure' | 'denied';
  reason?: string;
  code?: string;
  source?: string;
  breakGlass?: boolean;
  requestId?: string;
}

export interface HttpAudit {
  append(event: HttpAuditEvent): Promise<unknown>;
}
