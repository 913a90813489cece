import { createAccessTokens, publicJwk } from './access-tokens.js';
import { type ApiTokenView, type CreatedApiToken, createApiTokenAdmin } from './api-token-admin.js';
import { createAuthenticator } from './authenticate.js';
import {
  type BreakGlassResult,
  type BreakGlassSession,
  createBreakGlass,
  createBreakGlassReview,
  sealLegacyBreakGlassReasons,
} from './break-glass.js';
import { type ClientRegistry, createClientRegistry } from './clients.js';
import type { AccessContext, AccessDeps, PublicJwk } from './deps.js';
import { createLogin, type LoginResult } from './login.js';
import { createTokenEndpoint, type TokenResult } from './oauth-token.js';
import { DEFAULT_SCRYPT } from './password.js';
import { authorize, checkResource } from './policy.js';
import type { Principal, ResourceScope } from './principal.js';
import type { Permission } from './roles.js';
import { createUserDirectory, type UserDirectory } from './users.js';

/** Users, service clients, tokens, SMART backend services, authorisation and break-glass. */
export interface AccessService {
  readonly users: UserDirectory;
  readonly clients: ClientRegistry;
  /** The token endpoint URL (`<issuer>/oauth/token`): the `aud` client assertions must carry. */
  readonly tokenUrl: string;
  /** Creates an opaque `pgt_` token for a user; only its SHA-256 is stored. */
  createApiToken(
    input: { username: string; name: string; ttlSeconds?: number },
    actor?: Principal,
  ): Promise<CreatedApiToken>;
  /** Lists a user's API tokens (never the secrets). */
  listApiTokens(username: string, actor?: Principal): Promise<ApiTokenView[]>;
  /** Revokes an API token; later use fails with AUTH_TOKEN_REVOKED. */
  revokeApiToken(id: string, actor?: Principal): Promise<void>;
  /** Password login; every outcome is audited. */
  login(
    input: { username: string; password: string; scope?: string },
    ctx: { source?: string },
  ): Promise<LoginResult>;
  /** OAuth 2.0 token endpoint (client_credentials + private_key_jwt). `tokenUrl` defaults to `this.tokenUrl`. */
  token(form: Record<string, string>, ctx: { source?: string; tokenUrl?: string }): Promise<TokenResult>;
  /** Turns an Authorization header into a principal, or throws an AUTH_* / ACCESS_* error. */
  authenticate(authorization: string | undefined, ctx: { source?: string }): Promise<Principal>;
  /** Throws ACCESS_DENIED unless role (and SMART scopes, if any) allow the permission. */
  authorize(principal: Principal, permission: Permission): void;
  /** Applies care-unit and vendor-device limits for one resource. */
  checkResource(principal: Principal, scope: ResourceScope): void;
  /** Starts a break-glass session and returns a token that carries it. */
  startBreakGlass(
    principal: Principal,
    input: { reason: string; minutes?: number },
    ctx: { source?: string },
  ): Promise<BreakGlassResult>;
  /** Break-glass sessions for review, reasons decrypted, newest first; audited as break-glass.review. */
  listBreakGlass(
    q: { since?: number; until?: number; limit?: number },
    actor: Principal,
    requestId?: string,
  ): Promise<BreakGlassSession[]>;
  /** Seals break-glass reasons stored in clear before migration 015; returns how many. */
  sealLegacyBreakGlassReasons(): Promise<number>;
  /** The public token-verification keys (RFC 7517 JWK Set). */
  jwks(): Promise<{ keys: PublicJwk[] }>;
}

/** Builds the access service from its dependencies (see `AccessDeps`). */
export function createAccessService(deps: AccessDeps): AccessService {
  const ctx: AccessContext = {
    store: deps.store,
    keys: deps.keys,
    audit: deps.audit,
    config: deps.config,
    now: deps.now ?? Date.now,
    hashing: { ...DEFAULT_SCRYPT, ...deps.passwordHashing },
  };
  const tokens = createAccessTokens(ctx);
  const apiTokens = createApiTokenAdmin(ctx);
  const tokenEndpoint = createTokenEndpoint(ctx, tokens);
  const tokenUrl = `${deps.config.issuer.replace(/\/+$/, '')}/oauth/token`;
  return {
    users: createUserDirectory(ctx),
    clients: createClientRegistry(ctx),
    tokenUrl,
    createApiToken: apiTokens.create,
    listApiTokens: apiTokens.list,
    revokeApiToken: apiTokens.revoke,
    login: createLogin(ctx, tokens),
    token: (form, req) => tokenEndpoint(form, { ...req, tokenUrl: req.tokenUrl ?? tokenUrl }),
    authenticate: createAuthenticator(ctx, tokens),
    authorize,
    checkResource: (principal, scope) => checkResource(principal, scope, ctx.now()),
    startBreakGlass: createBreakGlass(ctx, tokens),
    listBreakGlass: createBreakGlassReview(ctx),
    sealLegacyBreakGlassReasons: () => sealLegacyBreakGlassReasons(ctx),
    async jwks() {
      const keys = await ctx.keys.verificationKeys('jwt');
      return { keys: keys.map(publicJwk) };
    },
  };
}
