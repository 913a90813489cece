import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPkiHierarchy } from './hierarchy.js';

describe('PKI hierarchy', () => {
  it('produces a chain that openssl verifies for TLS server use on localhost', async () => {
    const pki = await createPkiHierarchy({ organisation: 'Test Hospital' });
    const dir = mkdtempSync(join(tmpdir(), 'pki-'));
    try {
      const [leaf] = pki.server.certPem.split(/(?<=-----END CERTIFICATE-----)/);
      writeFileSync(join(dir, 'root.pem'), pki.root.certPem);
      writeFileSync(join(dir, 'issuing.pem'), pki.issuing.certPem);
      writeFileSync(join(dir, 'leaf.pem'), `${leaf!.trim()}\n`);
      const out = execFileSync('openssl', [
        'verify',
        '-CAfile',
        join(dir, 'root.pem'),
        '-untrusted',
        join(dir, 'issuing.pem'),
        '-purpose',
        'sslserver',
        '-verify_hostname',
        'localhost',
        join(dir, 'leaf.pem'),
      ]).toString();
      expect(out).toContain('OK');
      const text = execFileSync('openssl', [
        'x509',
        '-in',
        join(dir, 'issuing.pem'),
        '-noout',
        '-text',
      ]).toString();
      expect(text).toContain('ASN1 OID: prime256v1');
      expect(text).toMatch(/CA:TRUE, pathlen:0/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a leaf under a different root', async () => {
    const a = await createPkiHierarchy({ organisation: 'A' });
    const b = await createPkiHierarchy({ organisation: 'B' });
    const dir = mkdtempSync(join(tmpdir(), 'pki-'));
    try {
      writeFileSync(join(dir, 'root.pem'), a.root.certPem);
      writeFileSync(join(dir, 'chain.pem'), b.server.certPem);
      expect(() =>
        execFileSync('openssl', ['verify', '-CAfile', join(dir, 'root.pem'), join(dir, 'chain.pem')], {
          stdio: 'pipe',
        }),
      ).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
