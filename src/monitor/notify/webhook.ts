import { createHmac, timingSafeEqual } from 'node:crypto';
import https from 'node:https';
import { PulsegateError } from '../../errors.js';

/**
 * Webhook signing per the Standard Webhooks specification 1.0 (github.com/standard-webhooks/
 * standard-webhooks, spec/standard-webhooks.md): headers `webhook-id` (stable across retries, the
 * receiver's idempotency key), `webhook-timestamp` (Unix seconds of this attempt) and
 * `webhook-signature` = `v1,` + base64(HMAC-SHA256(secret, `${id}.${timestamp}.${body}`)); the
 * secret is serialised `whsec_` + base64 of 24-64 random bytes.
 */
export const SIGNATURE_VERSION = 'v1';

/** Decodes a `whsec_` secret (the raw key bytes). Errors never include the secret. */
export function parseSecret(serialised: string): Buffer {
  const text = serialised.trim();
  const b64 = text.startsWith('whsec_') ? text.slice(6) : text;
  const key = Buffer.from(b64, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || key.length < 24 || key.length > 64) {
    throw new PulsegateError(
      'NOTIFY_SECRET_MISSING',
      'A webhook secret must be whsec_ + base64 of 24 to 64 bytes',
    );
  }
  return key;
}

export function sign(key: Buffer, id: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return `${SIGNATURE_VERSION},${mac}`;
}

/**
 * Verifies as a receiver should: every signature in the space-delimited header is tried with a
 * constant-time comparison, and the timestamp must be within `toleranceSeconds` of now.
 */
export function verify(
  key: Buffer,
  headers: { id: string | undefined; timestamp: string | undefined; signature: string | undefined },
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature || id.includes('.') || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return false;
  const expected = Buffer.from(sign(key, id, Number(timestamp), body));
  return signature.split(' ').some((candidate) => {
    const given = Buffer.from(candidate);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

export interface WebhookAttempt {
  url: string;
  id: string;
  body: string;
  key: Buffer;
  timestampSeconds: number;
  timeoutMs: number;
  ca?: Buffer | undefined;
}

export interface AttemptResult {
  ok: boolean;
  /** Safe reason for a failure (HTTP status or an error code), never the response body. */
  reason?: string;
  /** The receiver's Retry-After, in ms. */
  retryAfterMs?: number;
  /** 410 Gone: the receiver does not want more (Standard Webhooks): dead-letter at once. */
  gone?: boolean;
}

/** One POST; 2xx is success, anything else (redirects included) is a failure. */
export function postWebhook(a: WebhookAttempt): Promise<AttemptResult> {
  return new Promise((resolve) => {
    const req = https.request(
      a.url,
      {
        method: 'POST',
        timeout: a.timeoutMs,
        minVersion: 'TLSv1.2',
        ...(a.ca ? { ca: a.ca } : {}),
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(a.body),
          'user-agent': 'pulsegate-webhooks',
          'webhook-id': a.id,
          'webhook-timestamp': String(a.timestampSeconds),
          'webhook-signature': sign(a.key, a.id, a.timestampSeconds, a.body),
        },
      },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        const retryAfter = Number(res.headers['retry-after']);
        res.on('end', () =>
          resolve(
            status >= 200 && status < 300
              ? { ok: true }
              : {
                  ok: false,
                  reason: `HTTP ${status}`,
                  ...(Number.isFinite(retryAfter) && retryAfter > 0
                    ? { retryAfterMs: retryAfter * 1000 }
                    : {}),
                  ...(status === 410 ? { gone: true } : {}),
                },
          ),
        );
        res.on('error', () => resolve({ ok: false, reason: 'response error' }));
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (error: NodeJS.ErrnoException) =>
      resolve({ ok: false, reason: error.code ?? 'request error' }),
    );
    req.end(a.body);
  });
}
