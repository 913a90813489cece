/**
 * Test helpers for the access capability: a real ES256 key pair standing in for the keys
 * capability, an in-memory audit sink (a real `append`, not a mock), and a settable clock.
 */
import { createCipheriv, createDecipheriv, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Store } from '../store/index.js';
import { type AccessService, createAccessService } from './access-service.js';
import type { AccessAuditEvent, AccessKeys, JsonWebKey, SigningKey } from './deps.js';

/** A key set with one current ES256 key; `rotate()` retires it and makes a new one. */
export class TestKeys implements AccessKeys {
  #current: SigningKey;
  readonly #retired: SigningKey[] = [];
  #counter = 0;

  constructor() {
    this.#current = this.#make();
  }

  #make(): SigningKey {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = `test-${++this.#counter}`;
    const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' } as JsonWebKey;
    return { kid, alg: 'ES256', privateKey, publicKey, publicJwk };
  }

  get current(): SigningKey {
    return this.#current;
  }

  rotate(): void {
    this.#retired.push(this.#current);
    this.#current = this.#make();
  }

  async signingKey(_purpose: 'jwt'): Promise<SigningKey> {
    return this.#current;
  }

  async verificationKeys(_purpose: 'jwt'): Promise<JsonWebKey[]> {
    return [this.#current, ...this.#retired].map((k) => k.publicJwk);
  }

  /** AES-256-GCM under one random key (nonce || tag || ciphertext), the record identity as AAD. */
  readonly #sealKey = randomBytes(32);

  async encrypt(_scope: unknown, plaintext: Uint8Array, aad: Uint8Array): Promise<Buffer> {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#sealKey, nonce).setAAD(aad);
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([nonce, cipher.getAuthTag(), body]);
  }

  async decryptMany(items: ReadonlyArray<{ sealed: Uint8Array; aad: Uint8Array }>): Promise<Buffer[]> {
    return items.map(({ sealed, aad }) => {
      const b = Buffer.from(sealed);
      const decipher = createDecipheriv('aes-256-gcm', this.#sealKey, b.subarray(0, 12)).setAAD(aad);
      decipher.setAuthTag(b.subarray(12, 28));
      return Buffer.concat([decipher.update(b.subarray(28)), decipher.final()]);
    });
  }
}

/** Collects audit events in order. */
export class MemoryAudit {
  readonly events: AccessAuditEvent[] = [];

  async append(event: AccessAuditEvent): Promise<unknown> {
    this.events.push(structuredClone(event));
    return { seq: this.events.length };
  }

  /** Events with this action. */
  of(action: string): AccessAuditEvent[] {
    return this.events.filter((e) => e.action === action);
  }

  /** The last event, or throws. */
  last(): AccessAuditEvent {
    const e = this.events.at(-1);
    if (!e) throw new Error('no audit events');
    return e;
  }
}

/** A clock tests move by hand. */
export class TestClock {
  constructor(public ms = Date.UTC(2026, 0, 15, 12)) {}
  readonly now = (): number => this.ms;
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

export const TEST_ISSUER = 'https://pulsegate.test';

/** Everything a service test needs. */
export interface AccessFixture {
  access: AccessService;
  keys: TestKeys;
  audit: MemoryAudit;
  clock: TestClock;
}

/** An access service on `store` with cheap scrypt, 3 failed logins, 60 s lockout, 30 min break-glass cap. */
export function accessFixture(store: Store): AccessFixture {
  const keys = new TestKeys();
  const audit = new MemoryAudit();
  const clock = new TestClock();
  const access = createAccessService({
    store,
    keys,
    audit,
    config: {
      issuer: TEST_ISSUER,
      audience: TEST_ISSUER,
      accessTokenTtlSeconds: 900,
      maxFailedLogins: 3,
      lockoutSeconds: 60,
      breakGlassMaxMinutes: 30,
    },
    now: clock.now,
    passwordHashing: { N: 1024 },
  });
  return { access, keys, audit, clock };
}

/** A password that passes the policy. */
export const GOOD_PASSWORD = 'correct horse battery staple';

/** Asserts that no audit event mentions any of the secrets. */
export function auditMentions(audit: MemoryAudit, secrets: string[]): string[] {
  const text = JSON.stringify(audit.events);
  return secrets.filter((s) => s.length > 0 && text.includes(s));
}
