/**
 * `npm run bench -- tls-idle [--connections 5000]`
 *
 * What one idle mutual-TLS connection costs a Node.js server, apart from any broker: the floor
 * under the embedded broker's "RSS per idle connected device" (issue 3 target <= 30 KB; the
 * full broker figure is in `npm run bench -- ingest`). For each server variant a child process
 * (`bench/_tls-idle-server.ts`, `--expose-gc`) accepts `--connections` connections from this
 * process (a P-256 client certificate each, as devices present) and holds them idle; the RSS
 * growth per connection is measured after the heap settles. Each variant also reports whether a
 * client offering its session back is resumed (an abbreviated handshake in a reconnect storm).
 *
 * Variants: Node's defaults (TLS 1.3, two session tickets per connection: the broker with
 * `mqtt.tlsSessionTickets: true`); one ticket per connection, set through OpenSSL's own
 * configuration (the shipped `config/openssl.cnf`: `NumTickets = 1`, the only way to reach that
 * setting from Node); no tickets (`SSL_OP_NO_TICKET`: `mqtt.tlsSessionTickets: false`); TLS 1.2 only; and
 * plain TCP as the cost of the socket alone. Certificates are made with the openssl CLI.
 */
import { fork } from 'node:child_process';
import { constants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import tls, { type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { issueLeaf, makeTestTls } from '../src/monitor/notify/test-tls.js';
import { printResult, printTable } from './_report.js';

const { values } = parseArgs({ options: { connections: { type: 'string', default: '5000' } } });
const N = Number(values.connections);
const TARGET_KB = 30;
const here = dirname(fileURLToPath(import.meta.url));
// The test CA and a server certificate for localhost, plus one client certificate from that CA.
const certificates = makeTestTls();
const dir = certificates.dir;
const progress = (line: string) => process.stderr.write(`  ${line}\n`);

interface Variant {
  name: string;
  server: { tls: boolean; maxVersion?: 'TLSv1.2' | 'TLSv1.3'; secureOptions?: number };
  env?: Record<string, string>;
}

interface Measured {
  variant: string;
  connected: number;
  kbPerConnection: number;
  heapKbPerConnection: number;
  resumed: boolean | null;
}

async function measure(v: Variant): Promise<Measured> {
  const child = fork(join(here, '_tls-idle-server.ts'), [], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    env: { ...process.env, ...v.env, BENCH_TLS_VARIANT: JSON.stringify(v.server), BENCH_TLS_DIR: dir },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <T>() => new Promise<T>((resolve) => child.once('message', (m) => resolve(m as T)));
  const { port } = await next<{ port: number }>();
  const ask = () => {
    const reply = next<{ rss: number; heap: number; open: number }>();
    child.send({});
    return reply;
  };
  const ca = readFileSync(join(dir, 'ca.pem'));
  const cert = readFileSync(join(dir, 'client.pem'));
  const key = readFileSync(join(dir, 'client.key'));
  const connect = (session?: Buffer): Promise<TLSSocket | net.Socket> =>
    new Promise((resolve, reject) => {
      if (!v.server.tls) {
        const s = net.connect(port, '127.0.0.1', () => resolve(s));
        s.on('error', reject);
        return;
      }
      const s = tls.connect(
        { port, host: '127.0.0.1', servername: 'localhost', ca, cert, key, session },
        () => resolve(s),
      );
      s.on('error', reject);
    });

  const before = await ask();
  const sockets: Array<TLSSocket | net.Socket> = [];
  for (let i = 0; i < N; i += 100)
    sockets.push(...(await Promise.all(Array.from({ length: Math.min(100, N - i) }, () => connect()))));
  await new Promise((r) => setTimeout(r, 500));
  const after = await ask();
  for (const s of sockets) s.destroy();

  // Resumption: a client that kept the session its first connection got.
  let resumed: boolean | null = null;
  if (v.server.tls) {
    const first = (await connect()) as TLSSocket;
    const session = await new Promise<Buffer | undefined>((resolve) => {
      first.once('session', resolve);
      setTimeout(() => resolve(undefined), 1000);
    });
    first.destroy();
    const again = (await connect(session)) as TLSSocket;
    resumed = again.isSessionReused();
    again.destroy();
  }
  child.kill();
  return {
    variant: v.name,
    connected: after.open,
    kbPerConnection: (after.rss - before.rss) / N / 1024,
    heapKbPerConnection: (after.heap - before.heap) / N / 1024,
    resumed,
  };
}

progress(
  `tls-idle bench: ${N} idle connections per variant; ${availableParallelism()} cores, load ${loadavg()[0]!.toFixed(2)}`,
);
try {
  issueLeaf(dir, 'client', '/CN=bench-device-1', 'extendedKeyUsage=clientAuth');
  const variants: Variant[] = [
    { name: 'TLS 1.3, 2 tickets (Node default; tlsSessionTickets: true)', server: { tls: true } },
    {
      name: 'TLS 1.3, 1 ticket (OPENSSL_CONF=config/openssl.cnf)',
      server: { tls: true },
      env: { OPENSSL_CONF: fileURLToPath(new URL('../config/openssl.cnf', import.meta.url)) },
    },
    {
      name: 'TLS 1.3, no tickets (tlsSessionTickets: false)',
      server: { tls: true, secureOptions: constants.SSL_OP_NO_TICKET },
    },
    { name: 'TLS 1.2 only', server: { tls: true, maxVersion: 'TLSv1.2' } },
    { name: 'plain TCP (the socket alone)', server: { tls: false } },
  ];
  const results: Measured[] = [];
  for (const v of variants) {
    progress(`${v.name}...`);
    results.push(await measure(v));
  }
  console.log(
    `\nIdle connections held by a Node.js ${process.version} server (OpenSSL ${process.versions.openssl}), client certificates required\n`,
  );
  printTable(
    results.map((r) => ({
      variant: r.variant,
      connected: r.connected,
      'KB RSS per connection': r.kbPerConnection.toFixed(1),
      'of which JS heap': r.heapKbPerConnection.toFixed(1),
      'session resumed': r.resumed === null ? '' : r.resumed ? 'yes' : 'no',
      target: r.variant.startsWith('plain') ? '' : `<= ${TARGET_KB} KB`,
    })),
  );
  printResult({ name: 'tls-idle', unit: 'KB/connection', connections: N, targetKb: TARGET_KB, results });
} finally {
  certificates.cleanup();
}
