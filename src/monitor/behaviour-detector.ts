import type { EventBus, PulsegateEvents } from '../events/index.js';
import {
  addSize,
  advanceHour,
  type BaselineProfile,
  expectedAt,
  type HourOfDay,
  newProfile,
} from './baseline.js';
import type { AlertSink, NewAlert } from './contracts.js';
import type { MonitorRules, RuleName, Thresholds } from './rules.js';

/** What the detector needs to know about a device, from memory (never a query per message). */
export interface DeviceDirectory {
  info(deviceId: string): { type: string | null; careUnit: string | null };
  /**
   * For a device `info` does not know yet (enrolled a moment ago, before the directory's refresh):
   * its entry read from the database now. Undefined when the device is already known. Used only
   * when an alert is raised, so that it is not stored without the device's care unit for good.
   */
  lookup?(deviceId: string): Promise<{ type: string | null; careUnit: string | null }> | undefined;
}

export interface BehaviourDetectorOptions {
  sink: AlertSink;
  rules: () => MonitorRules;
  directory: DeviceDirectory;
  hourOfDay: HourOfDay;
  /** Learned profiles by device; the detector marks changed ones in `dirty`. */
  baselines: Map<string, BaselineProfile>;
  dirty: Set<string>;
  onError: (error: unknown) => void;
}

/** One device's counters for the current window, and the live sessions it holds. */
interface DeviceState {
  window: number;
  messages: number;
  bytes: number;
  connects: number;
  disconnects: number;
  authFailures: number;
  deniedTopics: Set<string>;
  replays: number;
  replayedSeqs: number[];
  seqGaps: number;
  lastSeq: number | null;
  /** Thresholds of the hour: computed when the hour starts. */
  hourLimit: number;
  quietHour: boolean;
  fired: Map<RuleName, number>;
  sessions: Array<{ clientId: string; address: string | null; serial: string | null; at: number }>;
}

/** A refused connection attempt by a device identity (revoked, quarantined, retired). */
export interface RefusedIdentity {
  count: number;
  firstAt: number;
  lastAt: number;
  codes: string[];
  addresses: string[];
}

const MAX_TRACKED = 200_000;
const LIST_CAP = 10;

const pushCapped = <T>(list: T[], v: T) => {
  if (list.length < LIST_CAP && !list.includes(v)) list.push(v);
};

/**
 * Device-behaviour detection at our own broker, no agent on the device (the cloud-side metrics
 * of AWS IoT Device Defender: messages and bytes sent, message size, authorization failures,
 * connection attempts, disconnects, source address changes, topics attempted; plus sequence gaps
 * and replays, clock skew and activity outside the device's usual hours). It listens to the typed
 * bus events and takes time only from them, so a test can replay simulated days in seconds.
 * Per event it does a few map lookups and counter updates: no I/O, no allocation on the common
 * path. A rule that fires reports once per cooldown; the alert store merges repeats.
 */
export class BehaviourDetector {
  readonly #o: BehaviourDetectorOptions;
  readonly #devices = new Map<string, DeviceState>();
  readonly #addresses = new Map<
    string,
    { window: number; failures: number; codes: string[]; fired: number }
  >();
  /** Identities refused at connect since the last fleet check (read by the check). */
  readonly refusedIdentities = new Map<string, RefusedIdentity>();
  readonly #off: Array<() => void> = [];
  readonly #lookups = new Set<Promise<unknown>>();

  constructor(options: BehaviourDetectorOptions) {
    this.#o = options;
  }

  /** Subscribes to the bus; returns the unsubscribe function. */
  attach(bus: EventBus): () => void {
    this.#off.push(
      // What a device sends, as soon as it is validated (not after the group commit).
      bus.on('telemetry.received', (e) => this.onReceived(e)),
      bus.on('telemetry.rejected', (e) => this.onRejected(e)),
      bus.on('ingest.refused', (e) => this.onRefused(e)),
      bus.on('device.connected', (e) => this.onConnected(e)),
      bus.on('device.disconnected', (e) => this.onDisconnected(e)),
    );
    return () => {
      for (const off of this.#off.splice(0)) off();
    };
  }

  /** Devices with more than one live session now: id, and the sessions. */
  duplicateSessions(): Array<{ deviceId: string; sessions: DeviceState['sessions'] }> {
    const out: Array<{ deviceId: string; sessions: DeviceState['sessions'] }> = [];
    for (const [deviceId, st] of this.#devices)
      if (st.sessions.length > 1) out.push({ deviceId, sessions: [...st.sessions] });
    return out;
  }

  onReceived(e: PulsegateEvents['telemetry.received']): void {
    const t = e.receivedAt;
    const st = this.#state(e.deviceId, t);
    const limits = this.#limits(e.deviceId);
    st.messages++;
    st.bytes += e.bytes;
    if (st.messages > limits.messagesPerWindow)
      this.#fire(st, 'device.flood', e.deviceId, t, 'Device sends far more messages than its rule allows', {
        messages: st.messages,
        windowSeconds: this.#o.rules().file.windowSeconds,
        threshold: limits.messagesPerWindow,
        bytes: st.bytes,
      });
    if (st.bytes > limits.bytesPerWindow)
      this.#fire(st, 'device.bytes', e.deviceId, t, 'Device sends more data than its rule allows', {
        bytes: st.bytes,
        windowSeconds: this.#o.rules().file.windowSeconds,
        threshold: limits.bytesPerWindow,
      });
    if (e.bytes > limits.maxMessageBytes)
      this.#fire(st, 'device.message-size', e.deviceId, t, 'Device sent an oversized message', {
        bytes: e.bytes,
        threshold: limits.maxMessageBytes,
      });
    if (e.seq !== null) {
      if (st.lastSeq !== null && e.seq > st.lastSeq + 1) {
        st.seqGaps += e.seq - st.lastSeq - 1;
        if (st.seqGaps > limits.sequenceGapsPerWindow)
          this.#fire(st, 'device.sequence-gap', e.deviceId, t, 'Device skipped sequence numbers', {
            lastSeq: st.lastSeq,
            seq: e.seq,
            skippedInWindow: st.seqGaps,
            threshold: limits.sequenceGapsPerWindow,
          });
      }
      // A replayed older seq (refused at storage, reported by telemetry.rejected) must not make
      // the next fresh message look like a gap.
      st.lastSeq = st.lastSeq === null ? e.seq : Math.max(st.lastSeq, e.seq);
    }
    if (e.deviceTs !== undefined) {
      const skew = e.deviceTs - e.receivedAt;
      if (Math.abs(skew) > limits.clockSkewSeconds * 1000)
        this.#fire(st, 'device.clock-skew', e.deviceId, t, "Device clock is far from the server's", {
          skewSeconds: Math.round(skew / 1000),
          threshold: limits.clockSkewSeconds,
        });
    }
    this.#learn(e.deviceId, st, t, e.bytes);
  }

  onRejected(e: PulsegateEvents['telemetry.rejected']): void {
    const t = e.receivedAt;
    if (e.code === 'TELEMETRY_REPLAY') {
      const st = this.#state(e.deviceId, t);
      st.replays++;
      if (e.seq !== undefined && e.seq !== null) pushCapped(st.replayedSeqs, e.seq);
      const limit = this.#limits(e.deviceId).replaysPerWindow;
      if (st.replays >= limit)
        this.#fire(st, 'device.replay', e.deviceId, t, 'Device replayed old sequence numbers', {
          replays: st.replays,
          seqs: [...st.replayedSeqs],
          lastAcceptedSeq: st.lastSeq,
          threshold: limit,
        });
    } else if (e.code === 'TELEMETRY_CLOCK_SKEW') {
      const st = this.#state(e.deviceId, t);
      this.#fire(st, 'device.clock-skew', e.deviceId, t, "Device clock is far from the server's", {
        refused: e.code,
      });
    }
  }

  onRefused(e: PulsegateEvents['ingest.refused']): void {
    const t = e.at;
    if (e.kind === 'connect' && e.address) this.#addressFailure(e.address, e.code, t, e.deviceId);
    if (!e.deviceId) return;
    const st = this.#state(e.deviceId, t);
    const limits = this.#limits(e.deviceId);
    if (e.kind === 'connect') {
      st.authFailures++;
      const r = this.refusedIdentities.get(e.deviceId) ?? {
        count: 0,
        firstAt: t,
        lastAt: t,
        codes: [],
        addresses: [],
      };
      r.count++;
      r.lastAt = t;
      pushCapped(r.codes, e.code);
      if (e.address) pushCapped(r.addresses, e.address);
      if (this.refusedIdentities.size < MAX_TRACKED) this.refusedIdentities.set(e.deviceId, r);
      if (st.authFailures >= limits.authFailuresPerWindow)
        this.#fire(
          st,
          'device.auth-failures',
          e.deviceId,
          t,
          'Repeated refused connections with this device identity',
          {
            failures: st.authFailures,
            codes: r.codes,
            addresses: r.addresses,
            threshold: limits.authFailuresPerWindow,
          },
        );
      return;
    }
    if (e.code === 'INGEST_TOPIC_DENIED') {
      if (e.topic && st.deniedTopics.size < LIST_CAP) st.deniedTopics.add(e.topic);
      if (st.deniedTopics.size >= limits.deniedTopicsPerWindow)
        this.#fire(st, 'device.topic-spoof', e.deviceId, t, 'Device tried topics that are not its own', {
          kind: e.kind,
          topics: [...st.deniedTopics],
          address: e.address,
          threshold: limits.deniedTopicsPerWindow,
        });
    } else if (e.code === 'INGEST_RATE_LIMITED') {
      this.#fire(st, 'device.flood', e.deviceId, t, 'Device sends far more messages than its rule allows', {
        refused: e.code,
        messages: st.messages,
        windowSeconds: this.#o.rules().file.windowSeconds,
        threshold: limits.messagesPerWindow,
      });
    } else if (e.code === 'INGEST_PAYLOAD_TOO_LARGE') {
      this.#fire(st, 'device.message-size', e.deviceId, t, 'Device sent an oversized message', {
        refused: e.code,
      });
    }
  }

  onConnected(e: PulsegateEvents['device.connected']): void {
    const t = e.at;
    const st = this.#state(e.deviceId, t);
    const limits = this.#limits(e.deviceId);
    st.connects++;
    if (st.connects > limits.connectsPerWindow)
      this.#fire(st, 'device.connects', e.deviceId, t, 'Device reconnects unusually often', {
        connects: st.connects,
        threshold: limits.connectsPerWindow,
      });
    const others = st.sessions.filter((s) => s.address !== e.address);
    st.sessions.push({ clientId: e.clientId, address: e.address, serial: e.serial ?? null, at: t });
    if (st.sessions.length > LIST_CAP) st.sessions.shift();
    if (others.length > 0)
      this.#fire(
        st,
        'device.cloned-identity',
        e.deviceId,
        t,
        'One device identity is connected from two places',
        {
          addresses: [...new Set(st.sessions.map((s) => s.address))],
          clientIds: st.sessions.map((s) => s.clientId),
          serials: [...new Set(st.sessions.map((s) => s.serial).filter((s) => s !== null))],
        },
      );
    if (e.address) this.#sourceAddress(e.deviceId, st, e.address, t);
  }

  onDisconnected(e: PulsegateEvents['device.disconnected']): void {
    const t = e.at;
    const st = this.#state(e.deviceId, t);
    const i = st.sessions.findIndex((s) => s.clientId === e.clientId);
    if (i >= 0) st.sessions.splice(i, 1);
    st.disconnects++;
    const limit = this.#limits(e.deviceId).disconnectsPerWindow;
    if (st.disconnects > limit)
      this.#fire(st, 'device.disconnects', e.deviceId, t, 'Device disconnects unusually often', {
        disconnects: st.disconnects,
        lastReason: e.reason,
        threshold: limit,
      });
  }

  #limits(deviceId: string): Thresholds {
    return this.#o.rules().thresholds(this.#o.directory.info(deviceId).type);
  }

  #state(deviceId: string, t: number): DeviceState {
    const window = Math.floor(t / this.#o.rules().windowMs);
    let st = this.#devices.get(deviceId);
    if (!st) {
      if (this.#devices.size >= MAX_TRACKED) this.#devices.clear();
      st = {
        window,
        messages: 0,
        bytes: 0,
        connects: 0,
        disconnects: 0,
        authFailures: 0,
        deniedTopics: new Set(),
        replays: 0,
        replayedSeqs: [],
        seqGaps: 0,
        lastSeq: null,
        hourLimit: Number.POSITIVE_INFINITY,
        quietHour: false,
        fired: new Map(),
        sessions: [],
      };
      this.#devices.set(deviceId, st);
    } else if (st.window !== window) {
      st.window = window;
      st.messages = 0;
      st.bytes = 0;
      st.connects = 0;
      st.disconnects = 0;
      st.authFailures = 0;
      if (st.deniedTopics.size > 0) st.deniedTopics.clear();
      st.replays = 0;
      if (st.replayedSeqs.length > 0) st.replayedSeqs = [];
      st.seqGaps = 0;
    }
    return st;
  }

  #profile(deviceId: string, t: number): BaselineProfile {
    let p = this.#o.baselines.get(deviceId);
    if (!p) {
      p = newProfile(t);
      this.#o.baselines.set(deviceId, p);
    }
    return p;
  }

  /** Baseline learning and the checks against it: hour-of-day rate, quiet hours, message size. */
  #learn(deviceId: string, st: DeviceState, t: number, bytes: number): void {
    const b = this.#o.rules().baseline;
    const p = this.#profile(deviceId, t);
    this.#o.dirty.add(deviceId);
    const absHour = Math.floor(t / 3_600_000);
    if (advanceHour(p, absHour, this.#o.hourOfDay) || st.hourLimit === Number.POSITIVE_INFINITY) {
      const warm = p.hours >= b.warmupHours && p.hours > 0;
      const h = this.#o.hourOfDay.of(absHour);
      const expected = expectedAt(p, h);
      st.hourLimit = warm ? Math.max(expected * b.rateFactor, expected + b.rateMinExcess) : Number.MAX_VALUE;
      st.quietHour = warm && p.seen[h]! > 0 && p.hourly[h]! < b.offHoursMaxExpected;
    }
    p.curCount++;
    if (p.curCount > st.hourLimit)
      this.#fire(st, 'device.rate-deviation', deviceId, t, 'Device sends far more than usual for this hour', {
        messagesThisHour: p.curCount,
        expected: round(expectedAt(p, this.#o.hourOfDay.of(absHour))),
        limit: round(st.hourLimit),
      });
    if (st.quietHour && p.curCount >= b.offHoursMinMessages)
      this.#fire(st, 'device.off-hours', deviceId, t, 'Device is active at an hour it is usually silent', {
        hourOfDay: this.#o.hourOfDay.of(absHour),
        messagesThisHour: p.curCount,
        expected: round(p.hourly[this.#o.hourOfDay.of(absHour)]!),
        hoursLearned: p.hours,
      });
    if (
      p.sizeN >= b.sizeWarmupMessages &&
      bytes > p.sizeMean * b.sizeFactor &&
      bytes > p.sizeMean + b.sizeMinExcessBytes
    ) {
      this.#fire(st, 'device.size-jump', deviceId, t, 'Device message size jumped far above its usual size', {
        bytes,
        usualBytes: round(p.sizeMean),
        stddev: round(Math.sqrt(p.sizeM2 / Math.max(1, p.sizeN - 1))),
        messagesLearned: p.sizeN,
      });
      return; // an outlier does not teach the baseline
    }
    addSize(p, bytes);
  }

  #sourceAddress(deviceId: string, st: DeviceState, address: string, t: number): void {
    const b = this.#o.rules().baseline;
    const p = this.#profile(deviceId, t);
    if (p.addresses.includes(address)) return;
    this.#o.dirty.add(deviceId);
    const learning = p.addresses.length === 0 || t - p.firstAt < b.addressWarmupHours * 3_600_000;
    if (!learning)
      this.#fire(st, 'device.new-address', deviceId, t, 'Device connected from a new source address', {
        address,
        knownAddresses: [...p.addresses],
      });
    p.addresses.push(address);
    if (p.addresses.length > b.maxAddresses) p.addresses.shift();
  }

  #addressFailure(address: string, code: string, t: number, deviceId: string | null): void {
    const rules = this.#o.rules();
    const window = Math.floor(t / rules.windowMs);
    let a = this.#addresses.get(address);
    if (!a || a.window !== window) {
      if (!a && this.#addresses.size >= MAX_TRACKED) this.#addresses.clear();
      a = { window, failures: 0, codes: [], fired: a?.fired ?? Number.NEGATIVE_INFINITY };
      this.#addresses.set(address, a);
    }
    a.failures++;
    pushCapped(a.codes, code);
    const limit = rules.file.static.addressAuthFailuresPerWindow;
    if (a.failures < limit) return;
    const severity = rules.severity('address.auth-failures');
    if (!severity || (t - a.fired >= 0 && t - a.fired < rules.cooldownMs)) return;
    a.fired = t;
    this.#raise({
      category: 'security',
      severity,
      rule: 'address.auth-failures',
      title: `Authentication-failure storm from ${address}`,
      deviceId: null,
      careUnit: null,
      evidence: {
        address,
        failures: a.failures,
        codes: [...a.codes],
        windowSeconds: rules.file.windowSeconds,
        threshold: limit,
        ...(deviceId ? { lastDeviceId: deviceId } : {}),
      },
      dedupKey: `address.auth-failures:${address}`,
      at: t,
    });
  }

  #fire(
    st: DeviceState,
    rule: RuleName,
    deviceId: string,
    t: number,
    title: string,
    evidence: Record<string, unknown>,
  ): void {
    const rules = this.#o.rules();
    const severity = rules.severity(rule);
    if (!severity) return;
    const last = st.fired.get(rule);
    if (last !== undefined && t - last >= 0 && t - last < rules.cooldownMs) return;
    st.fired.set(rule, t);
    this.#raise({
      category: 'security',
      severity,
      rule,
      title,
      deviceId,
      careUnit: this.#o.directory.info(deviceId).careUnit,
      evidence: { ...evidence, deviceId },
      dedupKey: `${rule}:${deviceId}`,
      at: t,
    });
  }

  #raise(alert: NewAlert): void {
    const { directory, sink, onError } = this.#o;
    const lookup =
      alert.deviceId !== null && alert.careUnit === null ? directory.lookup?.(alert.deviceId) : undefined;
    if (!lookup) {
      sink.raise(alert).catch(onError);
      return;
    }
    const p = lookup
      .then((d) => sink.raise({ ...alert, careUnit: d.careUnit }))
      .catch(onError)
      .finally(() => this.#lookups.delete(p));
    this.#lookups.add(p);
  }

  /** Resolves when every alert waiting for a device lookup has been handed to the sink. */
  async idle(): Promise<void> {
    while (this.#lookups.size > 0) await Promise.allSettled([...this.#lookups]);
  }
}

const round = (n: number) => Math.round(n * 100) / 100;
