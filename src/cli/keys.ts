import { existsSync, renameSync, rmSync } from 'node:fs';
import type { Command } from 'commander';
import { dataPath } from '../config/index.js';
import { PulsegateError } from '../errors.js';
import { generateMasterKey, writeMasterKeyFile } from '../keys/index.js';
import { loadInstallationConfig, withDataOptions, withServices } from './context.js';
import { print } from './output.js';

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('manage the master key');
  withDataOptions(
    keys
      .command('rotate-master')
      .description('rotate the master key: rewrap every data and signing key, no data re-encryption'),
  ).action(async (opts: { data: string; json?: boolean }) => {
    if (process.env.PULSEGATE_MASTER_KEY) {
      throw new PulsegateError(
        'VALIDATION_FAILED',
        'the master key comes from PULSEGATE_MASTER_KEY; rotate it in your secret store tooling, not from a file',
      );
    }
    const config = loadInstallationConfig(opts.data);
    const current = dataPath(config, config.keys.masterKeyFile);
    const next = `${current}.next`;
    if (existsSync(next)) {
      throw new PulsegateError(
        'CONFLICT',
        `${next} exists: an earlier rotation was interrupted; check which key the database accepts`,
      );
    }
    // Crash-safe order: the new key is on disk before the database depends on it.
    const newKey = generateMasterKey();
    writeMasterKeyFile(next, newKey);
    let result: { rewrapped: number } | undefined;
    try {
      await withServices(opts.data, async (s) => {
        result = await s.keys.rotateMasterKey(newKey);
      });
    } catch (error) {
      // Rotation is one transaction: if it did not commit, the database still uses the old key.
      if (!result) rmSync(next, { force: true });
      throw error;
    } finally {
      newKey.fill(0);
    }
    if (!result) throw new PulsegateError('INTERNAL');
    // From here the database needs the new key; never delete it, only move it into place.
    renameSync(next, current);
    const rewrapped = result.rewrapped;
    print(opts, result, () => `master key rotated; ${rewrapped} keys rewrapped. Restart running servers.`);
  });
}
