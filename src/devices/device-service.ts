import { sql } from 'kysely';
import type { Principal } from '../access/index.js';
import { externalKeyOf, isHashedKey } from '../device-key.js';
import { PulsegateError } from '../errors.js';
import type { EventBus } from '../events/index.js';
import type { Database, Kysely, Store } from '../store/index.js';
import type { DevicesTable } from '../store/tables/devices.js';
import { deviceSummary, NO_MATCH } from './device-summary.js';
import type { Device, DeviceCreate, DeviceListQuery, DevicePatch, Lifecycle } from './schemas.js';

/** The narrow audit interface the inventory needs. */
export interface DeviceAudit {
  append(event: {
    actor: { type: 'user' | 'client' | 'system'; id?: string; name?: string; role?: string };
    action: string;
    resource: { type: string; id?: string };
    outcome: 'success' | 'failure' | 'denied';
    reason?: string;
  }): Promise<unknown>;
}

/** Which devices a caller may see: everything, or only some care units / device ids. */
export interface DeviceVisibility {
  careUnits?: readonly string[];
  deviceIds?: readonly string[];
}

/**
 * Lifecycle changes a caller may make. Any device still in service can be quarantined or retired;
 * a quarantined device only goes back to `registered` (release: it re-enrolls with a new
 * certificate), never straight to active; an enrolled device can be sent back to `registered`.
 * `enrolled` and `active` are never set by hand: EST enrollment and the first stored message set
 * them. The monitor's response actions (quarantine, release) add revocation and a reason on top.
 */
const TRANSITIONS: Record<Lifecycle, readonly Lifecycle[]> = {
  registered: ['quarantined', 'retired'],
  enrolled: ['registered', 'quarantined', 'retired'],
  active: ['quarantined', 'retired'],
  quarantined: ['registered', 'retired'],
  retired: [],
};

/** Why a change was made and under which audit action, when the caller is a named response action. */
export interface ChangeContext {
  action?: string;
  reason?: string;
}

/** Sortable columns of the list (`-name` sorts descending); the id breaks ties. */
const SORT_COLUMNS = {
  id: 'id',
  type: 'type',
  vendor: 'vendor',
  model: 'model',
  firmwareVersion: 'firmware_version',
  careUnit: 'care_unit',
  bed: 'bed',
  lifecycle: 'lifecycle',
  certificateStatus: 'certificate_status',
  lastSeenAt: 'last_seen_at',
  updatedAt: 'updated_at',
} as const;

function sortOf(sort: string): [(typeof SORT_COLUMNS)[keyof typeof SORT_COLUMNS], 'asc' | 'desc'] {
  const desc = sort.startsWith('-');
  const key = (desc ? sort.slice(1) : sort) as keyof typeof SORT_COLUMNS;
  return [SORT_COLUMNS[key] ?? 'id', desc ? 'desc' : 'asc'];
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function toDevice(row: DevicesTable): Device {
  return {
    id: row.id,
    type: row.type,
    vendor: row.vendor,
    model: row.model,
    serial: row.serial,
    firmwareVersion: row.firmware_version,
    careUnit: row.care_unit,
    bed: row.bed,
    ipAddress: row.ip_address,
    macAddress: row.mac_address,
    owner: row.owner,
    eui64: row.eui64,
    gatewayId: row.gateway_id,
    lifecycle: row.lifecycle,
    certificateStatus: row.certificate_status,
    lastSeenAt: iso(row.last_seen_at),
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
    version: row.version,
  };
}

function actorOf(p: Principal | undefined) {
  return p
    ? { type: p.kind, id: p.id, name: p.name, role: p.role }
    : { type: 'system' as const, name: 'pulsegate' };
}

const COLUMN: Record<string, keyof DevicesTable> = {
  type: 'type',
  vendor: 'vendor',
  model: 'model',
  serial: 'serial',
  firmwareVersion: 'firmware_version',
  careUnit: 'care_unit',
  bed: 'bed',
  ipAddress: 'ip_address',
  macAddress: 'mac_address',
  owner: 'owner',
  lifecycle: 'lifecycle',
  eui64: 'eui64',
  gatewayId: 'gateway_id',
};

/** 16 upper-case hex digits (the schema already checked the shape). */
const eui64Of = (text: string | null | undefined) =>
  text === undefined || text === null ? null : text.replace(/[-:]/g, '').toUpperCase();

const isUniqueViolation = (error: unknown) => {
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  return code === '23505' || code.startsWith('SQLITE_CONSTRAINT');
};

/** A device's gateway must exist, and not be the device itself. Throws DEVICE_GATEWAY_INVALID. */
async function checkGateway(db: Kysely<Database>, deviceId: string, gatewayId: string | null | undefined) {
  if (gatewayId === undefined || gatewayId === null) return;
  if (gatewayId === deviceId) throw new PulsegateError('DEVICE_GATEWAY_INVALID');
  const gateway = await db.selectFrom('devices').select('id').where('id', '=', gatewayId).executeTakeFirst();
  if (!gateway) throw new PulsegateError('DEVICE_GATEWAY_INVALID');
}

/** Refuses an EUI-64 another device already has (the unique index decides under races). */
async function checkEui64(db: Kysely<Database>, deviceId: string, eui64: string | null) {
  if (eui64 === null) return;
  const other = await db
    .selectFrom('devices')
    .select('id')
    .where('eui64', '=', eui64)
    .where('id', '!=', deviceId)
    .executeTakeFirst();
  if (other) throw new PulsegateError('DEVICE_EUI64_EXISTS');
}

/** The device inventory: create, read, list with filters, and audited updates. */
/**
 * Ids Pulsegate keeps for its own certificates: a device id becomes a certificate CN, and an
 * external broker's ACL grants CN `pulsegate-ingest` every device's telemetry (docs/external-broker.md).
 */
const RESERVED_ID = /^pulsegate-/i;

export function createDeviceService(deps: {
  store: Store;
  audit: DeviceAudit;
  /** Receives `device.changed` after every committed change (ingest drops quarantined devices' sessions). */
  bus?: EventBus;
  now?: () => number;
}) {
  const { db } = deps.store;
  const now = deps.now ?? Date.now;

  async function getRow(id: string): Promise<DevicesTable> {
    const row = await db.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new PulsegateError('DEVICE_NOT_FOUND');
    return row;
  }

  return {
    async create(input: DeviceCreate, actor?: Principal): Promise<Device> {
      if (RESERVED_ID.test(input.id))
        throw new PulsegateError('VALIDATION_FAILED', 'device ids starting with pulsegate- are reserved', {
          fields: [{ pointer: '/id', problem: "reserved for Pulsegate's own identities" }],
        });
      const t = now();
      const row: DevicesTable = {
        id: input.id,
        type: input.type,
        vendor: input.vendor,
        model: input.model,
        serial: input.serial ?? null,
        firmware_version: input.firmwareVersion ?? null,
        care_unit: input.careUnit ?? null,
        care_unit_since: null,
        bed: input.bed ?? null,
        ip_address: input.ipAddress ?? null,
        mac_address: input.macAddress?.toLowerCase().replaceAll('-', ':') ?? null,
        owner: input.owner ?? null,
        eui64: eui64Of(input.eui64),
        gateway_id: input.gatewayId ?? null,
        external_key: isHashedKey(externalKeyOf(input.id)) ? externalKeyOf(input.id) : null,
        lifecycle: 'registered',
        certificate_status: 'none',
        last_seen_at: null,
        created_at: t,
        updated_at: t,
        version: 1,
      };
      await checkGateway(db, row.id, row.gateway_id);
      await checkEui64(db, row.id, row.eui64);
      const inserted = await db
        .insertInto('devices')
        .values(row)
        .onConflict((oc) => oc.column('id').doNothing())
        .executeTakeFirst()
        .catch((error: unknown) => {
          throw isUniqueViolation(error) ? new PulsegateError('DEVICE_EUI64_EXISTS') : error;
        });
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) throw new PulsegateError('DEVICE_EXISTS');
      await deps.audit.append({
        actor: actorOf(actor),
        action: 'device.create',
        resource: { type: 'device', id: row.id },
        outcome: 'success',
      });
      return toDevice(row);
    },

    async get(id: string): Promise<Device> {
      return toDevice(await getRow(id));
    },

    async list(query: DeviceListQuery, visibility: DeviceVisibility = {}) {
      let q = db.selectFrom('devices');
      if (visibility.careUnits)
        q = q.where('care_unit', 'in', visibility.careUnits.length ? [...visibility.careUnits] : [NO_MATCH]);
      if (visibility.deviceIds)
        q = q.where('id', 'in', visibility.deviceIds.length ? [...visibility.deviceIds] : [NO_MATCH]);
      if (query.type) q = q.where('type', '=', query.type);
      if (query.lifecycle) q = q.where('lifecycle', '=', query.lifecycle);
      if (query.careUnit) q = q.where('care_unit', '=', query.careUnit);
      if (query.vendor) q = q.where('vendor', '=', query.vendor);
      if (query.certificateStatus) q = q.where('certificate_status', '=', query.certificateStatus);
      if (query.q) {
        // Search text is a bound parameter; LIKE wildcards in it are escaped, not interpreted.
        const pattern = `%${query.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        q = q.where((eb) =>
          eb.or(
            (['id', 'vendor', 'model', 'serial', 'care_unit', 'bed'] as const).map((c) =>
              eb(sql`lower(${sql.ref(c)})`, 'like', sql`${pattern} escape '\\'`),
            ),
          ),
        );
      }
      const limit = query.limit ?? 50;
      const offset = query.offset ?? 0;
      const [column, direction] = sortOf(query.sort ?? 'id');
      const [rows, count] = await Promise.all([
        q.selectAll().orderBy(column, direction).orderBy('id', 'asc').limit(limit).offset(offset).execute(),
        q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { items: rows.map(toDevice), total: Number(count.n), limit, offset };
    },

    async update(
      id: string,
      patch: DevicePatch,
      actor?: Principal,
      context: ChangeContext = {},
    ): Promise<Device> {
      const { row, action, lifecycleChange } = await db.transaction().execute(async (trx) => {
        const current = await trx.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirst();
        if (!current) throw new PulsegateError('DEVICE_NOT_FOUND');
        if (patch.version !== undefined && patch.version !== current.version)
          throw new PulsegateError('DEVICE_VERSION_CONFLICT');
        const lifecycleChange =
          patch.lifecycle && patch.lifecycle !== current.lifecycle ? patch.lifecycle : undefined;
        if (lifecycleChange && !TRANSITIONS[current.lifecycle as Lifecycle]?.includes(lifecycleChange)) {
          throw new PulsegateError(
            'DEVICE_LIFECYCLE_INVALID',
            `cannot go from ${current.lifecycle} to ${lifecycleChange}`,
          );
        }
        const changes: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(patch)) {
          const column = COLUMN[key];
          if (column)
            changes[column] =
              key === 'macAddress' && typeof value === 'string'
                ? value.toLowerCase().replaceAll('-', ':')
                : key === 'eui64'
                  ? eui64Of(value as string | null)
                  : value;
        }
        // A move starts the unit's readings afresh (see migration 020).
        if (patch.careUnit !== undefined && (patch.careUnit ?? null) !== current.care_unit)
          changes.care_unit_since = now();
        if (patch.gatewayId !== undefined) await checkGateway(trx, id, patch.gatewayId);
        if (patch.eui64 !== undefined) await checkEui64(trx, id, changes.eui64 as string | null);
        const updated = await trx
          .updateTable('devices')
          .set({ ...changes, updated_at: now(), version: current.version + 1 })
          .where('id', '=', id)
          .where('version', '=', current.version)
          .returningAll()
          .executeTakeFirst()
          .catch((error: unknown) => {
            throw isUniqueViolation(error) ? new PulsegateError('DEVICE_EUI64_EXISTS') : error;
          });
        if (!updated) throw new PulsegateError('DEVICE_VERSION_CONFLICT');
        return {
          row: updated,
          lifecycleChange,
          action:
            context.action ?? (lifecycleChange ? `device.lifecycle.${lifecycleChange}` : 'device.update'),
        };
      });
      // Announced as soon as it is committed, before the audit append can fail: a quarantine must
      // end the device's sessions and reach the PKI's identity cache whatever happens next.
      deps.bus?.emit('device.changed', {
        deviceId: id,
        change: lifecycleChange ? `lifecycle.${lifecycleChange}` : 'updated',
        at: Number(row.updated_at),
      });
      // Audited after commit: the audit log has its own transaction (and its own sequencer lock).
      await deps.audit.append({
        actor: actorOf(actor),
        action,
        resource: { type: 'device', id },
        outcome: 'success',
        ...(context.reason ? { reason: context.reason } : {}),
      });
      return toDevice(row);
    },

    getRow,

    /** Counts by type and lifecycle and certificate expiry, for the fleet overview. */
    summary(visibility: DeviceVisibility = {}) {
      return deviceSummary(db, visibility, now());
    },

    /** Ids of the devices a limited principal may see (for filtering live figures). */
    async visibleIds(visibility: DeviceVisibility): Promise<Set<string>> {
      if (visibility.deviceIds) return new Set(visibility.deviceIds);
      let q = db.selectFrom('devices').select('id');
      if (visibility.careUnits)
        q = q.where('care_unit', 'in', visibility.careUnits.length ? [...visibility.careUnits] : [NO_MATCH]);
      return new Set((await q.execute()).map((r) => r.id));
    },

    /**
     * The devices with these EUI-64s (16 upper-case hex digits): id, gateway and lifecycle, for
     * HL7 ingest to check that the sending gateway owns them.
     */
    /**
     * The device id a key of external identifiers names (see external-key.ts), or undefined when
     * no device has it. A natural key is the id itself (whether that device exists is the caller's
     * next lookup).
     */
    async idOfExternalKey(key: string): Promise<string | undefined> {
      if (!isHashedKey(key)) return key;
      const row = await db
        .selectFrom('devices')
        .select('id')
        .where('external_key', '=', key)
        .executeTakeFirst();
      return row?.id;
    },

    async byEui64(eui64s: readonly string[]) {
      if (eui64s.length === 0) return [];
      return db
        .selectFrom('devices')
        .select(['id', 'eui64', 'gateway_id', 'lifecycle'])
        .where('eui64', 'in', [...eui64s])
        .execute();
    },
  };
}

export type DeviceService = ReturnType<typeof createDeviceService>;

/**
 * Records a device's certificate status inside the caller's transaction, so that the PKI changes
 * its certificate rows and the device in one commit. A first valid certificate moves a registered
 * device to enrolled. Throws DEVICE_NOT_FOUND. Returns the lifecycle after the change.
 */
export async function setCertificateStatus(
  db: Kysely<Database>,
  deviceId: string,
  status: 'none' | 'valid' | 'expired' | 'revoked',
  at: number,
): Promise<{ lifecycle: string; enrolled: boolean }> {
  const current = await db
    .selectFrom('devices')
    .select('lifecycle')
    .where('id', '=', deviceId)
    .executeTakeFirst();
  if (!current) throw new PulsegateError('DEVICE_NOT_FOUND');
  const enrolled = status === 'valid' && current.lifecycle === 'registered';
  await db
    .updateTable('devices')
    .set((eb) => ({
      certificate_status: status,
      ...(enrolled ? { lifecycle: 'enrolled' } : {}),
      updated_at: at,
      version: eb('version', '+', 1),
    }))
    .where('id', '=', deviceId)
    .execute();
  return { lifecycle: enrolled ? 'enrolled' : current.lifecycle, enrolled };
}
