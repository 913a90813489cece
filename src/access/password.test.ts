import { describe, expect, it } from 'vitest';
import { checkPasswordPolicy, hashPassword, verifyPassword } from './password.js';

const cheap = { N: 1024, r: 8, p: 1 };

describe('password hashing', () => {
  it('encodes parameters and salt in the hash and verifies', async () => {
    const hash = await hashPassword('correct horse battery staple', cheap);
    expect(hash).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(await verifyPassword('correct horse battery staple', hash)).toBe(true);
    expect(await verifyPassword('correct horse battery stapler', hash)).toBe(false);
  });

  it('salts: the same password hashes differently each time', async () => {
    expect(await hashPassword('correct horse battery staple', cheap)).not.toBe(
      await hashPassword('correct horse battery staple', cheap),
    );
  });

  it('defaults to N=16384 (RFC 7914 interactive cost)', async () => {
    expect(await hashPassword('correct horse battery staple')).toMatch(/^scrypt\$16384\$8\$1\$/);
  });

  it('never matches a malformed or absurd-cost stored hash', async () => {
    const good = await hashPassword('correct horse battery staple', cheap);
    const parts = good.split('$');
    for (const bad of [
      '',
      'plain',
      good.replace('scrypt', 'bcrypt'),
      [...parts.slice(0, 1), String(2 ** 30), ...parts.slice(2)].join('$'),
      [...parts.slice(0, 1), '1000', ...parts.slice(2)].join('$'),
      [...parts.slice(0, 5), 'AAAA'].join('$'),
    ]) {
      expect(await verifyPassword('correct horse battery staple', bad)).toBe(false);
    }
  });
});

describe('password policy', () => {
  it.each([
    ['short', 'elevenchars'],
    ['the username', 'alice.example'],
    ['too repetitive', 'aaaaaaaaaaaaaaaa'],
    ['too long', 'x'.repeat(1025)],
  ])('refuses a password that is %s', (_why, password) => {
    expect(() => checkPasswordPolicy(password, 'alice.example')).toThrow(
      expect.objectContaining({ code: 'USER_PASSWORD_WEAK' }),
    );
  });

  it('accepts a 12+ character passphrase', () => {
    expect(() => checkPasswordPolicy('twelve chars', 'alice')).not.toThrow();
  });
});
