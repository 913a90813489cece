/**
 * Shared set-up for ingest tests: a real installation (CA, server certificate), device
 * certificates made with openssl, the mosquitto command-line clients, and bounded waits.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LoadedConfig, loadConfig } from '../../src/config/index.js';
import type { EventBus, PulsegateEvents } from '../../src/events/index.js';
import { createInstallation, installationLayout } from '../../src/installation/index.js';
import { bundle, type CertFiles, issueClientCert, type SigningCa } from './ingest-certs.js';

export interface IngestTestEnv {
  dir: string;
  dataDir: string;
  config: LoadedConfig;
  layout: ReturnType<typeof installationLayout>;
  /** The issuing CA that signs device certificates. */
  issuing: SigningCa;
  /** Root + issuing: what a client trusts to verify the server. */
  caBundle: string;
  tls: { cert: Buffer; key: Buffer; ca: Buffer[] };
  device(id: string, opts?: Parameters<typeof issueClientCert>[3]): CertFiles;
  cleanup(): void;
}

/** Creates an installation in a temp dir (config from `settings`) and the helpers around it. */
export async function ingestTestEnv(
  settings: Record<string, Record<string, unknown>> = {},
): Promise<IngestTestEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'pulsegate-ingest-'));
  const dataDir = join(dir, 'data');
  await createInstallation({
    dataDir,
    settings: { server: { port: 0, host: '127.0.0.1' }, log: { level: 'silent' }, ...settings },
    env: {},
  });
  const layout = installationLayout(dataDir);
  const certs = join(dir, 'certs');
  mkdirSync(certs);
  const issuing = { cert: layout.issuingCaCert, key: layout.issuingCaKey };
  return {
    dir,
    dataDir,
    config: loadConfig(dataDir, {}),
    layout,
    issuing,
    caBundle: bundle(join(certs, 'ca-bundle.pem'), layout.rootCaCert, layout.issuingCaCert),
    tls: {
      cert: readFileSync(layout.serverCert),
      key: readFileSync(layout.serverKey),
      ca: [readFileSync(layout.issuingCaCert), readFileSync(layout.rootCaCert)],
    },
    device: (id, opts) => issueClientCert(certs, issuing, id, opts),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to completion (killed after `timeoutMs`). */
export function run(cmd: string, args: string[], timeoutMs = 10_000): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** `mosquitto_pub`/`mosquitto_sub` TLS arguments for a device (no cert when `device` is null). */
export function tlsArgs(
  env: IngestTestEnv,
  port: number,
  device: Pick<CertFiles, 'cert' | 'key'> | null,
): string[] {
  return [
    '-h',
    'localhost',
    '-p',
    String(port),
    '--cafile',
    env.caBundle,
    ...(device ? ['--cert', device.cert, '--key', device.key] : []),
  ];
}

/** Starts a long-running process and keeps its output. */
export function background(cmd: string, args: string[]): ChildProcess & { output: () => string } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  return Object.assign(child, { output: () => out });
}

/** Resolves when `check` holds, polling every 20 ms; rejects after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every event of the given names, in order, as they are emitted on `bus`. */
export function recordEvents<E extends keyof PulsegateEvents>(bus: EventBus, names: E[]) {
  const seen: Array<{ name: E; payload: PulsegateEvents[E] }> = [];
  for (const name of names) bus.on(name, (payload) => seen.push({ name, payload }));
  return {
    seen,
    of: <N extends E>(name: N) =>
      seen.filter((e) => e.name === name).map((e) => e.payload as PulsegateEvents[N]),
    clear: () => seen.splice(0),
  };
}

export function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}
