import { createPublicKey, randomUUID } from 'node:crypto';
import { PulsegateError } from '../errors.js';
import { type AccessContext, actorOf, type JsonWebKey, type PublicJwk } from './deps.js';
import type { Principal } from './principal.js';
import { isRole, type Role } from './roles.js';
import { parseSmartScope } from './smart-scopes.js';
import { type ClientView, clientView, FieldChecks, isLabelList } from './views.js';

/** Algorithms a client may sign its assertions with (SMART Backend Services: RS384/ES384 required). */
export const CLIENT_ASSERTION_ALGORITHMS = ['RS384', 'ES384', 'ES256', 'RS256'] as const;

/** What registering a client takes. */
export interface NewClient {
  id?: string;
  name: string;
  role: Role;
  scopes: string[];
  jwks: { keys: JsonWebKey[] };
  careUnits?: string[];
}

/** Service-client administration. */
export interface ClientRegistry {
  register(input: NewClient, actor?: Principal): Promise<ClientView>;
  list(): Promise<ClientView[]>;
  disable(id: string, actor?: Principal): Promise<void>;
}

const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** Throws CLIENT_JWKS_INVALID unless every key is a usable public RSA (≥ 2048 bit) or EC key with a kid. */
export function checkClientJwks(jwks: unknown): { keys: PublicJwk[] } {
  const keys = (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > 10)
    throw new PulsegateError('CLIENT_JWKS_INVALID');
  const kids = new Set<string>();
  const clean: PublicJwk[] = [];
  for (const key of keys as JsonWebKey[]) {
    const ok =
      typeof key === 'object' &&
      key !== null &&
      typeof key.kid === 'string' &&
      key.kid.length > 0 &&
      !kids.has(key.kid) &&
      PRIVATE_MEMBERS.every((m) => !(m in key)) &&
      (key.alg === undefined || (CLIENT_ASSERTION_ALGORITHMS as readonly string[]).includes(key.alg)) &&
      (key.use === undefined || key.use === 'sig') &&
      ((key.kty === 'EC' && (key.crv === 'P-256' || key.crv === 'P-384')) || key.kty === 'RSA');
    if (!ok) throw new PulsegateError('CLIENT_JWKS_INVALID');
    try {
      const imported = createPublicKey({ key: key as import('node:crypto').JsonWebKey, format: 'jwk' });
      const bits = imported.asymmetricKeyDetails?.modulusLength;
      if (key.kty === 'RSA' && (bits === undefined || bits < 2048)) throw new Error('short RSA key');
    } catch (cause) {
      throw new PulsegateError('CLIENT_JWKS_INVALID', undefined, { cause });
    }
    kids.add(key.kid as string);
    const { kty, crv, x, y, n, e, kid, alg, use } = key;
    clean.push(JSON.parse(JSON.stringify({ kty, crv, x, y, n, e, kid, alg, use })) as PublicJwk);
  }
  return { keys: clean };
}

function validate(input: NewClient): void {
  const f = new FieldChecks();
  f.check(
    input.id === undefined || (typeof input.id === 'string' && CLIENT_ID.test(input.id)),
    '/id',
    'invalid id',
  );
  f.check(
    typeof input.name === 'string' && input.name.length >= 1 && input.name.length <= 128,
    '/name',
    '1 to 128 chars',
  );
  f.check(typeof input.role === 'string' && isRole(input.role), '/role', 'unknown role');
  const scopes = Array.isArray(input.scopes) ? input.scopes : [];
  f.check(scopes.length > 0 && scopes.length <= 64, '/scopes', 'at least one SMART scope is required');
  scopes.forEach((s, i) => {
    f.check(
      typeof s === 'string' && parseSmartScope(s) !== undefined,
      `/scopes/${i}`,
      'not a SMART resource scope',
    );
  });
  f.check(input.careUnits === undefined || isLabelList(input.careUnits), '/careUnits', 'invalid care units');
  f.throwIfAny();
}

/** Builds the client registry over `service_clients`; every change is audited. */
export function createClientRegistry(ctx: AccessContext): ClientRegistry {
  const { db } = ctx.store;
  return {
    async register(input, actor) {
      validate(input);
      const jwks = checkClientJwks(input.jwks);
      const row = {
        id: input.id ?? randomUUID(),
        name: input.name,
        role: input.role,
        scopes: JSON.stringify([...new Set(input.scopes)]),
        jwks: JSON.stringify(jwks),
        care_units: JSON.stringify(input.careUnits ?? []),
        disabled: 0,
        created_at: ctx.now(),
      };
      const inserted = await db
        .insertInto('service_clients')
        .values(row)
        .onConflict((oc) => oc.column('id').doNothing())
        .returning(['id'])
        .executeTakeFirst();
      if (!inserted) throw new PulsegateError('CLIENT_EXISTS');
      await ctx.audit.append({
        actor: actorOf(actor),
        action: 'client.register',
        resource: { type: 'client', id: row.id },
        outcome: 'success',
      });
      return clientView(row);
    },
    async list() {
      const rows = await db.selectFrom('service_clients').selectAll().orderBy('id').execute();
      return rows.map(clientView);
    },
    async disable(id, actor) {
      const row = await db
        .updateTable('service_clients')
        .set({ disabled: 1 })
        .where('id', '=', id)
        .returning(['id'])
        .executeTakeFirst();
      if (!row) throw new PulsegateError('CLIENT_NOT_FOUND');
      await ctx.audit.append({
        actor: actorOf(actor),
        action: 'client.disable',
        resource: { type: 'client', id },
        outcome: 'success',
      });
    },
  };
}
