import type { Command } from 'commander';
import { openConfiguredStore } from '../app.js';
import { loadInstallationConfig, withDataOptions } from './context.js';
import { EXIT, print, table } from './output.js';

export function registerMigrate(program: Command): void {
  withDataOptions(
    program.command('migrate').description('apply pending database migrations, reporting each one'),
  ).action(async (opts: { data: string; json?: boolean }) => {
    const store = openConfiguredStore(loadInstallationConfig(opts.data));
    try {
      const { reports, error } = await store.migrate();
      print(opts, { migrations: reports, ok: !error }, () =>
        table(reports.map((r) => ({ migration: r.name, status: r.status }))),
      );
      if (error) {
        process.stderr.write(
          `error STORE_MIGRATION_FAILED: ${(error.cause as Error)?.message ?? error.message}\n`,
        );
        process.exitCode = EXIT.failed;
      }
    } finally {
      await store.close();
    }
  });
}
