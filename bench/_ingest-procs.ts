/**
 * Child processes of `bench/ingest.ts`: the Pulsegate server, load workers and Mosquitto, with
 * request/reply over IPC and CPU/RSS read from /proc for processes we cannot ask.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';

/**
 * Node's settings as `bin/pulsegate` runs it (see its launcher line), for every bench child;
 * flags given after them override.
 */
export const PULSEGATE_NODE_FLAGS = ['--max-semi-space-size=32'];

/** A forked TypeScript child that answers IPC requests in order. */
export class Child {
  readonly proc: ChildProcess;
  readonly #waiting: Array<(m: unknown) => void> = [];

  constructor(script: string, env: Record<string, string>, execArgv: string[] = []) {
    this.proc = fork(script, [], {
      execArgv: ['--import', 'tsx', ...PULSEGATE_NODE_FLAGS, ...execArgv],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.proc.on('message', (m) => this.#waiting.shift()?.(m));
    this.proc.on('exit', (code) => {
      if (code !== 0 && this.#waiting.length) process.stderr.write(`  child ${script} exited with ${code}\n`);
    });
  }

  /** The next message from the child. */
  next<T>(): Promise<T> {
    return new Promise((resolve) => this.#waiting.push(resolve as (m: unknown) => void));
  }

  ask<T>(message: object): Promise<T> {
    const reply = this.next<T>();
    this.proc.send(message);
    return reply;
  }

  /** Resolves when the process has exited (a CPU profile is written on the way out). */
  exited(): Promise<void> {
    if (this.proc.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => this.proc.once('exit', () => resolve()));
  }

  kill(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

/** User+system CPU time of a process, ms (from /proc/<pid>/stat; clock ticks of 10 ms). */
export function procCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Resident set size of a process, bytes. */
export function procRss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/**
 * Mosquitto as the comparison broker: a TLS listener with the same server certificate and CA,
 * client certificates required and used as identity, no persistence, no ACLs.
 */
export async function startMosquitto(opts: {
  dir: string;
  port: number;
  caBundle: string;
  cert: string;
  key: string;
}): Promise<ChildProcess> {
  const conf = join(opts.dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      'user root',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'max_inflight_messages 0',
      'set_tcp_nodelay true',
      'max_queued_messages 100000',
      `listener ${opts.port} 127.0.0.1`,
      `cafile ${opts.caBundle}`,
      `certfile ${opts.cert}`,
      `keyfile ${opts.key}`,
      'require_certificate true',
      'use_identity_as_username true',
      'allow_anonymous false',
      '',
    ].join('\n'),
  );
  const proc = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 100; i++) {
    if (await portOpen(opts.port)) return proc;
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill();
  throw new Error('mosquitto did not start');
}
