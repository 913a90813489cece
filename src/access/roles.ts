/**
 * Roles and their permissions. A permission is `resource:action`; anything not listed here is
 * denied (deny by default). Care-unit and vendor-device limits are applied on top, per resource.
 */
export const ROLES = [
  'admin',
  'security-analyst',
  'clinical-engineer',
  'clinician',
  'auditor',
  'vendor-service',
  'integration',
] as const;

export type Role = (typeof ROLES)[number];

export const PERMISSIONS = [
  'audit:read',
  'audit:export',
  'users:read',
  'users:write',
  'clients:read',
  'clients:write',
  'tokens:create',
  'devices:read',
  'devices:write',
  'devices:revoke',
  'devices:quarantine',
  'patients:read',
  'patients:write',
  'telemetry:read',
  'telemetry:write',
  'alerts:read',
  'alerts:write',
  /**
   * Tune detection fleet-wide: create and delete suppressions, reload the rules, run the fleet
   * checks. Security analysts and admins only: a clinician who could suppress a rule would blind
   * the security team without a trace of an alert.
   */
  'monitor:admin',
  'notify:read',
  'notify:write',
  'keys:rotate',
  'metrics:read',
  'break-glass:use',
  /** Read break-glass sessions with their reasons (which may name patients): auditors, admins. */
  'break-glass:review',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

/** Which roles hold which permissions. Patient data (telemetry, patients) is never given to security roles. */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  admin: PERMISSIONS.filter((p) => p !== 'break-glass:use'),
  'security-analyst': [
    'audit:read',
    'devices:read',
    'devices:quarantine',
    'alerts:read',
    'alerts:write',
    'monitor:admin',
    'notify:read',
    'notify:write',
    'metrics:read',
    'tokens:create',
  ],
  'clinical-engineer': [
    'devices:read',
    'devices:write',
    'devices:revoke',
    'devices:quarantine',
    'alerts:read',
    'tokens:create',
  ],
  clinician: [
    'devices:read',
    'patients:read',
    'telemetry:read',
    'alerts:read',
    'alerts:write',
    'break-glass:use',
  ],
  auditor: ['audit:read', 'audit:export', 'users:read', 'clients:read', 'metrics:read', 'break-glass:review'],
  'vendor-service': ['devices:read'],
  integration: ['devices:read', 'patients:read', 'patients:write', 'telemetry:read', 'telemetry:write'],
};

/** Roles whose reach is limited to their care units (unless break-glass is active). */
export const CARE_UNIT_LIMITED: ReadonlySet<Role> = new Set<Role>(['clinician']);

/** Roles whose reach is limited to named devices within a time window. */
export const VENDOR_LIMITED: ReadonlySet<Role> = new Set<Role>(['vendor-service']);

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function roleHas(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].includes(permission);
}
