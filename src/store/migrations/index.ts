import type { Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';
import * as m001 from './001-core.js';
import * as m002 from './002-keys.js';
import * as m003 from './003-access.js';
import * as m004 from './004-audit.js';
import * as m006 from './006-devices.js';
import * as m007 from './007-pki.js';
import * as m008 from './008-telemetry.js';
import * as m009 from './009-fhir.js';
import * as m010 from './010-hl7.js';
import * as m011 from './011-monitor.js';
import * as m012 from './012-clinical.js';
import * as m013 from './013-notify.js';
import * as m014 from './014-telemetry-append-layout.js';
import * as m015 from './015-break-glass-sealed-reason.js';
import * as m016 from './016-alert-history-sealed-reason.js';
import * as m018 from './018-api-token-expiry.js';
import * as m019 from './019-telemetry-care-unit.js';
import * as m020 from './020-device-care-unit-since.js';
import * as m021 from './021-device-external-key.js';

/** A migration receives the dialect so that column types can differ where they must. */
export interface DialectMigration {
  up(db: Kysely<unknown>, dialect: DialectName): Promise<void>;
}

/** All migrations in order. Names are permanent once released: add new files, never edit old ones. */
export const MIGRATIONS: Record<string, DialectMigration> = {
  '001-core': m001,
  '002-keys': m002,
  '003-access': m003,
  '004-audit': m004,
  '006-devices': m006,
  '007-pki': m007,
  '008-telemetry': m008,
  '009-fhir': m009,
  '010-hl7': m010,
  '011-monitor': m011,
  '012-clinical': m012,
  '013-notify': m013,
  '014-telemetry-append-layout': m014,
  '015-break-glass-sealed-reason': m015,
  '016-alert-history-sealed-reason': m016,
  '018-api-token-expiry': m018,
  '019-telemetry-care-unit': m019,
  '020-device-care-unit-since': m020,
  '021-device-external-key': m021,
};
