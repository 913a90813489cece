/**
 * The console's in-browser audit check (web/src/audit-verify.ts), run here on Node's WebCrypto
 * against a real audit log: every entry verifies against the signed checkpoint, and a changed
 * entry, a forged checkpoint, another key or a proof for another tree all fail. The browser run
 * of the same code is in console-demo.test.ts.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import * as noble from '@noble/ed25519';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditLog, createAuditLog, ed25519Signer } from '../src/audit/index.js';
import { DIALECTS, type TestStore } from '../src/testing/stores.js';
import {
  canonicalJson,
  checkInclusion,
  parseNote,
  toBase64,
  verifyCheckpoint,
} from '../web/src/audit-verify.js';

const rawEd25519PublicKey = (k: KeyObject) => Buffer.from(k.export({ format: 'jwk' }).x!, 'base64url');
const ORIGIN = 'pulsegate.test/console';
const keys = generateKeyPairSync('ed25519');
const verifier = { name: ORIGIN, publicKey: rawEd25519PublicKey(keys.publicKey).toString('base64') };
let t: TestStore;
let audit: AuditLog;

beforeAll(async () => {
  t = await DIALECTS[0]!.open();
  audit = createAuditLog({
    store: t.store,
    signer: ed25519Signer(ORIGIN, keys.privateKey, keys.publicKey),
    origin: ORIGIN,
    checkpointEveryEntries: 1_000_000,
    checkpointIntervalSeconds: 3600,
  });
  for (let i = 0; i < 11; i++)
    await audit.append({
      actor: { type: 'user', id: `u-${i}`, name: 'admin', role: 'admin' },
      action: i % 2 ? 'device.quarantine' : 'device.create',
      resource: { type: 'device', id: `dev-${i}` },
      outcome: 'success',
      ...(i % 3 === 0 ? { reason: `reason ${i} — “quoted” é` } : {}),
    });
});
afterAll(async () => {
  await audit.close();
  await t.cleanup();
});

async function material(seq: number) {
  const cp = (await audit.checkpoint())!;
  const checkpoint = { note: cp.note, treeSize: cp.treeSize };
  const p = await audit.inclusionProof(seq, cp.treeSize);
  const proof = {
    leafIndex: p.leafIndex,
    treeSize: p.treeSize,
    leafHash: p.leafHash.toString('base64'),
    proof: p.proof.map((h) => h.toString('base64')),
  };
  // As the API sends it: JSON through the wire.
  const [entry] = JSON.parse(JSON.stringify(await audit.list({ after: seq - 1, limit: 1 }))) as Array<{
    seq: number;
    reason?: string;
  }>;
  return { checkpoint, proof, entry: entry! };
}

describe('console audit verification (WebCrypto)', () => {
  it('verifies every entry of the log against the signed checkpoint', async () => {
    const size = await audit.size();
    for (let seq = 0; seq < size; seq++) {
      const m = await material(seq);
      const r = await checkInclusion({ ...m, verifier });
      expect(r.ok, r.steps.join('\n')).toBe(true);
      expect(r.steps[0]).toContain('webcrypto');
    }
  });

  it('matches the server’s canonical JSON for the leaf hash', async () => {
    const m = await material(3);
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], c: { z: 'é', y: '“' } })).toBe(
      '{"a":[true,null,"x"],"b":1,"c":{"y":"“","z":"é"}}',
    );
    expect(m.proof.leafHash).toBe(
      (await audit.inclusionProof(3, m.proof.treeSize)).leafHash.toString('base64'),
    );
  });

  it('fails on a changed entry, a forged or foreign checkpoint, and a proof for another tree', async () => {
    const m = await material(6);
    const changed = await checkInclusion({ ...m, entry: { ...m.entry, reason: 'edited' }, verifier });
    expect(changed.ok).toBe(false);
    expect(changed.steps.at(-1)).toMatch(/does not hash/);

    const note = parseNote(m.checkpoint.note)!;
    const forgedText = note.text.replace(/\n(\d+)\n/, (_, n) => `\n${Number(n) + 1}\n`);
    const forged = m.checkpoint.note.replace(note.text, forgedText);
    expect((await checkInclusion({ ...m, checkpoint: { ...m.checkpoint, note: forged }, verifier })).ok).toBe(
      false,
    );

    const other = generateKeyPairSync('ed25519');
    const foreign = { name: ORIGIN, publicKey: rawEd25519PublicKey(other.publicKey).toString('base64') };
    const wrongKey = await checkInclusion({ ...m, verifier: foreign });
    expect(wrongKey.ok).toBe(false);
    expect(wrongKey.steps.at(-1)).toMatch(/no signature by the log key/);

    await audit.append({ actor: { type: 'system' }, action: 'test.grow', outcome: 'success' });
    const grown = await material(6);
    const mismatch = await checkInclusion({ ...m, proof: grown.proof, verifier });
    expect(mismatch.ok).toBe(false);
  });

  it('the pure-JS fallback (@noble/ed25519) agrees with WebCrypto on the checkpoint signature', async () => {
    const m = await material(1);
    const note = parseNote(m.checkpoint.note)!;
    const sig = note.signatures[0]!.blob.slice(4);
    const key = Buffer.from(verifier.publicKey, 'base64');
    expect(await noble.verifyAsync(sig, new TextEncoder().encode(note.text), key)).toBe(true);
    expect(await noble.verifyAsync(sig, new TextEncoder().encode(`${note.text} `), key)).toBe(false);
    expect((await verifyCheckpoint(m.checkpoint.note, ORIGIN, key)).ok).toBe(true);
    expect(toBase64(new Uint8Array([1, 2, 250]))).toBe('AQL6');
  });
});
