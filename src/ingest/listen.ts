import type { Server } from 'node:net';

/**
 * Starts `server` listening and resolves with the port it bound (the configured one, or the one
 * the system chose for port 0); rejects if listening fails (e.g. the port is taken).
 */
export async function listenOn(
  server: Server,
  at: { port: number; host: string; backlog: number },
): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : at.port;
}
