/** Messages between `bench/ingest.ts` and its child processes (server, load workers), over IPC. */

/** The id of simulated device `i` (valid per the topic contract: 3-64 of [A-Za-z0-9._-]). */
export const deviceId = (i: number) => `bench-${String(i).padStart(5, '0')}`;

export type ServerRequest =
  | { cmd: 'rss' }
  | { cmd: 'cpu' }
  | { cmd: 'stop' }
  /** Starts a measured phase: event-loop delay from now (and a CPU profile with BENCH_PROFILE=file). */
  | { cmd: 'measure-start' }
  /** Ends it: replies with a `Measured` (and writes the profile). */
  | { cmd: 'measure-stop' };

/** The server's event-loop delay over a measured phase, ms. */
export interface Measured {
  cmd: 'measured';
  loopDelayP50: number;
  loopDelayP99: number;
  loopDelayMax: number;
}

export interface ServerReady {
  cmd: 'ready';
  mqttPort: number;
  credentialsFile: string;
  caBundle: string;
  serverCert: string;
  serverKey: string;
  /** The HTTPS API (server certificate from the root CA in `rootCaCert`). */
  apiUrl: string;
  rootCaCert: string;
  /** The installation admin's API token (0600 file). */
  adminTokenFile: string;
}

/** What a load worker is asked to do with its slice of devices `[from, to)`. */
export type WorkerRequest =
  | { cmd: 'connect'; port: number; from: number; to: number; concurrency: number; resume: boolean }
  | {
      cmd: 'publish';
      seconds: number;
      warmupSeconds: number;
      inflight: number;
      /** Open loop: this many messages per second in total, paced (at most `inflight` unacknowledged per device). */
      rate?: number;
    }
  | { cmd: 'disconnect' };

export interface ConnectReport {
  cmd: 'connected';
  ok: number;
  failed: number;
  resumed: number;
  /** Wall time from the first connect to the last CONNACK, ms. */
  ms: number;
  cpuMs: number;
}

export interface PublishReport {
  cmd: 'published';
  /** PUBACKs received inside the measured window. */
  acked: number;
  sent: number;
  /** Connections closed by the server while publishing (a refusal). */
  closed: number;
  seconds: number;
  /** Latency histogram: counts per 0.1 ms bucket (last bucket = everything above). */
  histogram: number[];
  cpuMs: number;
}

/** Latency histogram geometry shared by workers and the parent. */
export const BUCKET_MS = 0.1;
export const BUCKETS = 50_000;

/** The value at quantile `q` of a histogram of BUCKET_MS buckets, in ms. */
export function quantile(histogram: ArrayLike<number>, q: number): number {
  let total = 0;
  for (let i = 0; i < histogram.length; i++) total += histogram[i]!;
  const want = Math.ceil(total * q);
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i]!;
    if (seen >= want && want > 0) return (i + 1) * BUCKET_MS;
  }
  return Number.NaN;
}
