import { Type as T } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { DeviceService } from '../devices/index.js';
import { visibilityOf } from '../devices/index.js';
import { requirePrincipal } from '../http/index.js';
import type { FleetMeter } from './fleet-meter.js';

const Count = T.Integer({ minimum: 0 });

export const FleetSummary = T.Object(
  {
    devices: T.Object(
      {
        total: Count,
        byType: T.Array(
          T.Object(
            { type: T.String(), lifecycle: T.String(), count: Count },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    connected: T.Integer({ minimum: 0, description: 'Devices holding a live MQTT session on this node' }),
    messagesPerSecond: T.Number({ minimum: 0, description: 'Messages stored per second (last 5 s)' }),
    certificates: T.Object(
      {
        expiringSoonDays: Count,
        expiringSoon: Count,
        expired: Count,
        soonest: T.Array(
          T.Object(
            { deviceId: T.String(), notAfter: T.String({ format: 'date-time' }) },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    at: T.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

/** `GET /api/v1/fleet/summary`: the fleet overview in one request, limited to what the caller may see. */
export function fleetRoutes(deps: {
  devices: DeviceService;
  meter: FleetMeter;
  /** Sessions on the embedded broker (all devices); used for unrestricted callers. */
  connectedDevices: () => number;
}): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/api/v1/fleet/summary',
      {
        config: { access: 'devices:read' },
        schema: {
          tags: ['devices'],
          summary:
            'Fleet overview: devices by type and state, live sessions and message rate, certificate expiry',
          response: { 200: FleetSummary },
        },
      },
      async (request) => {
        const visibility = visibilityOf(requirePrincipal(request.principal));
        const limited = Boolean(visibility.careUnits || visibility.deviceIds);
        const [summary, visibleIds] = await Promise.all([
          deps.devices.summary(visibility),
          limited ? deps.devices.visibleIds(visibility) : undefined,
        ]);
        const visible = visibleIds ? (id: string) => visibleIds.has(id) : undefined;
        return {
          devices: { total: summary.total, byType: summary.byType },
          connected: visible ? deps.meter.connected(visible) : deps.connectedDevices(),
          messagesPerSecond: Math.round(deps.meter.messagesPerSecond(visible) * 10) / 10,
          certificates: {
            ...summary.certificates,
            soonest: summary.certificates.soonest.map((s) => ({
              deviceId: s.deviceId,
              notAfter: new Date(s.notAfter).toISOString(),
            })),
          },
          at: new Date().toISOString(),
        };
      },
    );
  };
}
