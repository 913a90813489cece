/**
 * The server half of `bench/tls-idle.ts`: one listener configured as `BENCH_TLS_VARIANT` says
 * (mutual TLS with the given options, or plain TCP), holding every connection open and idle. On
 * each IPC request it settles the heap (`--expose-gc`) and reports RSS, heap and the count of
 * open connections. Sessions offered back by clients are resumed from tickets (stateless, as the
 * embedded broker does).
 */
import { readFileSync } from 'node:fs';
import net, { type Socket } from 'node:net';
import tls from 'node:tls';

interface Variant {
  tls: boolean;
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  secureOptions?: number;
}

const variant = JSON.parse(process.env.BENCH_TLS_VARIANT!) as Variant;
const dir = process.env.BENCH_TLS_DIR!;
const open = new Set<Socket>();
const hold = (s: Socket) => {
  open.add(s);
  s.on('data', () => {});
  s.on('error', () => {});
  s.on('close', () => open.delete(s));
};
const server = variant.tls
  ? tls.createServer(
      {
        cert: readFileSync(`${dir}/server.pem`),
        key: readFileSync(`${dir}/server.key`),
        ca: readFileSync(`${dir}/ca.pem`),
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        ...(variant.maxVersion ? { maxVersion: variant.maxVersion } : {}),
        ...(variant.secureOptions !== undefined ? { secureOptions: variant.secureOptions } : {}),
      },
      hold,
    )
  : net.createServer(hold);
server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as net.AddressInfo).port }));

const gc = (globalThis as { gc?: () => void }).gc!;
process.on('message', async () => {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 200));
  }
  const m = process.memoryUsage();
  process.send!({ rss: m.rss, heap: m.heapUsed, open: open.size });
});
