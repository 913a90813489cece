import type { Command } from 'commander';
import { createApp } from '../app.js';
import { createLogger } from '../logging/logger.js';
import { loadInstallationConfig } from './context.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the server (HTTPS API); applies pending migrations first')
    .requiredOption('--data <dir>', 'data directory of the installation', process.env.PULSEGATE_DATA)
    .action(async (opts: { data: string }) => {
      const config = loadInstallationConfig(opts.data);
      const logger = createLogger({ level: config.log.level });
      const app = await createApp(config, { logger, migrate: true });
      const urls = await app.listen();
      logger.info(
        { api: urls.api, mqtt: urls.mqtt, hl7: urls.hl7, database: app.store.dialect },
        'pulsegate serving',
      );
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'shutting down');
        await app.close();
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
      // SIGHUP reloads the monitoring rules (a file that does not validate keeps the rules in force).
      process.on('SIGHUP', () => {
        app.monitor
          .reloadRules()
          .catch((error: { code?: string }) =>
            logger.warn({ code: error.code }, 'monitor rules not reloaded'),
          );
      });
    });
}
