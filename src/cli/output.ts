import { isPulsegateError } from '../errors.js';

/** Exit codes: 0 success, 1 the operation failed, 2 the command line was wrong, 3 verification failed. */
export const EXIT = { ok: 0, failed: 1, usage: 2, verifyFailed: 3 } as const;

export interface OutputOptions {
  json?: boolean;
}

/** Prints a result: JSON for scripts with `--json`, otherwise the human text. */
export function print(opts: OutputOptions, value: unknown, human: () => string): void {
  process.stdout.write(opts.json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}

const NETWORK_ERRORS = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ECONNRESET',
  'EAI_AGAIN',
]);

/** Prints an error with its stable code to stderr and returns the exit code to use. */
export function reportError(error: unknown, opts: OutputOptions = {}): number {
  if (isPulsegateError(error)) {
    const message = error.detail ?? error.message;
    if (opts.json) process.stderr.write(`${JSON.stringify({ error: { code: error.code, message } })}\n`);
    else process.stderr.write(`error ${error.code}: ${message}\n`);
    return EXIT.failed;
  }
  // A connection that fails at the network level (database or broker down, wrong host) is the
  // operator's to fix: a stable code and the system error's name, not a stack or a raw message.
  const system = (error as NodeJS.ErrnoException | undefined)?.code;
  const code = system && NETWORK_ERRORS.has(system) ? 'SERVICE_UNREACHABLE' : 'INTERNAL';
  const message =
    code === 'SERVICE_UNREACHABLE'
      ? `a service it needs could not be reached (${system}); check the database or server address`
      : ((error as Error)?.message ?? String(error));
  if (opts.json) process.stderr.write(`${JSON.stringify({ error: { code, message } })}\n`);
  else process.stderr.write(`error ${code}: ${message}\n`);
  return EXIT.failed;
}

/** Formats rows as an aligned text table. */
export function table(rows: Array<Record<string, unknown>>): string {
  if (rows.length === 0) return '(none)';
  const cols = Object.keys(rows[0]!);
  const cell = (v: unknown) =>
    v === null || v === undefined ? '' : Array.isArray(v) ? v.join(',') : String(v);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [
    line(cols),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(cols.map((c) => cell(r[c])))),
  ].join('\n');
}
