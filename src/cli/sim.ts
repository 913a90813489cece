import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { PulsegateError } from '../errors.js';
import { installationLayout } from '../installation/index.js';
import {
  ApiClient,
  ATTACKS,
  type AttackName,
  registerAndEnroll,
  runAttacks,
  Ward,
  type WardTotals,
} from '../sim/index.js';
import { loadInstallationConfig } from './context.js';
import { print, table } from './output.js';
import { createPhaseProgress } from './progress.js';

interface SimOptions {
  data?: string;
  url?: string;
  mqtt?: string;
  ca?: string;
  tokenFile?: string;
  devices: string;
  rate: string;
  duration: string;
  prefix: string;
  careUnit?: string[];
  attack?: string[];
  altAddress?: string;
  stormAddress?: string;
  json?: boolean;
}

/** On one host, other loopback addresses stand for "another place" (Linux routes all of 127/8 to lo). */
function loopbackDefault(mqttUrl: string, address: string): string | undefined {
  const host = new URL(mqttUrl).hostname;
  return host === 'localhost' || host === '127.0.0.1' ? address : undefined;
}

/** Where the simulator connects: from a local installation (`--data`) or explicit URLs. */
function target(opts: SimOptions): { apiUrl: string; mqttUrl: string; ca: Buffer; token: string } {
  if (opts.data) {
    const config = loadInstallationConfig(opts.data);
    const layout = installationLayout(config.dataDir);
    return {
      apiUrl: opts.url ?? `https://localhost:${config.server.port}`,
      mqttUrl: opts.mqtt ?? `mqtts://localhost:${config.mqtt.port}`,
      ca: readFileSync(opts.ca ?? layout.rootCaCert),
      token: readFileSync(opts.tokenFile ?? layout.adminToken, 'utf8').trim(),
    };
  }
  if (!opts.url || !opts.mqtt || !opts.ca || !opts.tokenFile) {
    throw new PulsegateError(
      'VALIDATION_FAILED',
      'give --data DIR, or all of --url, --mqtt, --ca and --token-file',
    );
  }
  return {
    apiUrl: opts.url,
    mqttUrl: opts.mqtt,
    ca: readFileSync(opts.ca),
    token: readFileSync(opts.tokenFile, 'utf8').trim(),
  };
}

function summary(t: WardTotals, rate: number): string {
  return `devices ${t.connected}/${t.devices} connected | sent ${t.sent} | acked ${t.acked} | failed ${t.failed} | ${rate.toFixed(0)} msg/s`;
}

export function registerSim(program: Command): void {
  program
    .command('sim')
    .description(
      'simulate a ward: enroll devices over EST and stream vital signs over mutual-TLS MQTT; or run attacks',
    )
    .option(
      '--data <dir>',
      'a local installation (reads its ports, CA and admin token)',
      process.env.PULSEGATE_DATA,
    )
    .option('--url <url>', 'API base URL, e.g. https://pulsegate.example:8443')
    .option('--mqtt <url>', 'MQTT URL, e.g. mqtts://pulsegate.example:8883')
    .option('--ca <file>', 'CA certificate to trust')
    .option('--token-file <file>', 'file with an API token allowed to register devices')
    .option('--devices <n>', 'number of simulated devices', '40')
    .option('--rate <r>', 'messages per second per device', '1')
    .option('--duration <seconds>', 'stop after this many seconds (0 = until Ctrl-C)', '0')
    .option('--prefix <p>', 'device id prefix', `sim${Date.now().toString(36).slice(-4)}`)
    .option('--care-unit <unit...>', 'care units to spread devices over', ['ICU', 'CCU', 'WARD-3'])
    .option('--attack <name...>', `run attack scenarios instead of a ward: ${ATTACKS.join(', ')} (or all)`)
    .option('--alt-address <ip>', 'local address the new-address and cloned-cert attacks connect from')
    .option('--storm-address <ip>', 'local address the auth-storm attack connects from')
    .option('--json', 'print machine-readable JSON')
    .action(async (opts: SimOptions) => {
      const t = target(opts);
      if (opts.attack) {
        const names = (opts.attack.includes('all') ? ATTACKS : opts.attack) as AttackName[];
        for (const n of names) {
          if (!ATTACKS.includes(n))
            throw new PulsegateError(
              'VALIDATION_FAILED',
              `unknown attack ${n}; one of ${ATTACKS.join(', ')}`,
            );
        }
        const api = new ApiClient({ baseUrl: t.apiUrl, ca: t.ca, token: t.token });
        const unit = opts.careUnit?.[0] ?? 'ICU';
        const attacker = await registerAndEnroll({
          api,
          apiUrl: t.apiUrl,
          ca: t.ca,
          device: { id: `${opts.prefix}-attacker`, type: 'other', careUnit: unit },
        });
        const victim = await registerAndEnroll({
          api,
          apiUrl: t.apiUrl,
          ca: t.ca,
          device: { id: `${opts.prefix}-victim`, type: 'patient-monitor', careUnit: unit },
        });
        const altAddress = opts.altAddress ?? loopbackDefault(t.mqttUrl, '127.0.0.2');
        const stormAddress = opts.stormAddress ?? loopbackDefault(t.mqttUrl, '127.0.0.3');
        const results = await runAttacks(
          {
            mqttUrl: t.mqttUrl,
            ca: t.ca,
            api,
            attacker,
            victimId: victim.deviceId,
            ...(altAddress ? { altAddress } : {}),
            ...(stormAddress ? { stormAddress } : {}),
          },
          names,
          (name) =>
            registerAndEnroll({
              api,
              apiUrl: t.apiUrl,
              ca: t.ca,
              device: { id: `${opts.prefix}-attacker-${name}`, type: 'other', careUnit: unit },
            }),
        );
        print(opts, results, () =>
          table(
            results.map((r) => ({
              attack: r.attack,
              defended: r.defended,
              alert: r.alert ? `${r.alert.rule}: ${r.alert.raised ? 'raised' : 'missing'}` : '',
              observed: r.observed,
            })),
          ),
        );
        if (results.some((r) => !r.defended)) process.exitCode = 1;
        return;
      }

      const devices = Number(opts.devices);
      const rate = Number(opts.rate);
      if (!Number.isInteger(devices) || devices < 1 || devices > 100_000)
        throw new PulsegateError('VALIDATION_FAILED', '--devices must be 1..100000');
      if (!(rate > 0 && rate <= 1000))
        throw new PulsegateError('VALIDATION_FAILED', '--rate must be > 0 and <= 1000');
      const progress = createPhaseProgress();
      const ward = await Ward.start({
        apiUrl: t.apiUrl,
        mqttUrl: t.mqttUrl,
        ca: t.ca,
        token: t.token,
        devices,
        ratePerDevice: rate,
        careUnits: opts.careUnit,
        prefix: opts.prefix,
        onProgress: (p) => {
          if (!opts.json && p.phase !== 'streaming') progress(p);
        },
      });
      let last = ward.totals();
      let lastAt = Date.now();
      const tick = setInterval(
        () => {
          const now = ward.totals();
          const r = ((now.acked - last.acked) * 1000) / Math.max(1, Date.now() - lastAt);
          last = now;
          lastAt = Date.now();
          if (!opts.json)
            process.stderr.write(
              `${process.stderr.isTTY ? '\r' : ''}${summary(now, r)}${process.stderr.isTTY ? '   ' : '\n'}`,
            );
        },
        process.stderr.isTTY ? 1000 : 5000,
      );
      const stop = async () => {
        clearInterval(tick);
        await ward.stop();
        const totals = ward.totals();
        if (!opts.json && process.stderr.isTTY) process.stderr.write('\n');
        print(opts, totals, () => summary(totals, 0).replace(/ \| 0 msg\/s$/, ''));
        process.exit(totals.failed > 0 ? 1 : 0);
      };
      process.on('SIGINT', () => void stop());
      process.on('SIGTERM', () => void stop());
      if (Number(opts.duration) > 0) setTimeout(() => void stop(), Number(opts.duration) * 1000);
    });
}
