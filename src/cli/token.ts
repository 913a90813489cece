import type { Command } from 'commander';
import { API_TOKEN_TTL } from '../access/index.js';
import { PulsegateError } from '../errors.js';
import { withDataOptions, withServices } from './context.js';
import { print } from './output.js';

/** `30d`, `12h`, `15m`, `3600s` or a number of seconds. */
export function parseDuration(value: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(value.trim());
  if (!m) throw new PulsegateError('VALIDATION_FAILED', '--ttl must look like 30d, 12h, 15m or 3600');
  const n = Number(m[1]);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return n * unit;
}

export function registerToken(program: Command): void {
  const token = program.command('token').description('manage API tokens');
  withDataOptions(token.command('create').description('create an API token for a user (printed once)'))
    .requiredOption('--user <username>', 'the user the token acts as')
    .option('--name <name>', 'a label for the token', 'cli token')
    .option('--ttl <duration>', 'lifetime such as 12h or 90d: from 1m to 365d (default 30d)')
    .action(async (opts: { data: string; json?: boolean; user: string; name: string; ttl?: string }) => {
      // An empty --ttl is a mistake, not "no lifetime given".
      const ttlSeconds = opts.ttl !== undefined ? parseDuration(opts.ttl) : undefined;
      if (
        ttlSeconds !== undefined &&
        (ttlSeconds < API_TOKEN_TTL.minSeconds || ttlSeconds > API_TOKEN_TTL.maxSeconds)
      )
        throw new PulsegateError('VALIDATION_FAILED', '--ttl must be from 1m to 365d');
      const created = await withServices(opts.data, (s) =>
        s.access.createApiToken({ username: opts.user, name: opts.name, ttlSeconds }),
      );
      print(opts, created, () => created.token);
    });
}
