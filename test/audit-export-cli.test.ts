/**
 * `pulsegate audit export --format syslog` to a receiver: TLS by default (RFC 5425), the receiver's
 * private CA read from `--syslog-ca FILE`, an untrusted receiver refused with a stable code, clear
 * text only when asked for with `--no-syslog-tls`, and bad options refused before anything is sent.
 * The receiver is a TLS (or TCP) server in the test that splits octet-counted frames (RFC 6587).
 */
import { rmSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestTls, type TestTls } from '../src/monitor/notify/test-tls.js';
import { cli, cliBackground, exited, initWithCli } from './support/processes.js';

interface Receiver {
  port: number;
  frames(): string[];
  handshakes(): number;
  close(): void;
}

/** Octet-counted frames (RFC 6587 §3.4.1) from the bytes one connection sent. */
function frames(data: Buffer): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    const end = sp + 1 + Number(data.subarray(i, sp).toString('ascii'));
    out.push(data.subarray(sp + 1, end).toString('utf8'));
    i = end;
  }
  return out;
}

async function receiver(t: TestTls | undefined): Promise<Receiver> {
  const chunks: Buffer[] = [];
  let handshakes = 0;
  const onSocket = (s: net.Socket) => {
    handshakes += 1;
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', () => {});
  };
  const server = t
    ? tls.createServer({ cert: t.cert, key: t.key, minVersion: 'TLSv1.2' }, onSocket)
    : net.createServer(onSocket);
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    frames: () => frames(Buffer.concat(chunks)),
    handshakes: () => handshakes,
    close: () => server.close(),
  };
}

/** Runs the CLI without blocking this process's event loop (the receiver lives here). */
async function exportTo(data: string, extra: string[]) {
  const child = cliBackground(['audit', 'export', '--data', data, '--format', 'syslog', ...extra]);
  const code = await exited(child);
  return { code, output: child.output() };
}

describe('audit export to a syslog receiver', () => {
  let dir: string;
  let data: string;
  let certs: TestTls;
  beforeAll(async () => {
    ({ dir, data } = await initWithCli('pulsegate-export-'));
    certs = makeTestTls();
  });
  afterAll(() => {
    certs.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends every entry over TLS by default, trusting the CA named by --syslog-ca', async () => {
    const r = await receiver(certs);
    const run = await exportTo(data, [
      '--syslog-host',
      '127.0.0.1',
      '--syslog-port',
      String(r.port),
      '--syslog-ca',
      certs.caFile,
    ]);
    r.close();
    expect(run.code, run.output).toBe(0);
    const got = r.frames();
    const printed = cli(['audit', 'export', '--data', data, '--format', 'syslog']).stdout.trim().split('\n');
    expect(got.length).toBeGreaterThan(0);
    // Equal but for PROCID (the exporting process's pid, RFC 5424 §6.2.6).
    const withoutPid = (line: string) => line.replace(/^(\S+ \S+ \S+ \S+ )\d+ /, '$1- ');
    expect(got.map(withoutPid)).toEqual(printed.map(withoutPid));
    expect(run.output).toContain(`exported ${got.length} entries`);
  });

  it('refuses a receiver whose certificate it does not trust, with a stable code', async () => {
    const r = await receiver(certs);
    const run = await exportTo(data, ['--syslog-host', '127.0.0.1', '--syslog-port', String(r.port)]);
    r.close();
    expect(run.code).toBe(1);
    expect(run.output).toContain('AUDIT_EXPORT_RECEIVER_UNREACHABLE');
    expect(r.frames()).toEqual([]);
  });

  it('sends in clear only with --no-syslog-tls', async () => {
    const r = await receiver(undefined);
    const run = await exportTo(data, [
      '--syslog-host',
      '127.0.0.1',
      '--syslog-port',
      String(r.port),
      '--no-syslog-tls',
    ]);
    r.close();
    expect(run.code, run.output).toBe(0);
    expect(r.frames()[0]).toMatch(/^<\d+>1 /);
  });

  it('refuses bad options before connecting', async () => {
    const r = await receiver(certs);
    const port = String(r.port);
    const bad = [
      ['--after', 'abc'],
      ['--after', '-2'],
      ['--syslog-host', '127.0.0.1', '--syslog-port', '70000'],
      ['--syslog-host', '127.0.0.1', '--syslog-port', port, '--syslog-ca', `${dir}/no-such-ca.pem`],
    ];
    for (const args of bad) {
      const run = await exportTo(data, args);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.output, args.join(' ')).toContain('VALIDATION_FAILED');
    }
    r.close();
    expect(r.handshakes()).toBe(0);
  });
});
