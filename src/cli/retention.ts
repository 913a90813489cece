import type { Command } from 'commander';
import { EventBus } from '../events/index.js';
import { createPatientBindings } from '../patients/index.js';
import { createTelemetryService } from '../telemetry/index.js';
import { withDataOptions, withServices } from './context.js';
import { print } from './output.js';

/** `pulsegate retention run --data DIR [--json]`: delete expired telemetry and shred its keys now. */
export function registerRetention(program: Command): void {
  const retention = program.command('retention').description('telemetry retention and crypto-shredding');
  withDataOptions(
    retention
      .command('run')
      .description(
        'delete telemetry older than telemetry.retentionDays and destroy the keys of ended periods',
      ),
  ).action(async (opts: { data: string; json?: boolean }) => {
    await withServices(opts.data, async (services) => {
      const { store, keys, audit, devices, config } = services;
      const patients = createPatientBindings({ store, keys, audit });
      const telemetry = await createTelemetryService({
        store,
        keys,
        audit,
        bus: new EventBus(),
        devices,
        patients,
        config,
      });
      try {
        const report = await telemetry.runRetention();
        print(
          opts,
          report,
          () =>
            `retention: deleted ${report.deletedReadings} readings before ${report.cutoff}; ` +
            `shredded ${report.shreddedKeys} data keys of periods before ${report.shreddedBefore}` +
            (report.periodKeysDestroyed ? '; period keys destroyed' : ''),
        );
      } finally {
        await telemetry.close();
      }
    });
  });
}
