import type { DeviceIdentity } from './ports.js';

/** One live MQTT connection of a device, bound to the certificate it authenticated with. */
export interface DeviceSession {
  readonly deviceId: string;
  /** Certificate serial, lower-case hex without leading zeros. */
  readonly serial: string;
  readonly notAfter: number;
  /** The client id the device chose (the broker namespaces it under the device id). */
  readonly clientId: string;
  readonly address: string | null;
  /** True once the session is being closed: nothing more from it is accepted. */
  closed: boolean;
  /** True once CONNACK was sent (so a disconnect event is due when it ends). */
  announced: boolean;
}

/** Serial numbers compared the same way whether Node ("0A1B"), the PKI or an event wrote them. */
export function normalizeSerial(serial: string): string {
  return serial
    .replace(/[^0-9a-fA-F]/g, '')
    .toLowerCase()
    .replace(/^0+(?=.)/, '');
}

/**
 * The live sessions by device, so a revocation or quarantine can end them at once and the console
 * can count connected devices. `close` is how a session is ended (the broker supplies it).
 */
export class SessionRegistry {
  readonly #byDevice = new Map<string, Map<DeviceSession, () => void>>();
  readonly #expiryTimers = new Map<DeviceSession, NodeJS.Timeout>();

  /** Registers a session; `close` must end its connection now. Sessions end when the certificate expires. */
  open(
    identity: DeviceIdentity,
    info: { clientId: string; address: string | null },
    close: () => void,
  ): DeviceSession {
    const session: DeviceSession = {
      deviceId: identity.deviceId,
      serial: normalizeSerial(identity.serial),
      notAfter: identity.notAfter,
      clientId: info.clientId,
      address: info.address,
      closed: false,
      announced: false,
    };
    let sessions = this.#byDevice.get(session.deviceId);
    if (!sessions) {
      sessions = new Map();
      this.#byDevice.set(session.deviceId, sessions);
    }
    sessions.set(session, close);
    // A certificate that expires mid-session ends the session (timers cap at ~24.8 days; longer
    // sessions are re-checked when that timer fires).
    const arm = () => {
      const left = session.notAfter - Date.now();
      const timer = setTimeout(
        () => (left > 2_000_000_000 ? arm() : this.#end(session)),
        Math.min(Math.max(left, 0), 2_000_000_000),
      );
      timer.unref();
      this.#expiryTimers.set(session, timer);
    };
    arm();
    return session;
  }

  /** Forgets a session whose connection is gone. */
  remove(session: DeviceSession): void {
    session.closed = true;
    const timer = this.#expiryTimers.get(session);
    if (timer) clearTimeout(timer);
    this.#expiryTimers.delete(session);
    const sessions = this.#byDevice.get(session.deviceId);
    sessions?.delete(session);
    if (sessions?.size === 0) this.#byDevice.delete(session.deviceId);
  }

  /** Ends the device's sessions (only those using `serial`, when given); returns how many. */
  closeDevice(deviceId: string, serial?: string): number {
    const wanted = serial === undefined ? undefined : normalizeSerial(serial);
    let n = 0;
    for (const session of [...(this.#byDevice.get(deviceId)?.keys() ?? [])]) {
      if (wanted !== undefined && session.serial !== wanted) continue;
      this.#end(session);
      n++;
    }
    return n;
  }

  /** Ends every session (broker shutdown). */
  closeAll(): void {
    for (const deviceId of [...this.#byDevice.keys()]) this.closeDevice(deviceId);
  }

  /** Devices with at least one CONNACKed session. */
  connectedDevices(): number {
    let n = 0;
    for (const sessions of this.#byDevice.values()) if ([...sessions.keys()].some((s) => s.announced)) n++;
    return n;
  }

  /** Live sessions (a device may hold several, e.g. one publishing and one subscribing). */
  sessionCount(): number {
    let n = 0;
    for (const sessions of this.#byDevice.values()) n += sessions.size;
    return n;
  }

  #end(session: DeviceSession): void {
    const close = this.#byDevice.get(session.deviceId)?.get(session);
    this.remove(session);
    close?.();
  }
}
