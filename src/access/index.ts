/** The access capability's public API: everything other folders may import from `access`. */

export { type AccessService, createAccessService } from './access-service.js';
export { API_TOKEN_TTL, type ApiTokenView, type CreatedApiToken } from './api-token-admin.js';
export { API_TOKEN_PREFIX } from './api-tokens.js';
export type { BreakGlassResult } from './break-glass.js';
export { CLIENT_ASSERTION_ALGORITHMS, type NewClient } from './clients.js';
export type {
  AccessAuditEvent,
  AccessConfig,
  AccessDeps,
  AccessKeys,
  AuditActor,
  AuditSink,
  JsonWebKey,
  PublicJwk,
  SigningKey,
} from './deps.js';
export type { LoginResult } from './login.js';
export type { TokenResult } from './oauth-token.js';
export { JWT_BEARER_ASSERTION } from './oauth-token.js';
export { breakGlassActive, isCareUnitLimited, readableCareUnits } from './policy.js';
export type { Principal, ResourceScope } from './principal.js';
export * from './roles.js';
export { type AccessRoutesDeps, accessRoutes } from './routes.js';
export {
  parseSmartScope,
  type SmartScope,
  scopeContextOf,
  scopePermissions,
  scopesAllow,
} from './smart-scopes.js';
export type { NewUser } from './users.js';
export type { ClientView, UserView } from './views.js';
