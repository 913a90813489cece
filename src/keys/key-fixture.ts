/** Test fixture: a migrated store of either dialect with initialised keys. Used only by tests. */
import type { TestStore } from '../testing/stores.js';
import { type KeyService, type KeyServiceOptions, openKeyService } from './key-service.js';
import { initializeKeys } from './key-settings.js';
import { generateMasterKey } from './master-key.js';

export interface KeyFixture {
  t: TestStore;
  masterKey: Buffer;
  keys: KeyService;
  /** Opens another service on the same database (e.g. a second node). */
  open(extra?: Partial<KeyServiceOptions>): Promise<KeyService>;
  cleanup(): Promise<void>;
}

export async function keyFixture(
  openStore: () => Promise<TestStore>,
  extra: Partial<KeyServiceOptions> = {},
): Promise<KeyFixture> {
  const t = await openStore();
  const masterKey = generateMasterKey();
  await initializeKeys(t.store, masterKey);
  const services: KeyService[] = [];
  const open = async (more: Partial<KeyServiceOptions> = {}) => {
    const service = await openKeyService({
      store: t.store,
      masterKey,
      dataKeyMaxUses: 2 ** 24,
      ...extra,
      ...more,
    });
    services.push(service);
    return service;
  };
  const keys = await open();
  return {
    t,
    masterKey,
    keys,
    open,
    async cleanup() {
      for (const s of services) await s.close().catch(() => {});
      await t.cleanup();
    },
  };
}

/** The error code a promise rejects (or a function throws) with. */
export async function codeOf(work: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (error) {
    return (error as { code?: string }).code ?? 'NO_CODE';
  }
  return undefined;
}

export const bytes = (s: string) => Buffer.from(s, 'utf8');
