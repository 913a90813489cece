import { describe, expect, it } from 'vitest';
import { authorize, checkResource, permissionsOf, readableCareUnits } from './policy.js';
import type { Principal } from './principal.js';

const T = Date.UTC(2026, 0, 15, 12);
const clinician: Principal = {
  kind: 'user',
  id: 'u1',
  name: 'carol',
  role: 'clinician',
  careUnits: ['icu-2'],
  vendorDevices: [],
  scopes: [],
};
const vendor: Principal = {
  kind: 'user',
  id: 'u2',
  name: 'vic',
  role: 'vendor-service',
  careUnits: [],
  vendorDevices: ['pump-7'],
  scopes: [],
  accessNotBefore: T - 3600_000,
  accessNotAfter: T + 3600_000,
};
const code = (fn: () => void) => {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

describe('authorize', () => {
  it('allows what the role holds and denies the rest', () => {
    expect(code(() => authorize(clinician, 'telemetry:read'))).toBe('ok');
    expect(code(() => authorize(clinician, 'users:write'))).toBe('ACCESS_DENIED');
    expect(code(() => authorize({ ...clinician, role: 'admin' }, 'break-glass:use'))).toBe('ACCESS_DENIED');
  });

  it('narrows by SMART scopes when the token carries them', () => {
    const client: Principal = {
      ...clinician,
      kind: 'client',
      role: 'integration',
      scopes: ['system/Observation.rs'],
    };
    expect(code(() => authorize(client, 'telemetry:read'))).toBe('ok');
    expect(code(() => authorize(client, 'telemetry:write'))).toBe('ACCESS_DENIED');
    expect(code(() => authorize(client, 'patients:read'))).toBe('ACCESS_DENIED');
    // A scope cannot add what the role lacks.
    expect(code(() => authorize({ ...client, scopes: ['system/AuditEvent.rs'] }, 'audit:read'))).toBe(
      'ACCESS_DENIED',
    );
    expect(permissionsOf(client)).toEqual(['telemetry:read']);
  });
});

describe('checkResource', () => {
  it('limits clinicians to their care units', () => {
    expect(code(() => checkResource(clinician, { careUnit: 'icu-2' }, T))).toBe('ok');
    expect(code(() => checkResource(clinician, { careUnit: 'ward-5' }, T))).toBe('ACCESS_CARE_UNIT_DENIED');
    expect(code(() => checkResource(clinician, { careUnit: null }, T))).toBe('ACCESS_CARE_UNIT_DENIED');
  });

  it('lets an active break-glass session reach other care units, and not once it expired', () => {
    const bg = { ...clinician, breakGlass: { id: 'bg1', reason: 'code blue', expiresAt: T + 60_000 } };
    expect(code(() => checkResource(bg, { careUnit: 'ward-5' }, T))).toBe('ok');
    expect(code(() => checkResource(bg, { careUnit: 'ward-5' }, T + 60_000))).toBe('ACCESS_CARE_UNIT_DENIED');
  });

  it('does not limit roles that are not care-unit limited', () => {
    expect(
      code(() => checkResource({ ...clinician, role: 'security-analyst' }, { careUnit: 'ward-5' }, T)),
    ).toBe('ok');
  });

  it('limits vendor accounts to listed devices inside their window', () => {
    expect(code(() => checkResource(vendor, { deviceId: 'pump-7' }, T))).toBe('ok');
    expect(code(() => checkResource(vendor, { deviceId: 'pump-8' }, T))).toBe('ACCESS_DENIED');
    expect(code(() => checkResource(vendor, {}, T))).toBe('ACCESS_DENIED');
    expect(code(() => checkResource(vendor, { deviceId: 'pump-7' }, T + 3600_000))).toBe(
      'ACCESS_VENDOR_WINDOW_CLOSED',
    );
    expect(code(() => checkResource(vendor, { deviceId: 'pump-7' }, T - 3600_001))).toBe(
      'ACCESS_VENDOR_WINDOW_CLOSED',
    );
  });
});

describe('readableCareUnits', () => {
  it('holds care-unit limited principals to their units, unless break-glass is active', () => {
    expect(readableCareUnits(clinician, T)).toEqual(['icu-2']);
    const bg = { ...clinician, breakGlass: { id: 'bg1', expiresAt: T + 60_000 } };
    expect(readableCareUnits(bg, T)).toBeUndefined();
    expect(readableCareUnits(bg, T + 60_000)).toEqual(['icu-2']);
    const client: Principal = { ...clinician, kind: 'client', role: 'integration', careUnits: ['ward-5'] };
    expect(readableCareUnits(client, T)).toEqual(['ward-5']);
    expect(readableCareUnits({ ...client, careUnits: [] }, T)).toBeUndefined();
    expect(readableCareUnits({ ...clinician, role: 'admin' }, T)).toBeUndefined();
  });
});
