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

/** The parts of one RFC 5424 message; header fields are cleaned to PRINTUSASCII and cut to their limits. */
export interface Rfc5424Fields {
  /** RFC 5424 §6.2.1 facility (0-23). */
  facility: number;
  /** RFC 5424 §6.2.1 severity (0 emergency .. 7 debug). */
  severity: number;
  /** RFC 3339 timestamp (§6.2.3). */
  time: string;
  hostname?: string | undefined;
  appName?: string | undefined;
  procId?: string | undefined;
  msgId?: string | undefined;
  /** SD-ELEMENTs (§6.3): SD-ID and its parameters (undefined values are left out). */
  structuredData: ReadonlyArray<{
    id: string;
    params: ReadonlyArray<[string, string | number | boolean | undefined | null]>;
  }>;
  /** Free text; sent as UTF-8 behind a BOM (§6.4), control characters replaced by spaces. */
  msg?: string | undefined;
  /** Leave out the BOM (MSG-ANY, §6.4): for payloads whose receivers expect them first, such as CEF. */
  noBom?: boolean | undefined;
}

/** RFC 5424 §6.3.3: SD-NAME is 1-32 PRINTUSASCII except '=', SP, ']' and '"'. */
function sdName(name: string): string {
  const clean = name.replace(/[^\x21-\x7e]|[= \]"]/g, '').slice(0, 32);
  if (clean.length === 0) throw new Error('empty SD-NAME');
  return clean;
}

/** One RFC 5424 message (without framing). */
export function formatRfc5424(f: Rfc5424Fields): string {
  const pri = f.facility * 8 + f.severity;
  const sd =
    f.structuredData.length === 0
      ? '-'
      : f.structuredData
          .map(
            (e) =>
              `[${sdName(e.id)}${e.params
                .filter(([, v]) => v !== undefined && v !== null)
                .map(([k, v]) => ` ${sdName(k)}="${paramValue(String(v))}"`)
                .join('')}]`,
          )
          .join('');
  const parts = [
    `<${pri}>1`,
    f.time,
    headerField(f.hostname ?? osHostname(), 255),
    headerField(f.appName ?? 'pulsegate', 48),
    headerField(f.procId ?? String(process.pid), 128),
    headerField(f.msgId, 32),
    sd,
  ];
  // MSG is UTF-8 and starts with a BOM (§6.4); control characters would break line-based receivers.
  if (f.msg !== undefined) parts.push(`${f.noBom ? '' : '\uFEFF'}${f.msg}`.replace(/\p{Cc}/gu, ' '));
  return parts.join(' ');
}

/** One RFC 5424 message (without framing) for an entry. */
export function toSyslog(entry: AuditEntry, options: SyslogOptions = {}): string {
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
  const who = entry.actor.name ?? entry.actor.id ?? entry.actor.type;
  const what = entry.resource
    ? ` ${entry.resource.type}${entry.resource.id ? `/${entry.resource.id}` : ''}`
    : '';
  return formatRfc5424({
    facility: FACILITY_LOG_AUDIT,
    severity: SEVERITY[entry.outcome],
    time: entry.time,
    hostname: options.hostname,
    appName: options.appName,
    procId: options.procId,
    msgId: entry.action,
    structuredData: [{ id: `audit@${options.enterpriseId ?? 32473}`, params }],
    msg: `${entry.action} ${entry.outcome} by ${entry.actor.type} ${who}${what}`,
  });
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
