/**
 * RFC 5424 syslog rendering of entries, and a sender using RFC 6587 octet-counting framing
 * (`MSG-LEN SP SYSLOG-MSG`) over TCP or TLS (RFC 5425).
 */

import net from 'node:net';
import { hostname as osHostname } from 'node:os';
import tls from 'node:tls';
import type { AuditEntry } from './entry.js';

export interface SyslogOptions {
  hostname?: string;
  appName?: string;
  procId?: string;
  /** The private enterprise number in the SD-ID; 32473 is the one RFC 5612 reserves for examples. */
  enterpriseId?: number;
}

/** RFC 5424 §6.2.1: facility 13 is "log audit". */
const FACILITY_LOG_AUDIT = 13;
const SEVERITY: Record<AuditEntry['outcome'], number> = { success: 6, denied: 4, failure: 4 };

/** RFC 5424 §6: header fields are PRINTUSASCII with a maximum length, or NILVALUE. */
function headerField(value: string | undefined, max: number): string {
  if (!value) return '-';
  const clean = value.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return clean.length > 0 ? clean : '-';
}

/** RFC 5424 §6.3.3: inside PARAM-VALUE, '"', '\' and ']' are escaped with a backslash. */
function paramValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** One RFC 5424 message (without framing) for an entry. */
export function toSyslog(entry: AuditEntry, options: SyslogOptions = {}): string {
  const pri = FACILITY_LOG_AUDIT * 8 + SEVERITY[entry.outcome];
  const params: Array<[string, string | number | boolean | undefined]> = [
    ['seq', entry.seq],
    ['action', entry.action],
    ['outcome', entry.outcome],
    ['actorType', entry.actor.type],
    ['actorId', entry.actor.id],
    ['actorName', entry.actor.name],
    ['actorRole', entry.actor.role],
    ['resourceType', entry.resource?.type],
    ['resourceId', entry.resource?.id],
    ['code', entry.code],
    ['reason', entry.reason],
    ['source', entry.source],
    ['breakGlass', entry.breakGlass],
    ['requestId', entry.requestId],
  ];
  const sdId = `audit@${options.enterpriseId ?? 32473}`;
  const sd = `[${sdId}${params
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${paramValue(String(v))}"`)
    .join('')}]`;
  const who = entry.actor.name ?? entry.actor.id ?? entry.actor.type;
  const what = entry.resource
    ? ` ${entry.resource.type}${entry.resource.id ? `/${entry.resource.id}` : ''}`
    : '';
  // MSG is UTF-8 and starts with a BOM (§6.4); control characters would break line-based receivers.
  const msg = `\uFEFF${entry.action} ${entry.outcome} by ${entry.actor.type} ${who}${what}`.replace(
    /\p{Cc}/gu,
    ' ',
  );
  return [
    `<${pri}>1`,
    entry.time,
    headerField(options.hostname ?? osHostname(), 255),
    headerField(options.appName ?? 'pulsegate', 48),
    headerField(options.procId ?? String(process.pid), 128),
    headerField(entry.action, 32),
    sd,
    msg,
  ].join(' ');
}

/** Frames one message with RFC 6587 §3.4.1 octet counting. */
export function frameOctetCounted(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

export interface SyslogSenderOptions {
  host: string;
  port: number;
  /** RFC 5425 syslog over TLS (the receiver's certificate is verified). */
  tls: boolean;
  /** PEM CA certificate (or its contents) that issued the receiver's certificate. */
  ca?: string | Buffer;
  /** TLS server name, if it differs from `host`. */
  servername?: string;
}

export interface SyslogSender {
  /** Sends one message; resolves once it is handed to the kernel. */
  send(message: string): Promise<void>;
  close(): Promise<void>;
}

/** Connects to a syslog receiver over TCP or TLS. */
export async function createSyslogSender(options: SyslogSenderOptions): Promise<SyslogSender> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = options.tls
      ? tls.connect({
          host: options.host,
          port: options.port,
          ...(options.ca ? { ca: options.ca } : {}),
          servername: options.servername ?? (net.isIP(options.host) ? undefined : options.host),
          minVersion: 'TLSv1.2',
        })
      : net.connect({ host: options.host, port: options.port });
    s.once(options.tls ? 'secureConnect' : 'connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
  let failure: Error | undefined;
  socket.on('error', (error) => {
    failure = error;
  });
  return {
    send(message) {
      if (failure || socket.destroyed)
        return Promise.reject(failure ?? new Error('syslog connection closed'));
      return new Promise((resolve, reject) => {
        socket.write(frameOctetCounted(message), (error) => (error ? reject(error) : resolve()));
      });
    },
    close() {
      return new Promise((resolve) => {
        if (socket.destroyed) return resolve();
        socket.once('close', () => resolve());
        socket.end();
      });
    },
  };
}
