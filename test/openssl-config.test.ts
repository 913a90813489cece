/**
 * The shipped `config/openssl.cnf` is valid OpenSSL configuration that Node.js applies at start-up:
 * a TLS 1.3 server started with it sends one session ticket per connection (Node's default is
 * two), and a client can still resume with that ticket. See `npm run bench -- tls-idle` for what
 * it saves per idle connection.
 */
import { fork } from 'node:child_process';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestTls, type TestTls } from '../src/monitor/notify/test-tls.js';

const CONFIG = fileURLToPath(new URL('../config/openssl.cnf', import.meta.url));
const SERVER = `
const tls = require('node:tls');
const fs = require('node:fs');
const dir = process.env.CERT_DIR;
const server = tls.createServer(
  { cert: fs.readFileSync(dir + '/server.pem'), key: fs.readFileSync(dir + '/server.key'), minVersion: 'TLSv1.3' },
  (s) => { s.on('error', () => {}); s.write('x'); },
);
server.listen(0, '127.0.0.1', () => process.send(server.address().port));
`;

let tlsFiles: TestTls;

beforeAll(() => {
  tlsFiles = makeTestTls();
});

afterAll(() => tlsFiles.cleanup());

/** Starts the server with `env`, makes two connections (the second offering the first's last ticket). */
async function ticketsAndResumption(
  env: Record<string, string>,
): Promise<{ tickets: number; resumed: boolean }> {
  const child = fork('-e', [SERVER], {
    execPath: process.execPath,
    execArgv: [],
    env: { PATH: process.env.PATH ?? '', CERT_DIR: tlsFiles.dir, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const port = await new Promise<number>((resolve) => child.once('message', (m) => resolve(m as number)));
    const connect = (session?: Buffer) =>
      new Promise<{ socket: tls.TLSSocket; sessions: Buffer[] }>((resolve, reject) => {
        const sessions: Buffer[] = [];
        const socket = tls.connect({
          port,
          host: '127.0.0.1',
          servername: 'localhost',
          rejectUnauthorized: false,
          session,
        });
        socket.on('session', (s) => sessions.push(s));
        socket.on('error', reject);
        // Tickets follow the handshake; the server's first data comes after them.
        socket.once('data', () => setTimeout(() => resolve({ socket, sessions }), 200));
      });
    const first = await connect();
    first.socket.destroy();
    const again = await connect(first.sessions.at(-1));
    const resumed = again.socket.isSessionReused();
    again.socket.destroy();
    return { tickets: first.sessions.length, resumed };
  } finally {
    child.kill();
  }
}

describe('config/openssl.cnf', () => {
  it('makes a TLS 1.3 server send one session ticket, which still resumes', async () => {
    expect(await ticketsAndResumption({})).toEqual({ tickets: 2, resumed: true });
    expect(await ticketsAndResumption({ OPENSSL_CONF: CONFIG })).toEqual({ tickets: 1, resumed: true });
  });
});
