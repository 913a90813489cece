import type { ServerResponse } from 'node:http';
import type { Principal, ResourceScope } from '../../access/index.js';
import type { Permission } from '../../access/roles.js';
import { PulsegateError } from '../../errors.js';
import type { AlertEvent } from '../contracts.js';
import { type Route, routeMatches } from './routing.js';

/** The live-stream event kinds of MONITOR-API.md. */
export type StreamEvent =
  | { kind: 'alert'; data: AlertEvent }
  | { kind: 'telemetry'; data: { deviceId: string; count: number; at: number }; careUnit: string | null }
  | { kind: 'device'; data: { deviceId: string; change: string; at: number }; careUnit: string | null };

export interface StreamHubOptions {
  access: {
    authorize(principal: Principal, permission: Permission): void;
    checkResource(principal: Principal, scope: ResourceScope): void;
  };
  heartbeatMs: number;
  /** A client with more unsent bytes than this is dropped (never buffered without bound). */
  maxBufferBytes: number;
  maxSubscribers: number;
  /** Streams one principal may hold at once, so one account cannot take every slot. */
  maxPerPrincipal?: number;
  /** Roles limited to care units see only clinical and technical alerts (MONITOR-API.md). */
  isCareUnitLimited(principal: Principal): boolean;
  /** Which alert events the stream carries at all (severity, category, change); default: every change. */
  route?: Route | undefined;
}

/** Every kind of event the stream carries. */
export const STREAM_KINDS: ReadonlyArray<StreamEvent['kind']> = ['alert', 'telemetry', 'device'];

interface Subscriber {
  principal: Principal;
  res: ServerResponse;
  /** The kinds this subscriber asked for. */
  kinds: ReadonlySet<StreamEvent['kind']>;
  /** Authenticates the subscriber's credential again (role, care units, revocation, expiry). */
  revalidate: (() => Promise<Principal>) | undefined;
}

const PERMISSION: Readonly<Record<StreamEvent['kind'], Permission>> = {
  alert: 'alerts:read',
  telemetry: 'telemetry:read',
  device: 'devices:read',
};

/**
 * Server-Sent Events fan-out (WHATWG HTML §9.2). Each subscriber only receives what its principal
 * may read: the event kind's permission, then the care-unit and vendor limits of the device or
 * alert. Writes never wait: a subscriber whose socket buffer grows past the limit is disconnected
 * (it reconnects and re-reads state through the API), so one slow client cannot hold memory.
 */
export class StreamHub {
  readonly #o: StreamHubOptions;
  readonly #subs = new Set<Subscriber>();
  /** Subscribers per event kind they asked for, so `wants` costs no walk per event. */
  readonly #wanting = new Map<StreamEvent['kind'], number>();
  readonly #timer: NodeJS.Timeout;
  /** Subscribers dropped for being too slow (for metrics and tests). */
  dropped = 0;

  constructor(options: StreamHubOptions) {
    this.#o = options;
    this.#timer = setInterval(() => this.#heartbeat(), options.heartbeatMs);
    this.#timer.unref();
  }

  get size(): number {
    return this.#subs.size;
  }

  /** True when some subscriber asked for `kind` (so a publisher can skip building the event). */
  wants(kind: StreamEvent['kind']): boolean {
    return (this.#wanting.get(kind) ?? 0) > 0;
  }

  #add(sub: Subscriber): void {
    this.#subs.add(sub);
    for (const kind of sub.kinds) this.#wanting.set(kind, (this.#wanting.get(kind) ?? 0) + 1);
  }

  #remove(sub: Subscriber): void {
    if (!this.#subs.delete(sub)) return;
    for (const kind of sub.kinds) this.#wanting.set(kind, (this.#wanting.get(kind) ?? 1) - 1);
  }

  /**
   * Starts an event stream on a hijacked response. With `revalidate`, the credential is checked
   * again at every heartbeat: a revoked or expired token, a disabled account or a changed role or
   * care unit takes effect on an open stream too (the stream ends, or its filter follows).
   */
  subscribe(
    principal: Principal,
    res: ServerResponse,
    revalidate?: () => Promise<Principal>,
    kinds: ReadonlySet<StreamEvent['kind']> = new Set(STREAM_KINDS),
  ): void {
    if (this.#subs.size >= this.#o.maxSubscribers) throw new PulsegateError('NOTIFY_STREAM_FULL');
    let mine = 0;
    for (const sub of this.#subs) if (sub.principal.id === principal.id) mine += 1;
    if (mine >= (this.#o.maxPerPrincipal ?? 10))
      throw new PulsegateError('NOTIFY_STREAM_FULL', 'too many live streams open for this account');
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
      // The hijacked response skips the server's header hooks: repeat the HSTS policy of the API.
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
    });
    res.write('retry: 5000\n: connected\n\n');
    const sub: Subscriber = { principal, res, revalidate, kinds };
    this.#add(sub);
    const drop = () => this.#remove(sub);
    res.on('close', drop);
    res.on('error', drop);
  }

  publish(event: StreamEvent): void {
    let frame: string | undefined;
    for (const sub of this.#subs) {
      if (!sub.kinds.has(event.kind) || !this.#allowed(sub.principal, event)) continue;
      frame ??= `event: ${event.kind}\ndata: ${JSON.stringify(event.data)}\n\n`;
      this.#write(sub, frame);
    }
  }

  close(): void {
    clearInterval(this.#timer);
    for (const sub of this.#subs) sub.res.end();
    this.#subs.clear();
    this.#wanting.clear();
  }

  #allowed(principal: Principal, event: StreamEvent): boolean {
    if (event.kind === 'alert' && this.#o.route && !routeMatches(this.#o.route, event.data)) return false;
    try {
      this.#o.access.authorize(principal, PERMISSION[event.kind]);
      if (event.kind === 'alert') {
        const a = event.data;
        if (this.#o.isCareUnitLimited(principal) && a.category === 'security') return false;
        this.#o.access.checkResource(principal, {
          careUnit: a.careUnit,
          ...(a.deviceId !== null ? { deviceId: a.deviceId } : {}),
        });
      } else {
        this.#o.access.checkResource(principal, { careUnit: event.careUnit, deviceId: event.data.deviceId });
      }
      return true;
    } catch (error) {
      if (error instanceof PulsegateError) return false;
      throw error;
    }
  }

  #write(sub: Subscriber, frame: string): void {
    const { res } = sub;
    if (res.destroyed || res.writableEnded) {
      this.#remove(sub);
      return;
    }
    if (res.writableLength + Buffer.byteLength(frame) > this.#o.maxBufferBytes) {
      this.dropped++;
      this.#remove(sub);
      res.destroy();
      return;
    }
    res.write(frame);
  }

  #heartbeat(): void {
    for (const sub of this.#subs) {
      this.#write(sub, ': heartbeat\n\n');
      if (!sub.revalidate) continue;
      sub.revalidate().then(
        (principal) => {
          sub.principal = principal;
        },
        () => {
          this.#remove(sub);
          sub.res.end();
        },
      );
    }
  }
}
