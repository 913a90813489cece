import { describe, expect, it } from 'vitest';
import type { Principal } from '../access/index.js';
import { visibilityOf } from './routes.js';

const clinician: Principal = {
  kind: 'user',
  id: 'u1',
  name: 'nurse',
  role: 'clinician',
  careUnits: ['ICU'],
  vendorDevices: [],
  scopes: [],
};

describe('visibilityOf', () => {
  it('holds a clinician to its care units unless its break-glass session is still running', () => {
    const now = 1_000_000;
    expect(visibilityOf(clinician, now)).toEqual({ careUnits: ['ICU'] });
    expect(visibilityOf({ ...clinician, breakGlass: { id: 'bg', expiresAt: now + 1 } }, now)).toEqual({});
    expect(visibilityOf({ ...clinician, breakGlass: { id: 'bg', expiresAt: now } }, now)).toEqual({
      careUnits: ['ICU'],
    });
    expect(visibilityOf({ ...clinician, role: 'vendor-service', vendorDevices: ['d1'] }, now)).toEqual({
      deviceIds: ['d1'],
    });
    expect(visibilityOf({ ...clinician, role: 'security-analyst' }, now)).toEqual({});
  });
});
