import { type Static, Type as T } from '@sinclair/typebox';

export const DEVICE_TYPES = [
  'patient-monitor',
  'infusion-pump',
  'ecg-patch',
  'pulse-oximeter',
  'ventilator',
  'digital-stethoscope',
  'glucose-meter',
  'other',
] as const;

export const LIFECYCLES = ['registered', 'enrolled', 'active', 'quarantined', 'retired'] as const;
export const CERTIFICATE_STATUSES = ['none', 'valid', 'expired', 'revoked'] as const;

const SORT_KEYS = [
  'id',
  'type',
  'vendor',
  'model',
  'firmwareVersion',
  'careUnit',
  'bed',
  'lifecycle',
  'certificateStatus',
  'lastSeenAt',
  'updatedAt',
] as const;
/** List sort keys; `-key` sorts descending. */
const SORTS = SORT_KEYS.flatMap((k) => [k, `-${k}`]) as readonly string[];

const literals = <T extends readonly string[]>(values: T) => T.Union(values.map((v) => T.Literal(v)));

/** Device ids become certificate CNs, MQTT topic segments and URL path segments: keep them plain. */
export const DeviceId = T.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$',
  description: 'Device identifier (ids starting with pulsegate- are reserved)',
});
const Text = (max: number) => T.String({ minLength: 1, maxLength: max, pattern: '^[^\\u0000-\\u001f<>]*$' });
const Ip = T.String({ anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }], maxLength: 45 });
const Mac = T.String({ pattern: '^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$' });
/** IEEE EUI-64: 16 hex digits, or 8 octets separated by '-' or ':'; stored as 16 upper-case hex digits. */
const Eui64 = T.String({
  pattern: '^([0-9A-Fa-f]{16}|[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2}){7}|[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){7})$',
  description: 'IEEE EUI-64 (HL7 PCD-01 OBX-18)',
});

const editable = {
  type: literals(DEVICE_TYPES),
  vendor: Text(100),
  model: Text(100),
  serial: T.Union([Text(100), T.Null()]),
  firmwareVersion: T.Union([Text(64), T.Null()]),
  careUnit: T.Union([Text(64), T.Null()]),
  bed: T.Union([Text(32), T.Null()]),
  ipAddress: T.Union([Ip, T.Null()]),
  macAddress: T.Union([Mac, T.Null()]),
  owner: T.Union([Text(100), T.Null()]),
  eui64: T.Union([Eui64, T.Null()]),
  gatewayId: T.Union([DeviceId, T.Null()]),
};

export const DeviceCreate = T.Object(
  {
    id: DeviceId,
    type: editable.type,
    vendor: editable.vendor,
    model: editable.model,
    serial: T.Optional(editable.serial),
    firmwareVersion: T.Optional(editable.firmwareVersion),
    careUnit: T.Optional(editable.careUnit),
    bed: T.Optional(editable.bed),
    ipAddress: T.Optional(editable.ipAddress),
    macAddress: T.Optional(editable.macAddress),
    owner: T.Optional(editable.owner),
    eui64: T.Optional(editable.eui64),
    gatewayId: T.Optional(editable.gatewayId),
  },
  { additionalProperties: false },
);
export type DeviceCreate = Static<typeof DeviceCreate>;

export const DevicePatch = T.Object(
  {
    ...Object.fromEntries(Object.entries(editable).map(([k, v]) => [k, T.Optional(v)])),
    lifecycle: T.Optional(literals(LIFECYCLES)),
    /** Optimistic concurrency: the version the caller last read. */
    version: T.Optional(T.Integer({ minimum: 1 })),
  } as Record<string, ReturnType<typeof T.Optional>>,
  { additionalProperties: false, minProperties: 1 },
);
export type DevicePatch = Partial<Omit<DeviceCreate, 'id'>> & { lifecycle?: Lifecycle; version?: number };

export const Device = T.Object(
  {
    id: T.String(),
    type: T.String(),
    vendor: T.String(),
    model: T.String(),
    serial: T.Union([T.String(), T.Null()]),
    firmwareVersion: T.Union([T.String(), T.Null()]),
    careUnit: T.Union([T.String(), T.Null()]),
    bed: T.Union([T.String(), T.Null()]),
    ipAddress: T.Union([T.String(), T.Null()]),
    macAddress: T.Union([T.String(), T.Null()]),
    owner: T.Union([T.String(), T.Null()]),
    eui64: T.Union([T.String(), T.Null()]),
    gatewayId: T.Union([T.String(), T.Null()]),
    lifecycle: T.String(),
    certificateStatus: T.String(),
    lastSeenAt: T.Union([T.String(), T.Null()]),
    createdAt: T.String(),
    updatedAt: T.String(),
    version: T.Integer(),
  },
  { additionalProperties: false },
);
export type Device = Static<typeof Device>;
export type DeviceType = (typeof DEVICE_TYPES)[number];
export type Lifecycle = (typeof LIFECYCLES)[number];

export const DeviceListQuery = T.Object(
  {
    type: T.Optional(literals(DEVICE_TYPES)),
    lifecycle: T.Optional(literals(LIFECYCLES)),
    careUnit: T.Optional(Text(64)),
    vendor: T.Optional(Text(100)),
    q: T.Optional(T.String({ minLength: 1, maxLength: 100 })),
    certificateStatus: T.Optional(literals(CERTIFICATE_STATUSES)),
    sort: T.Optional(literals(SORTS)),
    limit: T.Optional(T.Integer({ minimum: 1, maximum: 500, default: 50 })),
    offset: T.Optional(T.Integer({ minimum: 0, maximum: 1_000_000, default: 0 })),
  },
  { additionalProperties: false },
);
export type DeviceListQuery = Static<typeof DeviceListQuery>;

export const DeviceList = T.Object(
  { items: T.Array(Device), total: T.Integer(), limit: T.Integer(), offset: T.Integer() },
  { additionalProperties: false },
);
