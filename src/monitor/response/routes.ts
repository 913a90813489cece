import { Type as T } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { Principal, ResourceScope } from '../../access/index.js';
import { Device, DeviceId, type DeviceService } from '../../devices/index.js';
import { requirePrincipal } from '../../http/index.js';
import { REVOCATION_REASONS } from '../../pki/index.js';
import { MAX_REASON_LENGTH, type ResponseActions } from './quarantine.js';

const Params = T.Object({ id: DeviceId }, { additionalProperties: false });
const Reason = T.String({
  minLength: 1,
  maxLength: MAX_REASON_LENGTH,
  description: 'Why (recorded in the audit log)',
});

const QuarantineBody = T.Object(
  {
    reason: Reason,
    revocationReason: T.Optional(
      T.Union(
        REVOCATION_REASONS.filter((r) => r !== 'superseded').map((r) => T.Literal(r)),
        { description: 'CRLReason for the revoked certificates (default keyCompromise)' },
      ),
    ),
  },
  { additionalProperties: false },
);
const ReleaseBody = T.Object({ reason: Reason }, { additionalProperties: false });

const QuarantineReply = T.Object({ device: Device, revokedSerials: T.Array(T.String()) });
const ReleaseReply = T.Object({
  device: Device,
  enrollmentToken: T.Object({
    deviceId: T.String(),
    token: T.String(),
    expiresAt: T.String({ format: 'date-time' }),
  }),
});

/** `POST /api/v1/devices/{id}/quarantine` and `/release`: the response actions. */
export function responseRoutes(deps: {
  actions: ResponseActions;
  devices: DeviceService;
  access: { checkResource(principal: Principal, scope: ResourceScope): void };
}): FastifyPluginAsync {
  return async (app) => {
    async function inScope(principal: Principal, deviceId: string): Promise<void> {
      const device = await deps.devices.get(deviceId);
      deps.access.checkResource(principal, { careUnit: device.careUnit, deviceId });
    }

    app.post(
      '/api/v1/devices/:id/quarantine',
      {
        config: { access: 'devices:quarantine' },
        schema: {
          tags: ['devices'],
          summary: 'Quarantine a device: revoke its certificate, drop its session, refuse reconnects',
          params: Params,
          body: QuarantineBody,
          response: { 200: QuarantineReply },
        },
      },
      async (request) => {
        const principal = requirePrincipal(request.principal);
        const { id } = request.params as { id: string };
        await inScope(principal, id);
        const body = request.body as {
          reason: string;
          revocationReason?: (typeof REVOCATION_REASONS)[number];
        };
        return deps.actions.quarantine(id, body, principal, { source: request.ip, requestId: request.id });
      },
    );

    app.post(
      '/api/v1/devices/:id/release',
      {
        // Release hands out a one-time enrollment token, which only device managers may obtain
        // (devices:write, as for /enrollment-tokens): a security analyst quarantines, the clinical
        // engineer who restored the device releases it.
        config: { access: 'devices:write' },
        schema: {
          tags: ['devices'],
          summary:
            'Release a quarantined device: it re-enrolls over EST with a new certificate (token shown once)',
          params: Params,
          body: ReleaseBody,
          response: { 200: ReleaseReply },
        },
      },
      async (request) => {
        const principal = requirePrincipal(request.principal);
        const { id } = request.params as { id: string };
        await inScope(principal, id);
        const { reason } = request.body as { reason: string };
        const released = await deps.actions.release(id, reason, principal, {
          source: request.ip,
          requestId: request.id,
        });
        return {
          device: released.device,
          enrollmentToken: {
            ...released.enrollmentToken,
            expiresAt: new Date(released.enrollmentToken.expiresAt).toISOString(),
          },
        };
      },
    );
  };
}
