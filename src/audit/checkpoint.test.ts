import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkpointBody,
  ed25519Signer,
  noteKeyHash,
  parseCheckpointBody,
  parseNote,
  parseVerifierKey,
  signNote,
  verifierKeyString,
  verifyNote,
} from './checkpoint.js';

// The signed-note example of golang.org/x/mod/sumdb/note (note.go package doc and note_test.go),
// which C2SP signed-note inherits: a key named PeterNeumann and the note it signs. Ed25519 is
// deterministic (RFC 8032), so signing the text must reproduce the published note byte for byte.
const GO_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE = `${GO_TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

function goSigner() {
  // The private key string is PRIVATE+KEY+name+hash+base64(0x01 || seed); the base64 may hold '+'.
  const b64 = GO_SKEY.split('+').slice(4).join('+');
  const seed = Buffer.from(b64, 'base64').subarray(1);
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const { publicKey } = parseVerifierKey(GO_VKEY);
  return ed25519Signer('PeterNeumann', privateKey, publicKey);
}

describe('signed notes and checkpoints (C2SP)', () => {
  it('reproduces the Go sumdb/note example signature and key hash', async () => {
    const signer = goSigner();
    expect(noteKeyHash('PeterNeumann', signer.publicKey).toString('hex')).toBe('c74f20a3');
    expect(verifierKeyString('PeterNeumann', signer.publicKey)).toBe(GO_VKEY);
    expect(await signNote(GO_TEXT, signer)).toBe(GO_NOTE);
    expect(verifyNote(GO_NOTE, 'PeterNeumann', [signer.publicKey])).toBe(GO_TEXT);
    expect(
      verifyNote(GO_NOTE.replace('cryptography', 'cryptographY'), 'PeterNeumann', [signer.publicKey]),
    ).toBe(undefined);
  });

  it('rejects a verifier key whose hash does not match', () => {
    expect(() => parseVerifierKey(GO_VKEY.replace('c74f20a3', 'c74f20a4'))).toThrow();
    // Standard base64 key data may hold '+': keys whose encoding does still round-trip.
    let plus = 0;
    for (let i = 0; plus < 5 && i < 500; i++) {
      const { publicKey: key } = generateKeyPairSync('ed25519');
      const vkey = verifierKeyString('example.com/log', key);
      if (vkey.split('+').length === 3) continue;
      plus++;
      expect(parseVerifierKey(vkey).publicKey.equals(key)).toBe(true);
    }
    expect(plus).toBe(5);
  });

  it('round-trips a tlog-checkpoint and rejects other keys, names and edits', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const other = generateKeyPairSync('ed25519');
    const signer = ed25519Signer('example.org/audit', privateKey, publicKey);
    const root = Buffer.alloc(32, 7);
    const note = await signNote(checkpointBody('example.org/audit', 42, root), signer);
    expect(
      note.startsWith(`example.org/audit\n42\n${root.toString('base64')}\n\n\u2014 example.org/audit `),
    ).toBe(true);
    const text = verifyNote(note, 'example.org/audit', [
      other.publicKey,
      publicKey.export({ format: 'jwk' }),
    ]);
    expect(parseCheckpointBody(text!)).toEqual({ origin: 'example.org/audit', size: 42, root });
    expect(verifyNote(note, 'example.org/audit', [other.publicKey])).toBeUndefined();
    expect(verifyNote(note, 'another', [publicKey])).toBeUndefined();
    expect(verifyNote(note.replace('\n42\n', '\n43\n'), 'example.org/audit', [publicKey])).toBeUndefined();
    expect(parseNote('no signature\n')).toBeUndefined();
    expect(parseCheckpointBody('o\n01\nAAAA\n')).toBeUndefined();
  });
});
