/**
 * Envelope encryption throughput: 200-byte records sealed and opened through the KeyService
 * (batched encryptMany/decryptMany, and one record per call) on SQLite, against raw Node
 * AES-256-GCM with one fixed key and no envelope layer, so the overhead is visible.
 *
 *   npm run bench -- keys [records=200000] [batch=1000]
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { compiledCipher } from '../src/keys/batch-cipher.js';
import { generateMasterKey, initializeKeys, type KeyService, openKeyService } from '../src/keys/index.js';
import { openStore } from '../src/store/index.js';
import { printResult, printTable, rate } from './_report.js';

const RECORDS = Number(process.argv[2] ?? 200_000);
const BATCH = Number(process.argv[3] ?? 1000);
const RECORD_BYTES = 200;
const ROUNDS = 3;

const plaintexts = Array.from({ length: RECORDS }, () => randomBytes(RECORD_BYTES));
const aads = Array.from({ length: RECORDS }, (_, i) => Buffer.from(`observation:${i}`));

/**
 * Best records/s over ROUNDS runs of `work` (each run handles all RECORDS): by wall clock, and by
 * this process's CPU time, which other load on the machine disturbs much less.
 */
async function measure(work: () => Promise<void> | void): Promise<{ wall: number; cpu: number }> {
  await work(); // warm-up: JIT, key creation and caches
  let wall = 0;
  let cpu = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    await work();
    const used = process.cpuUsage(cpuStart);
    wall = Math.max(wall, RECORDS / ((performance.now() - start) / 1000));
    cpu = Math.max(cpu, RECORDS / ((used.user + used.system) / 1e6));
  }
  return { wall, cpu };
}

// Raw AES-256-GCM: one key, fresh random 96-bit nonce per record, no key lookup or header.
const rawKey = randomBytes(32);
const rawSealed: Buffer[] = new Array(RECORDS);
const rawEncrypt = () => {
  for (let at = 0; at < RECORDS; at += BATCH) {
    const n = Math.min(BATCH, RECORDS - at);
    const nonces = randomBytes(12 * n);
    for (let i = 0; i < n; i++) {
      const iv = nonces.subarray(i * 12, i * 12 + 12);
      const c = createCipheriv('aes-256-gcm', rawKey, iv);
      c.setAAD(aads[at + i]!);
      const body = c.update(plaintexts[at + i]!);
      c.final();
      rawSealed[at + i] = Buffer.concat([iv, body, c.getAuthTag()]);
    }
  }
};
const rawDecrypt = () => {
  for (let i = 0; i < RECORDS; i++) {
    const s = rawSealed[i]!;
    const d = createDecipheriv('aes-256-gcm', rawKey, s.subarray(0, 12));
    d.setAAD(aads[i]!);
    d.setAuthTag(s.subarray(s.length - 16));
    d.update(s.subarray(12, s.length - 16));
    d.final();
  }
};

const dir = mkdtempSync(join(tmpdir(), 'pulsegate-bench-keys-'));
const store = openStore({ sqliteFile: join(dir, 'bench.db') });
try {
  const { error } = await store.migrate();
  if (error) throw error;
  const masterKey = generateMasterKey();
  await initializeKeys(store, masterKey);
  const keys = await openKeyService({ store, masterKey, dataKeyMaxUses: 2 ** 24 });
  // The same service with the JavaScript record cipher (per record, large batches on the cipher
  // workers), to compare with the compiled batch cipher the default service uses where it is built.
  const scriptKeys = await openKeyService({
    store,
    masterKey,
    dataKeyMaxUses: 2 ** 24,
    cipher: 'javascript',
  });
  const compiled = compiledCipher() !== undefined;
  // 100 patients' scopes, records spread evenly, as the telemetry store would batch them.
  const scopes = Array.from({ length: 100 }, (_, i) => ({
    purpose: 'telemetry',
    subject: `bi:${i}`,
    period: '2026-11',
  }));
  const sealed: Buffer[] = new Array(RECORDS);

  const envelopeEncrypt = (service: KeyService) => async () => {
    for (let at = 0, b = 0; at < RECORDS; at += BATCH, b++) {
      const items = [];
      for (let i = at; i < Math.min(at + BATCH, RECORDS); i++)
        items.push({ plaintext: plaintexts[i]!, aad: aads[i]! });
      const out = await service.encryptMany(scopes[b % scopes.length]!, items);
      for (let i = 0; i < out.length; i++) sealed[at + i] = out[i]!;
    }
  };
  const envelopeDecrypt = (service: KeyService) => async () => {
    for (let at = 0; at < RECORDS; at += BATCH) {
      const items = [];
      for (let i = at; i < Math.min(at + BATCH, RECORDS); i++)
        items.push({ sealed: sealed[i]!, aad: aads[i]! });
      await service.decryptMany(items);
    }
  };
  const single = Math.min(RECORDS, 50_000);
  const singleEncrypt = async () => {
    for (let i = 0; i < single; i++) await keys.encrypt(scopes[i % scopes.length]!, plaintexts[i]!, aads[i]!);
  };

  const raw = { encrypt: await measure(rawEncrypt), decrypt: await measure(rawDecrypt) };
  const envelope = {
    encrypt: await measure(envelopeEncrypt(keys)),
    decrypt: await measure(envelopeDecrypt(keys)),
  };
  const script = compiled
    ? {
        encrypt: await measure(envelopeEncrypt(scriptKeys)),
        decrypt: await measure(envelopeDecrypt(scriptKeys)),
      }
    : undefined;
  const one = await measure(singleEncrypt);
  const singleRate = { wall: (one.wall * single) / RECORDS, cpu: (one.cpu * single) / RECORDS };
  await keys.close();
  await scriptKeys.close();

  const pct = (a: number, b: number) => `${Math.round((1 - a / b) * 100)}%`;
  const row = (path: string, enc: { wall: number; cpu: number }, dec?: { wall: number; cpu: number }) => ({
    path,
    'encrypt rec/s': rate(enc.wall),
    'decrypt rec/s': dec ? rate(dec.wall) : '',
    'encrypt rec/CPU-s': rate(enc.cpu),
    'decrypt rec/CPU-s': dec ? rate(dec.cpu) : '',
    'overhead vs raw (CPU)': path.startsWith('raw')
      ? '-'
      : `${pct(enc.cpu, raw.encrypt.cpu)} enc${dec ? ` / ${pct(dec.cpu, raw.decrypt.cpu)} dec` : ''}`,
  });
  printTable([
    row('raw Node AES-256-GCM (no envelope)', raw.encrypt, raw.decrypt),
    row(
      `KeyService encryptMany/decryptMany (batch ${BATCH}, 100 scopes, ${compiled ? 'compiled' : 'JavaScript'} cipher)`,
      envelope.encrypt,
      envelope.decrypt,
    ),
    ...(script ? [row('  same, JavaScript cipher (cipher workers)', script.encrypt, script.decrypt)] : []),
    row('KeyService encrypt (one record per call)', singleRate),
  ]);
  console.log(
    `\n${RECORDS} records of ${RECORD_BYTES} bytes, SQLite, best of ${ROUNDS}, load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores; target >= 200,000 rec/s encrypted`,
  );
  const fig = (m: { wall: number; cpu: number }) => ({ wall: Math.round(m.wall), cpu: Math.round(m.cpu) });
  printResult({
    name: 'keys',
    unit: 'records/s',
    value: Math.round(envelope.encrypt.wall),
    encrypt: fig(envelope.encrypt),
    decrypt: fig(envelope.decrypt),
    singleEncrypt: fig(singleRate),
    batch: BATCH,
    recordBytes: RECORD_BYTES,
    loadAverage: loadavg()[0],
    cipher: compiled ? 'compiled' : 'javascript',
    compared: {
      rawAesGcm: { encrypt: fig(raw.encrypt), decrypt: fig(raw.decrypt) },
      ...(script ? { javascriptCipher: { encrypt: fig(script.encrypt), decrypt: fig(script.decrypt) } } : {}),
    },
  });
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
