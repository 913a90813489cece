/**
 * Load generator for `bench/hl7.ts`, run as its own process so that it does not share the
 * server's event loop: one MLLP/TLS connection per gateway, each keeping `pipeline` messages
 * unacknowledged (the next is sent as each ACK arrives). Reads its job from the JSON file named by argv[2] and
 * prints one JSON line: counts, elapsed time and every ACK latency (ms).
 */
import { readFileSync } from 'node:fs';
import { formatDtm } from '../src/hl7/index.js';
import { MllpClient, readAck } from '../src/sim/index.js';

export interface LoadJob {
  port: number;
  caFile: string;
  gateways: Array<{
    id: string;
    cert: string;
    key: string;
    devices: Array<{ eui64: string; patientId: string }>;
  }>;
  messages: number;
  pipeline: number;
  runId: string;
}

export interface LoadReport {
  sent: number;
  acked: number;
  notAa: number;
  firstError: string | null;
  elapsedMs: number;
  /** CPU time of this load generator during the run (user + system), ms. */
  cpuMs: number;
  latenciesMs: number[];
}

/** An IHE PCD-01 NIBP + SpO2 message of one device (about 700 bytes). */
export function pcd01Message(
  controlId: string,
  device: { eui64: string; patientId: string },
  n: number,
): string {
  const t = formatDtm(Date.now());
  return [
    `MSH|^~\\&|GW^ACDE48234567ABCD^EUI-64||||${t}||ORU^R01^ORU_R01|${controlId}|P|2.6|||NE|AL|||||IHE PCD ORU-R01 2006^HL7^1.3.6.1.4.1.19376.1.6.1.1.1^ISO`,
    `PID|||${device.patientId}^^^Pulsegate^MR||Doe^John|||M`,
    `OBR|1|AB${n}^AcmeAHDInc^ACDE48234567ABCD^EUI-64|CD${n}^AcmeAHDInc^ACDE48234567ABCD^EUI-64|182777000^monitoring of patient^SNOMED-CT|||${t}`,
    `OBX|1||528391^MDC_DEV_SPEC_PROFILE_BP^MDC|1|||||||R|||||||${device.eui64}^EUI-64`,
    `OBX|2||150020^MDC_PRESS_BLD_NONINV^MDC|1.0.1|||||||R|||${t}`,
    `OBX|3|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.0.1.1|${110 + (n % 20)}|266016^MDC_DIM_MMHG^MDC|||||R`,
    `OBX|4|NM|150022^MDC_PRESS_BLD_NONINV_DIA^MDC|1.0.1.2|${70 + (n % 10)}|266016^MDC_DIM_MMHG^MDC|||||R`,
    `OBX|5|NM|150023^MDC_PRESS_BLD_NONINV_MEAN^MDC|1.0.1.3|${85 + (n % 10)}|266016^MDC_DIM_MMHG^MDC|||||R`,
    `OBX|6|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.0.2.1|${94 + (n % 5)}|262688^MDC_DIM_PERCENT^MDC|||||R`,
    '',
  ].join('\r');
}

export async function runLoad(job: LoadJob): Promise<LoadReport> {
  const ca = readFileSync(job.caFile);
  const perGateway = Math.ceil(job.messages / job.gateways.length);
  const latencies: number[] = [];
  let acked = 0;
  let notAa = 0;
  let sent = 0;
  let firstError: string | null = null;
  const clients = await Promise.all(
    job.gateways.map((g) => MllpClient.connect({ port: job.port, ca, cert: g.cert, key: g.key })),
  );
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    job.gateways.map(async (g, gi) => {
      const client = clients[gi]!;
      let next = 0;
      const lane = async () => {
        while (next < perGateway && sent < job.messages) {
          const n = next++;
          sent++;
          const device = g.devices[n % g.devices.length]!;
          const message = pcd01Message(`${job.runId}-${g.id}-${n}`, device, n);
          const t0 = performance.now();
          const ack = readAck(await client.send(message));
          latencies.push(performance.now() - t0);
          acked++;
          if (ack.code !== 'AA') {
            notAa++;
            firstError ??= `${ack.code} ${ack.errors.map((e) => e.code).join(',')}`;
          }
        }
      };
      await Promise.all(Array.from({ length: job.pipeline }, lane));
    }),
  );
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  await Promise.all(clients.map((c) => c.close()));
  return {
    sent,
    acked,
    notAa,
    firstError,
    elapsedMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    latenciesMs: latencies,
  };
}

if (process.argv[1]?.endsWith('_hl7-load.ts') && process.argv[2]) {
  const report = await runLoad(JSON.parse(readFileSync(process.argv[2], 'utf8')) as LoadJob);
  process.stdout.write(`${JSON.stringify(report)}\n`);
}
