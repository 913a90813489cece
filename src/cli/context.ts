import { existsSync } from 'node:fs';
import { type Command, Option } from 'commander';
import type { Principal } from '../access/index.js';
import { createServices, type Services } from '../app.js';
import { type LoadedConfig, loadConfig } from '../config/index.js';
import { PulsegateError } from '../errors.js';
import { installationLayout } from '../installation/index.js';
import { createLogger } from '../logging/logger.js';

/** `--data DIR` (or PULSEGATE_DATA) and `--json`, shared by every command that reads an installation. */
export function withDataOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--data <dir>', 'data directory of the installation')
        .env('PULSEGATE_DATA')
        .makeOptionMandatory(),
    )
    .option('--json', 'print machine-readable JSON');
}

/** Loads the installation's configuration, refusing a directory that has none. */
export function loadInstallationConfig(dataDir: string): LoadedConfig {
  const layout = installationLayout(dataDir);
  if (!existsSync(layout.config)) {
    throw new PulsegateError(
      'INSTALL_MISSING',
      'no pulsegate.yaml in the data directory; run `pulsegate init --data DIR` first',
    );
  }
  return loadConfig(dataDir);
}

/** Opens the services for a one-shot command (warnings only on the console) and always closes them. */
export async function withServices<T>(dataDir: string, fn: (services: Services) => Promise<T>): Promise<T> {
  const config = loadInstallationConfig(dataDir);
  const services = await createServices(config, {
    logger: createLogger({ level: 'warn', destination: process.stderr as never }),
  });
  try {
    return await fn(services);
  } finally {
    await services.close();
  }
}

/** The actor recorded in the audit log for changes made from the command line. */
export function cliActor(): { type: 'system'; name: string } {
  return { type: 'system', name: operatorName() };
}

/**
 * The command-line operator as a principal, for services that record who made a change: whoever
 * runs the CLI holds the data directory and its master key, so it acts with the admin role. The
 * audit log names it `cli:<OS user>`.
 */
export function cliPrincipal(): Principal {
  return {
    kind: 'user',
    id: operatorName(),
    name: operatorName(),
    role: 'admin',
    careUnits: [],
    vendorDevices: [],
    scopes: [],
  };
}

function operatorName(): string {
  const user = (process.env.USER ?? process.env.LOGNAME ?? 'unknown')
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .slice(0, 64);
  return `cli:${user}`;
}
