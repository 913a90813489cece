import type { Store } from '../store/index.js';
import { type BaselineProfile, isProfile } from './baseline.js';

/** Learned baselines: loaded once, written back in batches of changed devices (never per message). */
export class BaselineStore {
  readonly profiles = new Map<string, BaselineProfile>();
  readonly dirty = new Set<string>();
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  async load(): Promise<number> {
    const rows = await this.#store.db.selectFrom('device_baselines').selectAll().execute();
    for (const r of rows) {
      try {
        const p = JSON.parse(r.profile) as unknown;
        if (isProfile(p)) this.profiles.set(r.device_id, p);
      } catch {
        // a damaged row is relearned
      }
    }
    return this.profiles.size;
  }

  /** Upserts the profiles changed since the last flush, 200 per statement; returns how many. */
  async flush(at: number): Promise<number> {
    if (this.dirty.size === 0) return 0;
    const ids = [...this.dirty];
    this.dirty.clear();
    const rows = ids
      .map((id) => ({ id, p: this.profiles.get(id) }))
      .filter((x): x is { id: string; p: BaselineProfile } => x.p !== undefined)
      .map(({ id, p }) => ({ device_id: id, profile: JSON.stringify(p), updated_at: at }));
    try {
      for (let i = 0; i < rows.length; i += 200) {
        await this.#store.db
          .insertInto('device_baselines')
          .values(rows.slice(i, i + 200))
          .onConflict((oc) =>
            oc.column('device_id').doUpdateSet((eb) => ({
              profile: eb.ref('excluded.profile'),
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .execute();
      }
    } catch (error) {
      for (const id of ids) this.dirty.add(id);
      throw error;
    }
    return rows.length;
  }
}
