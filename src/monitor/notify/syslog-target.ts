import { createSyslogSender, formatRfc5424, type SyslogSender } from '../../audit/index.js';
import type { AlertEvent } from '../contracts.js';
import { toCef } from './cef.js';

/** RFC 5424 §6.2.1 facilities: 4 security/authorization for security alerts, 16 local0 otherwise. */
const FACILITY = { security: 4, clinical: 16, technical: 16 } as const;
/** RFC 5424 §6.2.1 severities: 2 critical, 3 error, 4 warning, 5 notice, 6 informational. */
const SEVERITY = { critical: 2, high: 3, medium: 4, low: 5, info: 6 } as const;

export interface SyslogFormatOptions {
  format: 'rfc5424' | 'cef';
  hostname?: string | undefined;
  version: string;
  /** Private enterprise number in the SD-ID (32473 is RFC 5612's example number). */
  enterpriseId?: number | undefined;
}

/** An alert event as one RFC 5424 message; with format `cef` its MSG is a CEF record. */
export function alertToSyslog(event: AlertEvent, o: SyslogFormatOptions): string {
  const sd =
    o.format === 'cef'
      ? []
      : [
          {
            id: `alert@${o.enterpriseId ?? 32473}`,
            params: [
              ['alertId', event.alertId],
              ['category', event.category],
              ['severity', event.severity],
              ['rule', event.rule],
              ['change', event.change],
              ['state', event.state],
              ['count', event.count],
              ['deviceId', event.deviceId],
              ['careUnit', event.careUnit],
              ['incidentId', event.incidentId],
              ['escalationLevel', event.escalationLevel],
              ['actor', event.actor],
            ] as Array<[string, string | number | null]>,
          },
        ];
  return formatRfc5424({
    facility: FACILITY[event.category],
    severity: SEVERITY[event.severity],
    time: new Date(event.at).toISOString(),
    hostname: o.hostname,
    appName: 'pulsegate',
    msgId: o.format === 'cef' ? 'CEF' : event.rule,
    structuredData: sd,
    msg: o.format === 'cef' ? toCef(event, o.version) : event.title,
    // CEF receivers look for "CEF:" right after the header.
    noBom: o.format === 'cef',
  });
}

export interface SyslogConnectionOptions {
  host: string;
  port: number;
  ca?: Buffer | undefined;
  servername?: string | undefined;
}

/**
 * One TLS connection to a receiver (RFC 5425, octet-counted frames), opened on first use and
 * re-opened after a failure. A message counts as sent once the kernel accepted it; TLS has no
 * application acknowledgement, so the outbox keeps the message until then and retries on error.
 */
export class SyslogConnection {
  readonly #o: SyslogConnectionOptions;
  #sender: Promise<SyslogSender> | undefined;

  constructor(options: SyslogConnectionOptions) {
    this.#o = options;
  }

  async send(message: string): Promise<void> {
    this.#sender ??= createSyslogSender({
      host: this.#o.host,
      port: this.#o.port,
      tls: true,
      ...(this.#o.ca ? { ca: this.#o.ca } : {}),
      ...(this.#o.servername ? { servername: this.#o.servername } : {}),
    });
    const current = this.#sender;
    try {
      await (await current).send(message);
    } catch (error) {
      if (this.#sender === current) this.#sender = undefined;
      (await current.catch(() => undefined))?.close().catch(() => {});
      throw error;
    }
  }

  async close(): Promise<void> {
    const s = this.#sender;
    this.#sender = undefined;
    await (await s?.catch(() => undefined))?.close();
  }
}
