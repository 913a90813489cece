import type { Principal } from '../../access/index.js';
import type { Device, DeviceService } from '../../devices/index.js';
import { PulsegateError } from '../../errors.js';
import type { EventBus } from '../../events/index.js';
import { freeTextProblem } from '../../free-text.js';
import type { CreatedEnrollmentToken, Pki, RevocationReason } from '../../pki/index.js';

/** Where a response action came from (for the audit entry). */
export interface ResponseRequest {
  source?: string;
  requestId?: string;
}

export interface QuarantineInput {
  reason: string;
  /** The CRLReason for the revoked certificates; quarantine assumes the identity cannot be trusted. */
  revocationReason?: RevocationReason;
}

export interface QuarantineResult {
  device: Device;
  revokedSerials: string[];
}

export interface ReleaseResult {
  device: Device;
  enrollmentToken: CreatedEnrollmentToken;
}

export interface ResponseActions {
  quarantine(
    deviceId: string,
    input: QuarantineInput,
    actor?: Principal,
    request?: ResponseRequest,
  ): Promise<QuarantineResult>;
  release(
    deviceId: string,
    reason: string,
    actor?: Principal,
    request?: ResponseRequest,
  ): Promise<ReleaseResult>;
}

export const MAX_REASON_LENGTH = 500;

/**
 * A reason is required, printable and bounded: it goes into the audit log verbatim (operational
 * text for the security team; the console and CLI ask for no patient details in it).
 */
export function checkReason(reason: unknown): string {
  const text = typeof reason === 'string' ? reason.trim() : '';
  if (text.length === 0) throw new PulsegateError('RESPONSE_REASON_REQUIRED');
  const problem = freeTextProblem(text, MAX_REASON_LENGTH);
  if (problem) throw new PulsegateError('VALIDATION_FAILED', `reason ${problem}`);
  return text;
}

const actorName = (actor: Principal | undefined): string => actor?.id ?? 'system';

/**
 * Response actions on a device (issue 5 §6). Quarantine takes a device out of service in an order
 * that closes every door at once: the lifecycle change is committed and announced first (the broker
 * drops the live session and the PKI's identity check refuses the device from then on), then every
 * valid certificate is revoked (CRL, `certificate.revoked`), and the action is audited with actor
 * and reason. Release puts the device back to `registered` and hands out a one-time enrollment
 * token: the device must enroll again over EST and gets a new certificate; the old one stays revoked.
 */
export function createResponseActions(deps: {
  devices: DeviceService;
  pki: Pki;
  bus: EventBus;
  now?: () => number;
}): ResponseActions {
  const now = deps.now ?? Date.now;
  /** A device changed by someone else since it was read: answered as the state it reached. */
  const whenChanged =
    (code: 'RESPONSE_ALREADY_QUARANTINED' | 'RESPONSE_NOT_QUARANTINED') =>
    (error: unknown): never => {
      throw error instanceof PulsegateError && error.code === 'DEVICE_VERSION_CONFLICT'
        ? new PulsegateError(code)
        : error;
    };
  return {
    async quarantine(deviceId, input, actor, request) {
      const reason = checkReason(input.reason);
      const current = await deps.devices.get(deviceId);
      if (current.lifecycle === 'quarantined') throw new PulsegateError('RESPONSE_ALREADY_QUARANTINED');
      if (current.lifecycle === 'retired')
        throw new PulsegateError('DEVICE_LIFECYCLE_INVALID', 'a retired device cannot be quarantined');
      // Conditional on the version read above: of two quarantines at once, one wins.
      const device = await deps.devices
        .update(deviceId, { lifecycle: 'quarantined', version: current.version }, actor, {
          action: 'device.quarantine',
          reason,
        })
        .catch(whenChanged('RESPONSE_ALREADY_QUARANTINED'));
      let revokedSerials: string[] = [];
      if (current.certificateStatus === 'valid') {
        try {
          const revoked = await deps.pki.revoke(
            { deviceId },
            input.revocationReason ?? 'keyCompromise',
            actor,
            request,
          );
          revokedSerials = revoked.revoked.map((r) => r.serial);
        } catch (error) {
          // Another node may have revoked it in between; the quarantine itself stands.
          if (!(error instanceof PulsegateError && error.code === 'PKI_CERT_NOT_FOUND')) throw error;
        }
      }
      deps.bus.emit('device.quarantined', { deviceId, actor: actorName(actor), at: now() });
      return { device: await deps.devices.get(device.id), revokedSerials };
    },

    async release(deviceId, reasonText, actor, request) {
      const reason = checkReason(reasonText);
      const current = await deps.devices.get(deviceId);
      if (current.lifecycle !== 'quarantined') throw new PulsegateError('RESPONSE_NOT_QUARANTINED');
      // A device quarantined by a bare lifecycle change may still hold a valid certificate: the
      // release must not bring it back, only the new one enrolled after it.
      if (current.certificateStatus === 'valid') {
        await deps.pki.revoke({ deviceId }, 'superseded', actor, request).catch((error: unknown) => {
          if (!(error instanceof PulsegateError && error.code === 'PKI_CERT_NOT_FOUND')) throw error;
        });
      }
      // Conditional on the version read above: of two releases at once, one wins (and only its
      // enrollment token is handed out).
      const device = await deps.devices
        .update(deviceId, { lifecycle: 'registered', version: current.version }, actor, {
          action: 'device.release',
          reason,
        })
        .catch(whenChanged('RESPONSE_NOT_QUARANTINED'));
      const enrollmentToken = await deps.pki.createEnrollmentToken(deviceId, actor, request);
      deps.bus.emit('device.released', { deviceId, actor: actorName(actor), at: now() });
      return { device, enrollmentToken };
    },
  };
}
