/** TypeBox schemas for the access routes: requests are strict, responses strip undeclared fields. */
import { Type } from '@sinclair/typebox';
import { API_TOKEN_TTL } from './api-token-admin.js';
import { ROLES } from './roles.js';

const closed = { additionalProperties: false } as const;
const Label = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$' });
const Millis = Type.Integer({ minimum: 0, description: 'Unix milliseconds' });

/** One of our roles. */
export const RoleSchema = Type.Union(ROLES.map((r) => Type.Literal(r)));

/** A public JWK (RFC 7517 §4, RFC 7518 §6): private members are not part of the schema. */
export const JwkSchema = Type.Object(
  {
    kty: Type.String({ maxLength: 8 }),
    kid: Type.Optional(Type.String({ maxLength: 256 })),
    alg: Type.Optional(Type.String({ maxLength: 16 })),
    use: Type.Optional(Type.String({ maxLength: 8 })),
    key_ops: Type.Optional(Type.Array(Type.String({ maxLength: 32 }), { maxItems: 8 })),
    crv: Type.Optional(Type.String({ maxLength: 16 })),
    x: Type.Optional(Type.String({ maxLength: 1024 })),
    y: Type.Optional(Type.String({ maxLength: 1024 })),
    n: Type.Optional(Type.String({ maxLength: 2048 })),
    e: Type.Optional(Type.String({ maxLength: 16 })),
  },
  closed,
);

/** A JWK Set. */
export const JwksSchema = Type.Object({ keys: Type.Array(JwkSchema, { maxItems: 16 }) }, closed);

/** RFC 6749 §5.1 token response (login has no `scope`). */
export const LoginResponse = Type.Object(
  { access_token: Type.String(), token_type: Type.Literal('Bearer'), expires_in: Type.Integer() },
  closed,
);

/** RFC 6749 §5.1 token response from the token endpoint. */
export const TokenResponse = Type.Object(
  {
    access_token: Type.String(),
    token_type: Type.Literal('Bearer'),
    expires_in: Type.Integer(),
    scope: Type.String(),
  },
  closed,
);

/** RFC 6749 §5.2 error response. */
export const OAuthErrorResponse = Type.Object(
  { error: Type.String(), error_description: Type.String() },
  closed,
);

/** Password login. */
export const LoginBody = Type.Object(
  {
    username: Type.String({ maxLength: 64 }),
    password: Type.String({ maxLength: 4096 }),
    scope: Type.Optional(
      Type.String({
        maxLength: 2048,
        description: 'user/ SMART scopes (space-separated) to narrow the session to; none: the role alone',
      }),
    ),
  },
  closed,
);

/**
 * The token form. Unknown parameters are allowed because RFC 6749 §3.1 says the server
 * "MUST ignore unrecognized request parameters"; they are never read.
 */
export const TokenForm = Type.Object(
  {
    grant_type: Type.Optional(Type.String({ maxLength: 64 })),
    client_assertion_type: Type.Optional(Type.String({ maxLength: 128 })),
    client_assertion: Type.Optional(Type.String({ maxLength: 16_384 })),
    client_id: Type.Optional(Type.String({ maxLength: 128 })),
    scope: Type.Optional(Type.String({ maxLength: 4096 })),
  },
  { additionalProperties: Type.String({ maxLength: 4096 }) },
);

/** A user as the API returns it. */
export const UserSchema = Type.Object(
  {
    id: Type.String(),
    username: Type.String(),
    role: RoleSchema,
    careUnits: Type.Array(Type.String()),
    vendorDevices: Type.Array(Type.String()),
    accessNotBefore: Type.Union([Millis, Type.Null()]),
    accessNotAfter: Type.Union([Millis, Type.Null()]),
    disabled: Type.Boolean(),
    locked: Type.Boolean(),
    createdAt: Millis,
    updatedAt: Millis,
  },
  closed,
);

/** Creating a user. */
export const NewUserBody = Type.Object(
  {
    username: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{1,62}$' }),
    password: Type.String({ maxLength: 1024 }),
    role: RoleSchema,
    careUnits: Type.Optional(Type.Array(Label, { maxItems: 256, uniqueItems: true })),
    vendorDevices: Type.Optional(Type.Array(Label, { maxItems: 256, uniqueItems: true })),
    accessNotBefore: Type.Optional(Millis),
    accessNotAfter: Type.Optional(Millis),
  },
  closed,
);

/** A service client as the API returns it. */
export const ClientSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    role: RoleSchema,
    scopes: Type.Array(Type.String()),
    careUnits: Type.Array(Type.String()),
    jwks: JwksSchema,
    disabled: Type.Boolean(),
    createdAt: Millis,
  },
  closed,
);

/** Registering a service client. */
export const NewClientBody = Type.Object(
  {
    id: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$' })),
    name: Type.String({ minLength: 1, maxLength: 128 }),
    role: RoleSchema,
    scopes: Type.Array(Type.String({ maxLength: 128 }), { minItems: 1, maxItems: 64 }),
    jwks: JwksSchema,
    careUnits: Type.Optional(Type.Array(Label, { maxItems: 256, uniqueItems: true })),
  },
  closed,
);

/** Creating an API token (for oneself unless admin). */
export const NewApiTokenBody = Type.Object(
  {
    username: Type.Optional(Type.String({ maxLength: 64 })),
    name: Type.String({ minLength: 1, maxLength: 128 }),
    ttlSeconds: Type.Optional(
      Type.Integer({
        minimum: API_TOKEN_TTL.minSeconds,
        maximum: API_TOKEN_TTL.maxSeconds,
        description: `Lifetime in seconds, ${API_TOKEN_TTL.minSeconds} to ${API_TOKEN_TTL.maxSeconds} (365 days); default ${API_TOKEN_TTL.defaultSeconds} (30 days). Every token expires.`,
      }),
    ),
  },
  closed,
);

/** A created API token: shown once. */
export const CreatedApiTokenSchema = Type.Object(
  {
    id: Type.String(),
    token: Type.String({ description: 'The bearer secret; shown only in this response' }),
    expiresAt: Type.Integer({ minimum: 0, description: 'When the token stops working (Unix milliseconds)' }),
  },
  closed,
);

/** Starting break-glass (the reason is checked by the service so that its absence has its own code). */
export const BreakGlassBody = Type.Object(
  {
    reason: Type.Optional(Type.String({ maxLength: 1000 })),
    minutes: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  closed,
);

/** A started break-glass session. */
export const BreakGlassResponse = Type.Object(
  {
    id: Type.String(),
    expiresAt: Millis,
    access_token: Type.String(),
    token_type: Type.Literal('Bearer'),
    expires_in: Type.Integer(),
  },
  closed,
);

/** The caller, as `GET /api/v1/me` shows it. */
export const MeSchema = Type.Object(
  {
    kind: Type.Union([Type.Literal('user'), Type.Literal('client')]),
    id: Type.String(),
    name: Type.String(),
    role: RoleSchema,
    careUnits: Type.Array(Type.String()),
    vendorDevices: Type.Array(Type.String()),
    scopes: Type.Array(Type.String()),
    permissions: Type.Array(Type.String()),
    breakGlass: Type.Optional(Type.Object({ id: Type.String(), expiresAt: Millis }, closed)),
  },
  closed,
);

/** `:username` path parameter. */
export const UsernameParams = Type.Object({ username: Type.String({ maxLength: 64 }) }, closed);
/** `:id` path parameter. */
export const IdParams = Type.Object({ id: Type.String({ maxLength: 128 }) }, closed);

export const BreakGlassQuery = Type.Object(
  {
    since: Type.Optional(Type.String({ format: 'date-time', maxLength: 40 })),
    until: Type.Optional(Type.String({ format: 'date-time', maxLength: 40 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  closed,
);

export const BreakGlassList = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        {
          id: Type.String(),
          userId: Type.String(),
          username: Type.Union([Type.String(), Type.Null()]),
          startedAt: Type.String({ format: 'date-time' }),
          expiresAt: Type.String({ format: 'date-time' }),
          reason: Type.String(),
        },
        closed,
      ),
    ),
  },
  closed,
);
