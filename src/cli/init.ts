import type { Command } from 'commander';
import { createInstallation } from '../installation/index.js';
import { print } from './output.js';

/** A port as a number when it is one; anything else stays text, for the config check to refuse by name. */
const portValue = (text: string): number | string => (/^\d{1,6}$/.test(text) ? Number(text) : text);

/**
 * `server.publicUrl` for an installation listening on `port`: the one given, else localhost on
 * that port (the server certificate names localhost), so that tokens' issuer and audience and
 * the SMART token endpoint match what clients reach. Left to the config default for 8443 and for
 * a port the config check will refuse.
 */
export function publicUrlFor(port: number | string, given?: string): string | undefined {
  if (given !== undefined) return given;
  return typeof port === 'number' && port !== 8443 && port > 0 && port <= 65535
    ? `https://localhost:${port}`
    : undefined;
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .description(
      'create a new installation: config, CA, server certificate, master key, database, admin token',
    )
    .requiredOption('--data <dir>', 'data directory to create (must not hold an installation)')
    .option('--org <name>', 'organisation name for the certificate authority', 'Pulsegate')
    .option('--server-name <name...>', 'extra DNS names for the server certificate')
    .option('--port <port>', 'HTTPS API port', '8443')
    .option('--public-url <url>', 'base URL clients reach the API at (default: https://localhost:<port>)')
    .option('--mqtt-port <port>', 'MQTT over TLS port', '8883')
    .option('--database-url <url>', 'use PostgreSQL instead of the embedded SQLite file')
    .option('--json', 'print machine-readable JSON')
    .action(
      async (opts: {
        data: string;
        org: string;
        serverName?: string[];
        port: string;
        publicUrl?: string;
        mqttPort: string;
        databaseUrl?: string;
        json?: boolean;
      }) => {
        const port = portValue(opts.port);
        const publicUrl = publicUrlFor(port, opts.publicUrl);
        const settings: Record<string, Record<string, unknown>> = {
          server: { port, ...(publicUrl !== undefined ? { publicUrl } : {}) },
          mqtt: { port: portValue(opts.mqttPort) },
        };
        if (opts.databaseUrl) settings.database = { url: opts.databaseUrl };
        const result = await createInstallation({
          dataDir: opts.data,
          organisation: opts.org,
          serverNames: opts.serverName,
          settings,
          onStep: (step) => {
            if (!opts.json && step !== 'done') process.stderr.write(`  creating ${step}…\n`);
          },
        });
        print(opts, result, () =>
          [
            `Created a Pulsegate installation in ${result.dataDir}`,
            `  CA certificate:  ${result.caFile}`,
            `  admin API token: ${result.adminTokenFile} (mode 0600; keep it secret)`,
            `                   expires ${new Date(result.adminTokenExpiresAt).toISOString()}; renew with pulsegate token create --user admin`,
            `Next: pulsegate serve --data ${opts.data}`,
          ].join('\n'),
        );
      },
    );
}
