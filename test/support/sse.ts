/**
 * A minimal Server-Sent Events client over node:https, as a console would hold one: the Bearer
 * token travels in the Authorization header (never in the URL); events are parsed as they arrive.
 */
import https from 'node:https';

export interface SseClient {
  events: Array<{ event: string; data: Record<string, unknown> }>;
  /** Comment lines (`: heartbeat`). */
  comments: string[];
  status: number;
  headers: Record<string, unknown>;
  close(): void;
}

/**
 * Opens `GET {apiUrl}{path}` (default the stream), trusting `ca`, with the token (if any) as a
 * Bearer header; resolves once the response headers arrive.
 */
export function openStream(
  apiUrl: string,
  ca: string | Buffer,
  token: string | undefined,
  opts: {
    path?: string;
    accept?: string;
    /** Called as each event is parsed, before it is kept (e.g. to time its arrival). */
    onEvent?: (event: string, data: Record<string, unknown>) => void;
  } = {},
): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const client: SseClient = {
      events: [],
      comments: [],
      status: 0,
      headers: {},
      close: () => req.destroy(),
    };
    const req = https.get(
      `${apiUrl}${opts.path ?? '/api/v1/stream'}`,
      {
        ca,
        headers: {
          accept: opts.accept ?? 'text/event-stream',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        client.status = res.statusCode ?? 0;
        client.headers = res.headers;
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          for (let i = buffer.indexOf('\n\n'); i >= 0; i = buffer.indexOf('\n\n')) {
            const block = buffer.slice(0, i);
            buffer = buffer.slice(i + 2);
            let event = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) client.comments.push(line.slice(1).trim());
              else if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data.push(line.slice(6));
            }
            if (data.length > 0) {
              const parsed = JSON.parse(data.join('\n')) as Record<string, unknown>;
              opts.onEvent?.(event, parsed);
              client.events.push({ event, data: parsed });
            }
          }
        });
        res.on('error', () => {});
        resolve(client);
      },
    );
    req.on('error', reject);
  });
}

/** Polls `check` (sync or async) every 100 ms until it returns something truthy. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
