import { Type as T } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import {
  breakGlassActive,
  isCareUnitLimited,
  type Principal,
  type ResourceScope,
  VENDOR_LIMITED,
} from '../access/index.js';
import { requirePrincipal } from '../http/index.js';
import type { DeviceService, DeviceVisibility } from './device-service.js';
import {
  Device,
  DeviceCreate,
  DeviceId,
  DeviceList,
  DeviceListQuery,
  DevicePatch,
  type DevicePatch as DevicePatchT,
} from './schemas.js';

/** What the inventory routes need from access control. */
export interface DeviceRouteAccess {
  checkResource(principal: Principal, scope: ResourceScope): void;
}

/** The list filter a principal is held to (clinicians: care units; vendors: named devices). */
export function visibilityOf(p: Principal, now = Date.now()): DeviceVisibility {
  if (isCareUnitLimited(p) && !breakGlassActive(p, now)) return { careUnits: p.careUnits };
  if (VENDOR_LIMITED.has(p.role)) return { deviceIds: p.vendorDevices };
  return {};
}

const Params = T.Object({ id: DeviceId }, { additionalProperties: false });

/** `/api/v1/devices`: the inventory. */
export function deviceRoutes(deps: {
  devices: DeviceService;
  access: DeviceRouteAccess;
}): FastifyPluginAsync {
  return async (app) => {
    app.post(
      '/api/v1/devices',
      {
        config: { access: 'devices:write' },
        schema: {
          tags: ['devices'],
          summary: 'Register a device',
          body: DeviceCreate,
          response: { 201: Device },
        },
      },
      async (request, reply) => {
        const principal = requirePrincipal(request.principal);
        const body = request.body as DeviceCreate;
        deps.access.checkResource(principal, { careUnit: body.careUnit ?? null, deviceId: body.id });
        reply.status(201);
        return deps.devices.create(body, principal);
      },
    );

    app.get(
      '/api/v1/devices',
      {
        config: { access: 'devices:read' },
        schema: {
          tags: ['devices'],
          summary: 'List devices',
          querystring: DeviceListQuery,
          response: { 200: DeviceList },
        },
      },
      async (request) =>
        deps.devices.list(
          request.query as DeviceListQuery,
          visibilityOf(requirePrincipal(request.principal)),
        ),
    );

    app.get(
      '/api/v1/devices/:id',
      {
        config: { access: 'devices:read' },
        schema: { tags: ['devices'], summary: 'Get a device', params: Params, response: { 200: Device } },
      },
      async (request) => {
        const device = await deps.devices.get((request.params as { id: string }).id);
        deps.access.checkResource(requirePrincipal(request.principal), {
          careUnit: device.careUnit,
          deviceId: device.id,
        });
        return device;
      },
    );

    app.patch(
      '/api/v1/devices/:id',
      {
        config: { access: 'devices:write' },
        schema: {
          tags: ['devices'],
          summary: 'Update a device',
          params: Params,
          body: DevicePatch,
          response: { 200: Device },
        },
      },
      async (request) => {
        const principal = requirePrincipal(request.principal);
        const { id } = request.params as { id: string };
        const current = await deps.devices.get(id);
        deps.access.checkResource(principal, { careUnit: current.careUnit, deviceId: id });
        const patch = request.body as DevicePatchT;
        if (patch.careUnit !== undefined)
          deps.access.checkResource(principal, { careUnit: patch.careUnit, deviceId: id });
        return deps.devices.update(id, patch, principal);
      },
    );
  };
}
