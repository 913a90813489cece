import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { codeOf } from './key-fixture.js';
import { generateMasterKey, MASTER_KEY_BYTES, readMasterKey, writeMasterKeyFile } from './master-key.js';

describe('master key file and environment', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pulsegate-keys-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('generates distinct 32-byte keys', () => {
    const a = generateMasterKey();
    expect(a.length).toBe(MASTER_KEY_BYTES);
    expect(a.equals(generateMasterKey())).toBe(false);
  });

  it('writes a 0600 file (creating its directory) and reads the same key back', () => {
    const file = join(dir, 'secrets', 'master.key');
    const key = generateMasterKey();
    writeMasterKeyFile(file, key);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toBe(key.toString('base64'));
    expect(readMasterKey({ file, env: {} }).equals(key)).toBe(true);
  });

  it('refuses to overwrite an existing key file and leaves it unchanged', async () => {
    const file = join(dir, 'master.key');
    const key = generateMasterKey();
    writeMasterKeyFile(file, key);
    expect(await codeOf(() => writeMasterKeyFile(file, generateMasterKey()))).toBe('INSTALL_EXISTS');
    expect(readMasterKey({ file }).equals(key)).toBe(true);
  });

  it('refuses to write a key of the wrong length', async () => {
    expect(await codeOf(() => writeMasterKeyFile(join(dir, 'k'), Buffer.alloc(16)))).toBe(
      'KEY_MASTER_MISSING',
    );
  });

  it('prefers PULSEGATE_MASTER_KEY over the file', () => {
    const file = join(dir, 'master.key');
    writeMasterKeyFile(file, generateMasterKey());
    const fromEnv = generateMasterKey();
    const env = { PULSEGATE_MASTER_KEY: fromEnv.toString('base64') };
    expect(readMasterKey({ file, env }).equals(fromEnv)).toBe(true);
    // Works without any file too.
    expect(readMasterKey({ file: join(dir, 'absent'), env }).equals(fromEnv)).toBe(true);
  });

  it('reports a missing key as KEY_MASTER_MISSING', async () => {
    expect(await codeOf(() => readMasterKey({ file: join(dir, 'absent'), env: {} }))).toBe(
      'KEY_MASTER_MISSING',
    );
  });

  it.each([
    ['too short', Buffer.alloc(16).toString('base64')],
    ['too long', Buffer.alloc(33).toString('base64')],
    ['not base64', '!'.repeat(44)],
    ['base64 with junk', `${generateMasterKey().toString('base64')}#`],
    ['hex', generateMasterKey().toString('hex')],
  ])('rejects a key that is %s, without echoing it', async (_label, text) => {
    const env = { PULSEGATE_MASTER_KEY: text };
    let error: unknown;
    try {
      readMasterKey({ file: join(dir, 'absent'), env });
    } catch (e) {
      error = e;
    }
    expect((error as { code?: string }).code).toBe('KEY_MASTER_MISSING');
    expect(String((error as Error).message)).not.toContain(text);
    const file = join(dir, 'bad.key');
    writeFileSync(file, text, { mode: 0o600 });
    expect(await codeOf(() => readMasterKey({ file, env: {} }))).toBe('KEY_MASTER_MISSING');
  });

  it('refuses a key file that group or others can read', async () => {
    const file = join(dir, 'open.key');
    writeFileSync(file, generateMasterKey().toString('base64'), { mode: 0o644 });
    expect(await codeOf(() => readMasterKey({ file, env: {} }))).toBe('KEY_MASTER_INSECURE');
  });
});
