import type { Database, Kysely } from '../store/index.js';
import type { DeviceVisibility } from './device-service.js';

/** Certificates that expire within this many days count as "expiring soon". */
export const EXPIRING_SOON_DAYS = 30;
/** Matches no row: `<` is not allowed in care units or device ids (PostgreSQL refuses NUL in text). */
export const NO_MATCH = '<none>';

const DAY = 86_400_000;

export interface DeviceSummary {
  total: number;
  /** Device counts by type, then lifecycle state. */
  byType: Array<{ type: string; lifecycle: string; count: number }>;
  certificates: {
    expiringSoonDays: number;
    /** Valid certificates whose notAfter is within the window. */
    expiringSoon: number;
    /** Certificates still marked valid whose notAfter has passed. */
    expired: number;
    /** The next few to expire (device id and time). */
    soonest: Array<{ deviceId: string; notAfter: number }>;
  };
}

/**
 * The fleet overview's inventory figures, aggregated in SQL (GROUP BY on the `devices_type`
 * index; the certificate counts use `certificates_status`), so the cost does not grow with what
 * the browser would otherwise have to download.
 */
export async function deviceSummary(
  db: Kysely<Database>,
  visibility: DeviceVisibility,
  now: number,
): Promise<DeviceSummary> {
  let devices = db.selectFrom('devices');
  if (visibility.careUnits)
    devices = devices.where(
      'care_unit',
      'in',
      visibility.careUnits.length ? [...visibility.careUnits] : [NO_MATCH],
    );
  if (visibility.deviceIds)
    devices = devices.where('id', 'in', visibility.deviceIds.length ? [...visibility.deviceIds] : [NO_MATCH]);

  let certs = db
    .selectFrom('certificates')
    .innerJoin('devices', 'devices.id', 'certificates.device_id')
    .where('certificates.status', '=', 'valid')
    .where('certificates.not_after', '<', now + EXPIRING_SOON_DAYS * DAY);
  if (visibility.careUnits)
    certs = certs.where(
      'devices.care_unit',
      'in',
      visibility.careUnits.length ? [...visibility.careUnits] : [NO_MATCH],
    );
  if (visibility.deviceIds)
    certs = certs.where(
      'devices.id',
      'in',
      visibility.deviceIds.length ? [...visibility.deviceIds] : [NO_MATCH],
    );

  const [groups, counts, soonest] = await Promise.all([
    devices
      .select(['type', 'lifecycle', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy(['type', 'lifecycle'])
      .orderBy('type')
      .orderBy('lifecycle')
      .execute(),
    certs
      .select((eb) => [
        eb.fn
          .sum<number>(eb.case().when('certificates.not_after', '<', now).then(1).else(0).end())
          .as('expired'),
        eb.fn.countAll<number>().as('n'),
      ])
      .executeTakeFirst(),
    certs
      .where('certificates.not_after', '>=', now)
      .select(['certificates.device_id as deviceId', 'certificates.not_after as notAfter'])
      .orderBy('certificates.not_after')
      .limit(5)
      .execute(),
  ]);
  const byType = groups.map((g) => ({ type: g.type, lifecycle: g.lifecycle, count: Number(g.n) }));
  const expired = Number(counts?.expired ?? 0);
  return {
    total: byType.reduce((s, g) => s + g.count, 0),
    byType,
    certificates: {
      expiringSoonDays: EXPIRING_SOON_DAYS,
      expiringSoon: Number(counts?.n ?? 0) - expired,
      expired,
      soonest: soonest.map((s) => ({ deviceId: s.deviceId, notAfter: Number(s.notAfter) })),
    },
  };
}
