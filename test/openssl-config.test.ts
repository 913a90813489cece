/**
 * The shipped `config/openssl.cnf` is valid OpenSSL configuration that Node.js applies at start-up:
 * a TLS 1.3 server started with it sends one session ticket per connection (Node's default is
 * two), and a client can still resume with that ticket. See `npm run bench -- tls-idle` for what
 * it saves per idle connection.
 */
import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CONFIG = fileURLToPath(new URL('../config/openssl.cnf', import.meta.url));
const SERVER = `
const tls = require('node:tls');
const fs = require('node:fs');
const dir = process.env.CERT_DIR;
const server = tls.createServer(
  { cert: fs.readFileSync(dir + '/cert.pem'), key: fs.readFileSync(dir + '/key.pem'), minVersion: 'TLSv1.3' },
  (s) => { s.on('error', () => {}); s.write('x'); },
);
server.listen(0, '127.0.0.1', () => process.send(server.address().port));
`;

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pulsegate-openssl-cnf-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-days',
      '1',
      '-keyout',
      'key.pem',
      '-out',
      'cert.pem',
    ],
    { cwd: dir, stdio: 'pipe', input: '' },
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts the server with `env`, makes two connections (the second offering the first's last ticket). */
async function ticketsAndResumption(
  env: Record<string, string>,
): Promise<{ tickets: number; resumed: boolean }> {
  const child = fork('-e', [SERVER], {
    execPath: process.execPath,
    execArgv: [],
    env: { PATH: process.env.PATH ?? '', CERT_DIR: dir, ...env },
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
