import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/pulsegate', import.meta.url));

/** A TCP port that was free a moment ago (bound to 0, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Runs the real CLI to completion. The environment is cleaned of PULSEGATE_* from the caller. */
export function cli(args: string[], env: Record<string, string> = {}, input?: string) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PULSEGATE_')));
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: { ...clean, ...env },
    encoding: 'utf8',
    timeout: 60_000,
    ...(input !== undefined ? { input } : {}),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `pulsegate init` into a new temporary folder on free ports, as an operator would; returns the
 * folder (remove it afterwards) and the data directory in it. Throws with init's stderr on failure.
 */
export async function initWithCli(prefix: string): Promise<{ dir: string; data: string }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const data = join(dir, 'd');
  const init = cli([
    'init',
    '--data',
    data,
    '--port',
    String(await freePort()),
    '--mqtt-port',
    String(await freePort()),
  ]);
  if (init.code !== 0) throw new Error(`pulsegate init failed: ${init.stderr}`);
  return { dir, data };
}

/** Starts a long-running CLI command (e.g. `serve`); the caller stops it. */
export function cliBackground(
  args: string[],
  env: Record<string, string> = {},
): ChildProcess & { output: () => string } {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PULSEGATE_')));
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...clean, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return Object.assign(child, { output: () => out });
}

/** Runs curl and returns status, headers and body. */
export function curl(args: string[]) {
  const r = spawnSync('curl', ['-sS', '-w', '\n%{http_code}', ...args], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  const lines = (r.stdout ?? '').split('\n');
  const status = Number(lines.pop());
  return { status, body: lines.join('\n'), stderr: r.stderr, code: r.status };
}

export async function waitFor(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error('timed out waiting');
}

/**
 * Resolves with the exit code (null when a signal ended it) once `child` has exited, also when it
 * already had: a process ended by a signal has `exitCode` null but `signalCode` set.
 */
export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

/**
 * Yields to the event loop. `cli()` blocks this worker while the CLI runs; a test that runs it in
 * a loop yields between runs so the worker can answer Vitest's RPC (which times out at 60 s).
 */
export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
