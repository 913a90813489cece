import { randomUUID } from 'node:crypto';
import { PulsegateError } from '../errors.js';
import { type AccessContext, actorOf } from './deps.js';
import { checkPasswordPolicy, hashPassword } from './password.js';
import type { Principal } from './principal.js';
import { isRole, type Role, VENDOR_LIMITED } from './roles.js';
import { FieldChecks, isLabelList, type UserView, userView } from './views.js';

/** Usernames: lower-case workforce identifiers, safe to log. */
export const USERNAME = /^[a-z0-9][a-z0-9._-]{1,62}$/;

/** What creating a user takes. Times are Unix milliseconds. */
export interface NewUser {
  username: string;
  password: string;
  role: Role;
  careUnits?: string[];
  vendorDevices?: string[];
  accessNotBefore?: number;
  accessNotAfter?: number;
}

/** User administration. */
export interface UserDirectory {
  add(input: NewUser, actor?: Principal): Promise<UserView>;
  list(): Promise<UserView[]>;
  get(username: string): Promise<UserView>;
  disable(username: string, actor?: Principal): Promise<void>;
  enable(username: string, actor?: Principal): Promise<void>;
}

function validate(input: NewUser): void {
  const f = new FieldChecks();
  f.check(
    typeof input.username === 'string' && USERNAME.test(input.username),
    '/username',
    'invalid username',
  );
  f.check(typeof input.role === 'string' && isRole(input.role), '/role', 'unknown role');
  f.check(input.careUnits === undefined || isLabelList(input.careUnits), '/careUnits', 'invalid care units');
  f.check(
    input.vendorDevices === undefined || isLabelList(input.vendorDevices),
    '/vendorDevices',
    'invalid device ids',
  );
  for (const key of ['accessNotBefore', 'accessNotAfter'] as const) {
    const v = input[key];
    f.check(v === undefined || (Number.isSafeInteger(v) && v >= 0), `/${key}`, 'must be Unix milliseconds');
  }
  if (input.accessNotBefore !== undefined && input.accessNotAfter !== undefined) {
    f.check(input.accessNotBefore < input.accessNotAfter, '/accessNotAfter', 'must be after accessNotBefore');
  }
  // Vendor access is time-boxed by policy: an open-ended vendor account is refused.
  if (isRole(input.role) && VENDOR_LIMITED.has(input.role)) {
    f.check(input.accessNotAfter !== undefined, '/accessNotAfter', 'required for vendor accounts');
  }
  f.throwIfAny();
  if (typeof input.password !== 'string') throw new PulsegateError('USER_PASSWORD_WEAK');
  checkPasswordPolicy(input.password, input.username);
}

/** Builds the user directory over the `users` table; every change is audited. */
export function createUserDirectory(ctx: AccessContext): UserDirectory {
  const { db } = ctx.store;

  async function setDisabled(username: string, disabled: boolean, actor?: Principal): Promise<void> {
    const row = await db
      .updateTable('users')
      // Enabling also lifts a running lockout: an administrator has looked at the account.
      .set(
        disabled
          ? { disabled: 1, updated_at: ctx.now() }
          : { disabled: 0, failed_logins: 0, locked_until: null, updated_at: ctx.now() },
      )
      .where('username', '=', username)
      .returning(['id'])
      .executeTakeFirst();
    if (!row) throw new PulsegateError('USER_NOT_FOUND');
    await ctx.audit.append({
      actor: actorOf(actor),
      action: disabled ? 'user.disable' : 'user.enable',
      resource: { type: 'user', id: row.id },
      outcome: 'success',
    });
  }

  return {
    async add(input, actor) {
      validate(input);
      const now = ctx.now();
      const values = {
        id: randomUUID(),
        username: input.username,
        password_hash: await hashPassword(input.password, ctx.hashing),
        role: input.role,
        care_units: JSON.stringify(input.careUnits ?? []),
        vendor_devices: JSON.stringify(input.vendorDevices ?? []),
        access_not_before: input.accessNotBefore ?? null,
        access_not_after: input.accessNotAfter ?? null,
        disabled: 0,
        failed_logins: 0,
        locked_until: null,
        created_at: now,
        updated_at: now,
      };
      const inserted = await db
        .insertInto('users')
        .values(values)
        .onConflict((oc) => oc.column('username').doNothing())
        .returning(['id'])
        .executeTakeFirst();
      if (!inserted) throw new PulsegateError('USER_EXISTS');
      await ctx.audit.append({
        actor: actorOf(actor),
        action: 'user.create',
        resource: { type: 'user', id: values.id },
        outcome: 'success',
      });
      return userView(values, now);
    },
    async list() {
      const rows = await db.selectFrom('users').selectAll().orderBy('username').execute();
      const now = ctx.now();
      return rows.map((r) => userView(r, now));
    },
    async get(username) {
      const row = await db
        .selectFrom('users')
        .selectAll()
        .where('username', '=', username)
        .executeTakeFirst();
      if (!row) throw new PulsegateError('USER_NOT_FOUND');
      return userView(row, ctx.now());
    },
    disable: (username, actor) => setDisabled(username, true, actor),
    enable: (username, actor) => setDisabled(username, false, actor),
  };
}
