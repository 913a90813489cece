import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { isRole, ROLES, type Role } from '../access/index.js';
import { PulsegateError } from '../errors.js';
import { withDataOptions, withServices } from './context.js';
import { instantOption } from './options.js';
import { print, table } from './output.js';

async function readPasswordFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export function registerUser(program: Command): void {
  const user = program.command('user').description('manage user accounts');

  withDataOptions(
    user.command('add').description('create a user; prints a generated password unless --password-stdin'),
  )
    .requiredOption('--username <name>', 'login name')
    .requiredOption('--role <role>', `one of: ${ROLES.join(', ')}`)
    .option('--care-unit <unit...>', 'care units a clinician may see')
    .option('--device <id...>', 'devices a vendor-service account may touch')
    .option('--not-before <date-time>', 'vendor access window start, RFC 3339 such as 2025-03-01T08:00:00Z')
    .option('--not-after <date-time>', 'vendor access window end, RFC 3339')
    .option('--password-stdin', 'read the password from standard input')
    .action(
      async (opts: {
        data: string;
        json?: boolean;
        username: string;
        role: string;
        careUnit?: string[];
        device?: string[];
        notBefore?: string;
        notAfter?: string;
        passwordStdin?: boolean;
      }) => {
        if (!isRole(opts.role))
          throw new PulsegateError('VALIDATION_FAILED', `--role must be one of: ${ROLES.join(', ')}`);
        const accessNotBefore = instantOption(opts.notBefore, '--not-before');
        const accessNotAfter = instantOption(opts.notAfter, '--not-after');
        const generated = !opts.passwordStdin;
        const password = generated ? randomBytes(18).toString('base64url') : await readPasswordFromStdin();
        const created = await withServices(opts.data, (s) =>
          s.access.users.add({
            username: opts.username,
            password,
            role: opts.role as Role,
            careUnits: opts.careUnit,
            vendorDevices: opts.device,
            accessNotBefore,
            accessNotAfter,
          }),
        );
        print(opts, generated ? { user: created, password } : { user: created }, () =>
          generated
            ? `created ${opts.username}; initial password (shown once): ${password}`
            : `created ${opts.username}`,
        );
      },
    );

  withDataOptions(user.command('list').description('list users')).action(
    async (opts: { data: string; json?: boolean }) => {
      const users = await withServices(opts.data, (s) => s.access.users.list());
      print(opts, users, () => table(users as unknown as Array<Record<string, unknown>>));
    },
  );

  withDataOptions(user.command('disable').description('disable a user (their tokens stop working at once)'))
    .argument('<username>')
    .action(async (username: string, opts: { data: string; json?: boolean }) => {
      await withServices(opts.data, (s) => s.access.users.disable(username));
      print(opts, { username, disabled: true }, () => `disabled ${username}`);
    });

  withDataOptions(user.command('enable').description('re-enable a disabled user'))
    .argument('<username>')
    .action(async (username: string, opts: { data: string; json?: boolean }) => {
      await withServices(opts.data, (s) => s.access.users.enable(username));
      print(opts, { username, disabled: false }, () => `enabled ${username}`);
    });
}
