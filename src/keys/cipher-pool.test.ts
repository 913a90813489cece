import { randomBytes } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { describeEachDialect } from '../testing/dialects.js';
import type { TestStore } from '../testing/stores.js';
import { POOL_THRESHOLD } from './cipher-pool.js';
import { openKeyService } from './key-service.js';
import { initializeKeys } from './key-settings.js';
import { generateMasterKey } from './master-key.js';

describeEachDialect('cipher pool (large batches across worker threads)', (open) => {
  let t: TestStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it('seals and opens a large batch identically to the inline path, and refuses a tampered record', async () => {
    t = await open();
    const masterKey = generateMasterKey();
    await initializeKeys(t.store, masterKey);
    const pooled = await openKeyService({
      store: t.store,
      masterKey,
      dataKeyMaxUses: 2 ** 24,
      cipherWorkers: 1,
    });
    const inline = await openKeyService({
      store: t.store,
      masterKey,
      dataKeyMaxUses: 2 ** 24,
      cipherWorkers: 0,
    });
    try {
      const n = POOL_THRESHOLD * 3 + 7;
      const items = Array.from({ length: n }, (_, i) => ({
        plaintext: randomBytes(i % 300),
        aad: Buffer.from(`row-${i}`),
      }));
      const scopes = [
        { purpose: 'test', subject: 's1', period: '2026-11' },
        { purpose: 'test', subject: 's2', period: '2026-11' },
      ];
      const sealed = [
        ...(await pooled.encryptMany(scopes[0]!, items)),
        ...(await pooled.encryptMany(scopes[1]!, items)),
      ];
      const aads = [...items, ...items].map((it) => it.aad);
      // Opened by a service that never uses workers, and by the pooled one across two keys.
      const viaInline = await inline.decryptMany(sealed.map((s, i) => ({ sealed: s, aad: aads[i]! })));
      const viaPool = await pooled.decryptMany(sealed.map((s, i) => ({ sealed: s, aad: aads[i]! })));
      for (let i = 0; i < sealed.length; i++) {
        expect(viaInline[i]!.equals(items[i % n]!.plaintext)).toBe(true);
        expect(viaPool[i]!.equals(items[i % n]!.plaintext)).toBe(true);
      }
      // Nonces stay unique across the pool's parts.
      const nonces = new Set(sealed.map((s) => s.subarray(17, 29).toString('hex')));
      expect(nonces.size).toBe(sealed.length);
      // A flipped byte late in the batch (in a worker's part) fails the whole call.
      const bad = sealed.map((s) => Buffer.from(s));
      bad[n - 2]![bad[n - 2]!.length - 1]! ^= 1;
      await expect(
        pooled.decryptMany(bad.map((s, i) => ({ sealed: s, aad: aads[i]! }))),
      ).rejects.toMatchObject({
        code: 'KEY_DECRYPT_FAILED',
      });
    } finally {
      await pooled.close();
      await inline.close();
    }
  });
});
