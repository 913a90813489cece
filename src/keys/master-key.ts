import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { PulsegateError } from '../errors.js';

/** The master key is 256 bits (AES-256). */
export const MASTER_KEY_BYTES = 32;

/** The environment variable that holds the master key (base64); it wins over the key file. */
export const MASTER_KEY_ENV = 'PULSEGATE_MASTER_KEY';

/** A new random master key from the operating system's CSPRNG. */
export function generateMasterKey(): Buffer {
  return randomBytes(MASTER_KEY_BYTES);
}

/**
 * Writes the key as base64 to a new file with mode 0600 (its directory is created 0700 when
 * missing). Refuses to overwrite an existing file: `INSTALL_EXISTS`.
 */
export function writeMasterKeyFile(path: string, key: Buffer): void {
  assertMasterKey(key);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    // O_EXCL: creation fails if anything (even a dangling symlink) is already there.
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new PulsegateError('INSTALL_EXISTS', 'A master key file already exists');
    }
    throw error;
  }
  try {
    // The umask can only remove bits, but make the mode explicit anyway.
    if (process.platform !== 'win32') fchmodSync(fd, 0o600);
    writeSync(fd, `${key.toString('base64')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads the master key: `PULSEGATE_MASTER_KEY` (base64 of 32 bytes) in `env` wins over the file.
 * A missing key or one of the wrong length or format is `KEY_MASTER_MISSING` (the detail says
 * which, never the value); a key file that group or others may read is `KEY_MASTER_INSECURE`.
 */
export function readMasterKey(opts: { file: string; env?: NodeJS.ProcessEnv }): Buffer {
  const fromEnv = opts.env?.[MASTER_KEY_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return parseMasterKey(fromEnv, MASTER_KEY_ENV);
  let text: string;
  try {
    if (process.platform !== 'win32' && (statSync(opts.file).mode & 0o077) !== 0) {
      throw new PulsegateError('KEY_MASTER_INSECURE', 'The master key file must have mode 0600');
    }
    text = readFileSync(opts.file, 'utf8');
  } catch (error) {
    if (error instanceof PulsegateError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const detail =
      code === 'ENOENT'
        ? 'No master key file and no PULSEGATE_MASTER_KEY'
        : 'The master key file cannot be read';
    throw new PulsegateError('KEY_MASTER_MISSING', detail);
  }
  return parseMasterKey(text, 'The master key file');
}

/** Strict base64 of exactly 32 bytes; `source` names where it came from, for the error detail. */
function parseMasterKey(text: string, source: string): Buffer {
  const trimmed = text.trim();
  const key = Buffer.from(trimmed, 'base64');
  // Buffer.from ignores junk silently; a canonical re-encoding proves the text was clean base64.
  if (key.length !== MASTER_KEY_BYTES || key.toString('base64') !== trimmed) {
    key.fill(0);
    throw new PulsegateError('KEY_MASTER_MISSING', `${source} does not hold a base64 256-bit key`);
  }
  return key;
}

/** Throws `KEY_MASTER_MISSING` unless `key` is a 32-byte buffer. */
export function assertMasterKey(key: unknown): asserts key is Buffer {
  if (!(key instanceof Uint8Array) || key.length !== MASTER_KEY_BYTES) {
    throw new PulsegateError('KEY_MASTER_MISSING', 'The master key must be 32 bytes');
  }
}
