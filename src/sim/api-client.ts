import { request } from 'node:https';
import { PulsegateError } from '../errors.js';

/** A small HTTPS JSON client for the Pulsegate API, authenticated with a bearer token. */
export class ApiClient {
  readonly #base: string;
  readonly #ca: string | Buffer;
  readonly #token: string;

  constructor(opts: { baseUrl: string; ca: string | Buffer; token: string }) {
    this.#base = opts.baseUrl;
    this.#ca = opts.ca;
    this.#token = opts.token;
  }

  /** Sends a JSON request; resolves the parsed body, rejects with the problem's code. */
  send<T>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.#base}${path}`,
        {
          method,
          ca: this.#ca,
          headers: {
            authorization: `Bearer ${this.#token}`,
            ...(payload
              ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
              : {}),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (text += c));
          res.on('end', () => {
            const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
            if ((res.statusCode ?? 500) < 300) resolve(parsed as T);
            else
              reject(
                new PulsegateError(
                  ((parsed.code as string) ?? 'INTERNAL') as never,
                  `${method} ${path.split('?')[0]} failed`,
                ),
              );
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }
}
