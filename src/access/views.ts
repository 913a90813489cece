import type { Selectable } from 'kysely';
import type { FieldProblem } from '../errors.js';
import { PulsegateError } from '../errors.js';
import type { ServiceClientsTable, UsersTable } from '../store/tables/access.js';
import type { PublicJwk } from './deps.js';
import type { Role } from './roles.js';

/** A user as the API shows it: never the password hash or lockout internals beyond `locked`. */
export interface UserView {
  id: string;
  username: string;
  role: Role;
  careUnits: string[];
  vendorDevices: string[];
  accessNotBefore: number | null;
  accessNotAfter: number | null;
  disabled: boolean;
  /** True while a lockout after failed logins is running. */
  locked: boolean;
  createdAt: number;
  updatedAt: number;
}

/** A service client as the API shows it (its JWKS holds public keys only). */
export interface ClientView {
  id: string;
  name: string;
  role: Role;
  scopes: string[];
  careUnits: string[];
  jwks: { keys: PublicJwk[] };
  disabled: boolean;
  createdAt: number;
}

/** Parses a JSON array column written by this module. */
export function jsonArray<T = string>(text: string): T[] {
  const value: unknown = JSON.parse(text);
  return Array.isArray(value) ? (value as T[]) : [];
}

/** The view of a `users` row at time `now`. */
export function userView(row: Selectable<UsersTable>, now: number): UserView {
  return {
    id: row.id,
    username: row.username,
    role: row.role as Role,
    careUnits: jsonArray(row.care_units),
    vendorDevices: jsonArray(row.vendor_devices),
    accessNotBefore: row.access_not_before,
    accessNotAfter: row.access_not_after,
    disabled: row.disabled !== 0,
    locked: row.locked_until !== null && row.locked_until > now,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The view of a `service_clients` row. */
export function clientView(row: Selectable<ServiceClientsTable>): ClientView {
  return {
    id: row.id,
    name: row.name,
    role: row.role as Role,
    scopes: jsonArray(row.scopes),
    careUnits: jsonArray(row.care_units),
    jwks: JSON.parse(row.jwks) as { keys: PublicJwk[] },
    disabled: row.disabled !== 0,
    createdAt: row.created_at,
  };
}

/** Collects field problems and throws one VALIDATION_FAILED naming all of them. */
export class FieldChecks {
  readonly #problems: FieldProblem[] = [];

  /** Records a problem at `pointer` unless `ok`. */
  check(ok: boolean, pointer: string, problem: string): void {
    if (!ok) this.#problems.push({ pointer, problem });
  }

  /** Throws VALIDATION_FAILED if anything was recorded. */
  throwIfAny(): void {
    if (this.#problems.length > 0) {
      throw new PulsegateError('VALIDATION_FAILED', undefined, { fields: [...this.#problems] });
    }
  }
}

/** Care-unit / device identifiers: short, printable, no whitespace. */
export const LABEL = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$/;

/** True for an array of distinct labels. */
export function isLabelList(value: unknown): value is string[] {
  return (
    Array.isArray(value) &&
    value.length <= 256 &&
    value.every((v) => typeof v === 'string' && LABEL.test(v)) &&
    new Set(value).size === value.length
  );
}
