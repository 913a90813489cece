/** Device and DeviceMetric: read and search over the inventory (read-only; devices are managed there). */
import type { Bundle, DeviceMetric, Device as FhirDevice } from '@medplum/fhirtypes';
import { type Device, visibilityOf } from '../devices/index.js';
import { PulsegateError } from '../errors.js';
import { searchset } from './bundle.js';
import { auditBase, type FhirDeps, type FhirRequest } from './context.js';
import { decodeCursor, encodeCursor, searchFingerprint } from './cursor.js';
import {
  DEVICE_ID_SYSTEM,
  DEVICE_TYPE_SYSTEM,
  MAC_SYSTEM,
  metricKinds,
  SERIAL_SYSTEM,
  statusOf,
  toDeviceMetric,
  toFhirDevice,
} from './device.js';
import { metricKeyOf } from './ids.js';
import { MDC } from './observation.js';
import { requireScope } from './scopes.js';
import { type ParamSpec, type ParsedSearch, parseSearch, type TokenValue } from './search-params.js';

export const DEVICE_SEARCH: ParamSpec = {
  type: 'token',
  identifier: 'token',
  location: 'reference',
  status: 'token',
  _count: 'number',
  _cursor: 'cursor',
};
export const DEVICE_METRIC_SEARCH: ParamSpec = { source: 'reference', type: 'token', _count: 'number' };
const DEFAULT_COUNT = 50;
const STATUS_SYSTEM = 'http://hl7.org/fhir/device-status';

const tokenOk = (system: string | undefined, code: string, t: TokenValue, systems: readonly string[]) =>
  (t.system === undefined || systems.includes(t.system) || t.system === system) &&
  (t.code === undefined || t.code === code);

function deviceMatches(d: Device, parsed: ParsedSearch): boolean {
  for (const occ of parsed.tokens.get('type') ?? [])
    if (!occ.some((t) => tokenOk(DEVICE_TYPE_SYSTEM, d.type, t, []))) return false;
  for (const occ of parsed.tokens.get('status') ?? [])
    if (!occ.some((t) => tokenOk(STATUS_SYSTEM, statusOf(d.lifecycle), t, []))) return false;
  for (const occ of parsed.tokens.get('identifier') ?? []) {
    const ids: Array<[string, string | null]> = [
      [DEVICE_ID_SYSTEM, d.id],
      [SERIAL_SYSTEM, d.serial],
      [MAC_SYSTEM, d.macAddress],
    ];
    if (!occ.some((t) => ids.some(([system, value]) => value !== null && tokenOk(system, value, t, []))))
      return false;
  }
  for (const occ of parsed.references.get('location') ?? [])
    if (!occ.some((unit) => d.careUnit === unit)) return false;
  return true;
}

export function deviceApi(deps: FhirDeps) {
  const now = deps.now ?? Date.now;

  /** The device a FHIR id names (its device key), if it exists and the caller may see it. */
  async function reachable(req: FhirRequest, key: string): Promise<Device> {
    const id = await deps.devices.idOfExternalKey(key);
    const row = id === undefined ? undefined : await deps.devices.getRow(id).catch(() => undefined);
    if (!row) throw new PulsegateError('FHIR_NOT_FOUND');
    deps.access.checkResource(req.principal, { careUnit: row.care_unit, deviceId: row.id });
    return deps.devices.get(row.id);
  }

  async function audit(req: FhirRequest, action: string, id: string | undefined, reason?: string) {
    await deps.audit.append({
      ...auditBase(req),
      action,
      resource: id ? { type: 'device', id } : { type: 'device' },
      ...(reason ? { reason } : {}),
    });
  }

  /** Devices the caller may see, matching the search, from offset `at`; returns the next offset. */
  async function scan(req: FhirRequest, parsed: ParsedSearch, at: number, count: number) {
    const visibility = visibilityOf(req.principal, now());
    const types = parsed.tokens.get('type')?.flat() ?? [];
    const units = parsed.references.get('location')?.flat() ?? [];
    const query = {
      sort: 'id' as const,
      limit: 500,
      ...(types.length === 1 && types[0]!.code ? { type: types[0]!.code as Device['type'] as never } : {}),
      ...(units.length === 1 ? { careUnit: units[0]! } : {}),
    };
    const found: Device[] = [];
    let offset = at;
    for (;;) {
      const page = await deps.devices.list({ ...query, offset }, visibility);
      for (let i = 0; i < page.items.length; i++) {
        const d = page.items[i]!;
        if (!deviceMatches(d, parsed)) continue;
        if (found.length === count) return { found, next: offset + i };
        found.push(d);
      }
      offset += page.items.length;
      if (page.items.length < 500) return { found, next: undefined };
    }
  }

  return {
    async read(req: FhirRequest, id: string): Promise<FhirDevice> {
      requireScope(req.principal, 'Device', 'r');
      const device = await reachable(req, id);
      await audit(req, 'device.read', device.id);
      return toFhirDevice(device);
    },

    async search(req: FhirRequest, query: Record<string, unknown>): Promise<Bundle> {
      requireScope(req.principal, 'Device', 's');
      const parsed = parseSearch(query, DEVICE_SEARCH, {
        lenient: req.lenient,
        referenceTargets: { location: ['Location'] },
      });
      const count = parsed.numbers.get('_count') ?? DEFAULT_COUNT;
      const fingerprint = searchFingerprint('Device', parsed.accepted);
      const t = now();
      const at = parsed.cursor ? decodeCursor<number>(deps.keys, parsed.cursor, fingerprint, t) : 0;
      const { found, next } = await scan(req, parsed, at, count);
      await audit(
        req,
        'device.search',
        found.length === 1 ? found[0]!.id : undefined,
        `${found.length} devices`,
      );
      return searchset({
        base: req.base,
        resourceType: 'Device',
        accepted: parsed.accepted,
        resources: found.map(toFhirDevice),
        ...(next !== undefined ? { next: encodeCursor(deps.keys, fingerprint, next, t) } : {}),
        ignored: parsed.ignored,
      });
    },

    async readMetric(req: FhirRequest, id: string): Promise<DeviceMetric> {
      requireScope(req.principal, 'DeviceMetric', 'r');
      const key = metricKeyOf(id);
      if (!key) throw new PulsegateError('FHIR_NOT_FOUND');
      const device = await reachable(req, key.deviceKey);
      const metric = toDeviceMetric(device, key.kind);
      if (!metric) throw new PulsegateError('FHIR_NOT_FOUND');
      await audit(req, 'device-metric.read', device.id);
      return metric;
    },

    async searchMetrics(req: FhirRequest, query: Record<string, unknown>): Promise<Bundle> {
      requireScope(req.principal, 'DeviceMetric', 's');
      const parsed = parseSearch(query, DEVICE_METRIC_SEARCH, {
        lenient: req.lenient,
        referenceTargets: { source: ['Device'] },
      });
      const sources = parsed.references.get('source') ?? [];
      if (sources.length !== 1 || sources[0]!.length !== 1)
        throw new PulsegateError('FHIR_PARAM_INVALID', 'source: exactly one device is required', {
          fields: [{ pointer: 'source', problem: 'exactly one device is required' }],
        });
      const device = await reachable(req, sources[0]![0]!).catch((error: unknown) => {
        if (error instanceof PulsegateError && error.code === 'FHIR_NOT_FOUND') return undefined;
        throw error;
      });
      const metrics = (device ? metricKinds(device.type) : [])
        .map((kind) => toDeviceMetric(device!, kind)!)
        .filter((m) =>
          (parsed.tokens.get('type') ?? []).every((occ) =>
            occ.some((t) =>
              (m.type.coding ?? []).some(
                (c) =>
                  (t.system === undefined || t.system === MDC) && (t.code === undefined || t.code === c.code),
              ),
            ),
          ),
        )
        .slice(0, parsed.numbers.get('_count') ?? DEFAULT_COUNT);
      await audit(req, 'device-metric.search', device?.id, `${metrics.length} metrics`);
      return searchset({
        base: req.base,
        resourceType: 'DeviceMetric',
        accepted: parsed.accepted,
        resources: metrics,
        ignored: parsed.ignored,
      });
    },
  };
}
