import type { Command } from 'commander';
import { withDataOptions, withServices } from './context.js';
import { print } from './output.js';

/** `pulsegate retention run --data DIR [--json]`: delete expired telemetry and shred its keys now. */
export function registerRetention(program: Command): void {
  const retention = program.command('retention').description('telemetry retention and crypto-shredding');
  withDataOptions(
    retention
      .command('run')
      .description(
        'delete telemetry older than telemetry.retentionDays, remove the patient data of alerts of those periods, and destroy their keys',
      ),
  ).action(async (opts: { data: string; json?: boolean }) => {
    await withServices(opts.data, async ({ telemetry }) => {
      const report = await telemetry.runRetention();
      print(
        opts,
        report,
        () =>
          `retention: deleted ${report.deletedReadings} readings before ${report.cutoff}; ` +
          `shredded ${report.shreddedKeys} data keys of periods before ${report.shreddedBefore}` +
          (report.periodKeysDestroyed ? '; period keys destroyed' : '') +
          Object.entries(report.followers)
            .map(
              ([name, f]) =>
                `; ${name}: patient data removed from ${f.cleared}, ${f.shreddedKeys} keys shredded`,
            )
            .join(''),
      );
    });
  });
}
