import pino, { type Logger } from 'pino';

/**
 * The process logger. Redaction is a second line of defence: code never puts tokens, passwords,
 * keys or patient identifiers into log objects in the first place.
 */
export function createLogger(opts: { level: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      level: opts.level,
      base: { service: 'pulsegate' },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          '*.password',
          '*.token',
          '*.access_token',
          '*.client_assertion',
          '*.masterKey',
          '*.privateKey',
        ],
        censor: '[redacted]',
      },
    },
    opts.destination,
  );
}

export type { Logger };
