import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { createApp } from '../app.js';
import { loadConfig } from '../config/index.js';
import { createInstallation, installationLayout } from '../installation/index.js';
import { createLogger } from '../logging/logger.js';
import { Ward } from '../sim/index.js';
import { createPhaseProgress } from './progress.js';

/** The demo clinician's only care unit. */
const CLINICIAN_UNIT = 'ICU';

/**
 * `pulsegate demo`: a throw-away installation in a temporary directory, the server, a simulated
 * ward streaming vital signs over mutual-TLS MQTT, demo accounts, and a live one-line summary.
 * Ctrl-C stops it and deletes the directory.
 */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'run a self-contained demo: temporary installation, server and a simulated ward (removed on exit unless --keep)',
    )
    .option('--port <port>', 'HTTPS port', '8443')
    .option('--mqtt-port <port>', 'MQTT over TLS port', '8883')
    .option('--devices <n>', 'simulated devices', '40')
    .option('--rate <r>', 'messages per second per device', '1')
    .option('--keep', 'keep the temporary data directory on exit')
    .option('--duration <seconds>', 'stop by itself after this many seconds (0 = run until Ctrl-C)', '0')
    .action(
      async (opts: {
        port: string;
        mqttPort: string;
        devices: string;
        rate: string;
        keep?: boolean;
        duration: string;
      }) => {
        const dataDir = mkdtempSync(join(tmpdir(), 'pulsegate-demo-'));
        process.stderr.write(`Creating a demo installation in ${dataDir}\n`);
        await createInstallation({
          dataDir,
          organisation: 'Pulsegate Demo Hospital',
          settings: {
            server: { port: Number(opts.port), publicUrl: `https://localhost:${Number(opts.port)}` },
            mqtt: { port: Number(opts.mqttPort) },
            log: { level: 'warn' },
          },
        });
        const layout = installationLayout(dataDir);
        // PULSEGATE_LOG_LEVEL still applies (the console tests read the request log).
        const config = loadConfig(dataDir);
        const app = await createApp(config, { logger: createLogger({ level: config.log.level }) });
        const urls = await app.listen();
        const adminToken = readFileSync(layout.adminToken, 'utf8').trim();
        const adminPassword = readFileSync(layout.adminPassword, 'utf8').trim();
        const clinicianPassword = randomBytes(12).toString('base64url');
        await app.access.users.add({
          username: 'clinician',
          password: clinicianPassword,
          role: 'clinician',
          careUnits: [CLINICIAN_UNIT],
        });

        const progress = createPhaseProgress('  ');
        const ward = await Ward.start({
          apiUrl: urls.api,
          mqttUrl: urls.mqtt ?? `mqtts://localhost:${opts.mqttPort}`,
          ca: readFileSync(layout.rootCaCert),
          token: adminToken,
          devices: Number(opts.devices),
          ratePerDevice: Number(opts.rate),
          prefix: 'demo',
          onProgress: (p) => {
            if (p.phase !== 'streaming') progress(p);
          },
        });

        process.stdout.write(
          [
            '',
            'Pulsegate demo is running.',
            `  Console:        ${urls.api}/  (trust the CA certificate below, or accept the browser warning)`,
            `  API:            ${urls.api}/api/v1  (OpenAPI: ${urls.api}/api/v1/openapi.json)`,
            `  MQTT (mTLS):    ${urls.mqtt ?? '(off)'}`,
            `  CA certificate: ${layout.rootCaCert}`,
            `  Admin login:    admin / ${adminPassword}`,
            `  Clinician:      clinician / ${clinicianPassword} (care unit ${CLINICIAN_UNIT} only)`,
            '  (the passwords are shown only now)',
            `  Admin token:    in ${layout.adminToken}`,
            `  Try:            curl --cacert ${layout.rootCaCert} -H "Authorization: Bearer $(cat ${layout.adminToken})" ${urls.api}/api/v1/devices`,
            'Press Ctrl-C to stop.',
            '',
          ].join('\n'),
        );
        let lastAcked = 0;
        let lastAt = Date.now();
        const summary = setInterval(
          async () => {
            const t = ward.totals();
            const rate = ((t.acked - lastAcked) * 1000) / Math.max(1, Date.now() - lastAt);
            lastAcked = t.acked;
            lastAt = Date.now();
            const audit = await app.audit.size().catch(() => -1);
            const line = `[${new Date().toISOString().slice(11, 19)}] devices ${app.connectedDevices()}/${t.devices} connected | ${rate.toFixed(0)} msg/s | stored ${t.acked} | audit entries ${audit}`;
            process.stdout.write(process.stdout.isTTY ? `\r${line}   ` : `${line}\n`);
          },
          process.stdout.isTTY ? 1000 : 10_000,
        );
        let stopping = false;
        const stop = async () => {
          if (stopping) return;
          stopping = true;
          clearInterval(summary);
          process.stdout.write('\nStopping the demo…\n');
          await ward.stop();
          await app.close();
          if (!opts.keep) rmSync(dataDir, { recursive: true, force: true });
          process.exit(0);
        };
        process.on('SIGINT', () => void stop());
        process.on('SIGTERM', () => void stop());
        if (Number(opts.duration) > 0) setTimeout(() => void stop(), Number(opts.duration) * 1000);
      },
    );
}
