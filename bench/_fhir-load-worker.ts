/**
 * The load generator of `bench/fhir.ts`, in its own process (its own event loop and core): N
 * concurrent clients over HTTPS (undici keep-alive connections, one request in flight each), each
 * searching a random patient's last 24 h of vitals in a closed loop for a fixed time. After the
 * warm-up it sends `{ phase: 'measuring' }`, then the figures of the measured run.
 */
import { Pool } from 'undici';

interface Job {
  origin: string;
  ca: string;
  token: string;
  paths: string[];
  clients: number;
  seconds: number;
  warmupSeconds: number;
}

const job = await new Promise<Job>((resolve) => process.once('message', (m) => resolve(m as Job)));
const pool = new Pool(job.origin, { connections: job.clients, pipelining: 1, connect: { ca: job.ca } });

async function one(path: string): Promise<{ ms: number; entries: number; ok: boolean }> {
  const start = performance.now();
  const res = await pool.request({
    path,
    method: 'GET',
    headers: { authorization: `Bearer ${job.token}`, accept: 'application/fhir+json' },
  });
  const text = await res.body.text();
  const ms = performance.now() - start;
  if (res.statusCode !== 200) return { ms, entries: 0, ok: false };
  const bundle = JSON.parse(text) as { entry?: unknown[] };
  return { ms, entries: bundle.entry?.length ?? 0, ok: true };
}

async function run(seconds: number, record: boolean) {
  const latencies: number[] = [];
  let errors = 0;
  let entries = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: job.clients }, async (_, c) => {
      let n = c;
      while (performance.now() < end) {
        const r = await one(job.paths[(n * 7919) % job.paths.length]!);
        n += job.clients;
        if (!record) continue;
        if (!r.ok) errors += 1;
        latencies.push(r.ms);
        entries += r.entries;
      }
    }),
  );
  return { latencies, errors, entries, seconds: (performance.now() - started) / 1000 };
}

await run(job.warmupSeconds, false);
// The parent measures the server's CPU between this message and the result.
process.send!({ phase: 'measuring' });
const cpu = process.cpuUsage();
const result = await run(job.seconds, true);
const used = process.cpuUsage(cpu);
await pool.close();
process.send!({ ...result, cpuMs: (used.user + used.system) / 1000 }, () => process.exit(0));
