import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { authorize, permissionsOf } from './policy.js';
import type { Principal } from './principal.js';
import { PERMISSIONS, ROLES, roleHas } from './roles.js';
import { grantScopes, parseSmartScope, scopePermissions, scopesAllow, splitScopes } from './smart-scopes.js';

const perms = (scope: string) => {
  const parsed = parseSmartScope(scope);
  if (!parsed) throw new Error(`unparsed ${scope}`);
  return [...scopePermissions(parsed)].sort();
};

describe('SMART scope parsing', () => {
  // Examples from SMART App Launch 2.x, "Scopes for requesting FHIR resources".
  it.each([
    ['system/Observation.rs', 'system', 'Observation', 'rs'],
    ['user/*.cruds', 'user', '*', 'cruds'],
    ['patient/*.rs', 'patient', '*', 'rs'],
    ['patient/Observation.c', 'patient', 'Observation', 'c'],
    ['user/Patient.read', 'user', 'Patient', 'rs'],
    ['system/*.write', 'system', '*', 'cud'],
    ['system/*.*', 'system', '*', 'cruds'],
  ])('parses %s', (scope, context, resource, letters) => {
    const parsed = parseSmartScope(scope);
    expect(parsed?.context).toBe(context);
    expect(parsed?.resource).toBe(resource);
    expect([...(parsed?.interactions ?? [])].sort().join('')).toBe([...letters].sort().join(''));
  });

  it.each([
    'system/Observation.sr', // v2 letters must keep the order c, r, u, d, s
    'system/Observation.rr',
    'system/Observation.x',
    'system/Observation.',
    'admin/Observation.rs',
    'system/observation.rs',
    'system/Observation.rs?category=vital-signs', // granular scopes are not widened to the whole type
    'openid',
    'launch/patient',
    '',
  ])('refuses %j', (scope) => {
    expect(parseSmartScope(scope)).toBeUndefined();
  });

  it('never throws and only accepts the grammar, for any input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        const parsed = parseSmartScope(s);
        if (parsed)
          expect(s).toMatch(/^(patient|user|system)\/(\*|[A-Z][A-Za-z]*)\.(read|write|\*|c?r?u?d?s?)$/);
      }),
    );
  });
});

describe('scope → permission mapping', () => {
  it('maps FHIR resource types onto our permissions', () => {
    expect(perms('system/Observation.rs')).toEqual(['telemetry:read']);
    expect(perms('system/Observation.cu')).toEqual(['telemetry:write']);
    expect(perms('system/Observation.cruds')).toEqual(['telemetry:read', 'telemetry:write']);
    expect(perms('user/Patient.read')).toEqual(['patients:read']);
    expect(perms('user/Patient.write')).toEqual(['patients:write']);
    expect(perms('system/Device.rs')).toEqual(['devices:read']);
    expect(perms('system/Device.c')).toEqual([]);
    expect(perms('system/AuditEvent.rs')).toEqual(['audit:read']);
    expect(perms('system/Encounter.rs')).toEqual([]);
    expect(perms('user/*.rs')).toEqual(['audit:read', 'devices:read', 'patients:read', 'telemetry:read']);
  });

  it('never grants anything outside the FHIR mapping (users, clients, keys, break-glass …)', () => {
    for (const p of [
      'users:write',
      'clients:write',
      'keys:rotate',
      'break-glass:use',
      'tokens:create',
    ] as const) {
      expect(scopesAllow(['system/*.*'], p, 'system')).toBe(false);
      expect(scopesAllow(['user/*.cruds'], p, 'user')).toBe(false);
    }
  });

  it("counts only the scopes of the principal's context: patient/ and user/ scopes give a client nothing", () => {
    const client = (scopes: string[]): Principal => ({
      kind: 'client',
      id: 'c',
      name: 'c',
      role: 'integration',
      careUnits: [],
      vendorDevices: [],
      scopes,
    });
    for (const scopes of [['patient/*.rs'], ['patient/Observation.read'], ['user/Observation.rs']]) {
      expect(() => authorize(client(scopes), 'telemetry:read')).toThrow(
        expect.objectContaining({ code: 'ACCESS_DENIED' }),
      );
      expect(permissionsOf(client(scopes))).toEqual([]);
    }
    expect(() => authorize(client(['system/Observation.rs']), 'telemetry:read')).not.toThrow();
    const user: Principal = { ...client(['user/Observation.rs']), kind: 'user', role: 'clinician' };
    expect(() => authorize(user, 'telemetry:read')).not.toThrow();
    expect(() => authorize({ ...user, scopes: ['system/Observation.rs'] }, 'telemetry:read')).toThrow();
  });

  it('scopes only ever narrow the role: for every role, scope set and permission', () => {
    const scopeArb = fc.constantFrom(
      'system/Observation.rs',
      'user/*.cruds',
      'patient/Patient.read',
      'system/Device.s',
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...ROLES),
        fc.array(scopeArb, { maxLength: 3 }),
        fc.constantFrom(...PERMISSIONS),
        (role, scopes, permission) => {
          const principal: Principal = {
            kind: 'client',
            id: 'c',
            name: 'c',
            role,
            careUnits: [],
            vendorDevices: [],
            scopes,
          };
          let allowed = true;
          try {
            authorize(principal, permission);
          } catch {
            allowed = false;
          }
          if (allowed) expect(roleHas(role, permission)).toBe(true);
          if (allowed && scopes.length > 0) expect(scopesAllow(scopes, permission, 'system')).toBe(true);
        },
      ),
    );
  });
});

describe('granting scopes (requested ∩ registered)', () => {
  const registered = ['system/Observation.rs', 'system/Patient.read'];

  it('grants all registered scopes when none are requested', () => {
    expect(grantScopes(undefined, registered)).toEqual(registered);
    expect(grantScopes(splitScopes('  '), registered)).toEqual(registered);
    expect(splitScopes(' system/Device.rs  system/Patient.r ')).toEqual([
      'system/Device.rs',
      'system/Patient.r',
    ]);
  });

  it('keeps requested scopes covered by a registered one and drops the rest', () => {
    expect(
      grantScopes(['system/Observation.r', 'system/Observation.c', 'system/Device.rs'], registered),
    ).toEqual(['system/Observation.r']);
    expect(grantScopes(['system/Patient.s', 'user/Patient.rs'], registered)).toEqual(['system/Patient.s']);
  });

  it('a wildcard registration covers specific types but not another context', () => {
    expect(grantScopes(['system/Device.rs', 'patient/Device.rs'], ['system/*.rs'])).toEqual([
      'system/Device.rs',
    ]);
  });
});
