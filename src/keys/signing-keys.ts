import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { PulsegateError } from '../errors.js';
import type { Store } from '../store/index.js';
import type { SigningKeysTable } from '../store/tables/keys.js';
import { assertMasterCurrent, KEYS_LOCK } from './key-settings.js';
import type { MasterContext } from './master-context.js';

/** What a signing key is for: access tokens (ES256 on P-256) or audit checkpoints (Ed25519). */
export type SigningUse = 'jwt' | 'audit';

/** A signing key pair with its public JWK (`kid` is the RFC 7638 thumbprint). */
export interface SigningKey {
  kid: string;
  alg: 'ES256' | 'EdDSA';
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: JsonWebKey & { kid: string; alg: string; use: 'sig' };
}

const ALG: Record<SigningUse, SigningKey['alg']> = { jwt: 'ES256', audit: 'EdDSA' };

/** The associated data binding an encrypted private key to its row. */
export function signingKeyAad(row: { kid: string; use: string; alg: string }): string {
  return JSON.stringify([row.kid, row.use, row.alg]);
}

/** RFC 7638 JWK thumbprint: SHA-256 over the required members in lexicographic order. */
function thumbprint(jwk: JsonWebKey): string {
  const members =
    jwk.kty === 'EC'
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

function publicJwkOf(publicKey: KeyObject, kid: string, alg: string): SigningKey['publicJwk'] {
  return { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}

/**
 * Signing keys per use. The current key is the newest unretired row; it is created on first use.
 * Private keys are stored as PKCS#8, encrypted with AES-256-GCM under a master-derived key.
 */
export class SigningKeys {
  readonly #store: Store;
  readonly #master: () => MasterContext;
  readonly #now: () => number;
  readonly #recheckMs: number;
  readonly #idle: () => Promise<void>;
  readonly #current = new Map<SigningUse, { key: SigningKey; checkedAt: number }>();

  constructor(o: {
    store: Store;
    master: () => MasterContext;
    now: () => number;
    recheckMs: number;
    idle: () => Promise<void>;
  }) {
    this.#store = o.store;
    this.#master = o.master;
    this.#now = o.now;
    this.#recheckMs = o.recheckMs;
    this.#idle = o.idle;
  }

  /** The current key for `use`, created when there is none. */
  async current(use: SigningUse): Promise<SigningKey> {
    assertUse(use);
    const cached = this.#current.get(use);
    if (cached && this.#now() - cached.checkedAt < this.#recheckMs) return cached.key;
    const row = await this.#newest(this.#store.db, use);
    if (row) return this.#remember(use, cached?.key.kid === row.kid ? cached.key : this.#open(row));
    return this.#create(use, false);
  }

  /** Retires the current key for `use` and creates its successor. */
  async rotate(use: SigningUse): Promise<SigningKey> {
    assertUse(use);
    return this.#create(use, true);
  }

  /** Every public key for `use`, newest first, retired ones included (for JWKS and verification). */
  async verificationKeys(use: SigningUse): Promise<SigningKey['publicJwk'][]> {
    assertUse(use);
    const rows = await this.#store.db
      .selectFrom('signing_keys')
      .select('public_jwk')
      .where('use', '=', use)
      .orderBy('seq', 'desc')
      .execute();
    return rows.map((r) => JSON.parse(r.public_jwk) as SigningKey['publicJwk']);
  }

  /**
   * The public keys for `use` that the master key vouches for: each row's private key is unwrapped
   * (its wrapping binds kid, use and alg) and its public key derived from it and checked against
   * the kid (an RFC 7638 thumbprint). A row written by someone without the master key, or a
   * `public_jwk` swapped for another key, is left out and counted as rejected. For verifiers that
   * have no trusted copy of the key outside the database.
   */
  async provenPublicKeys(use: SigningUse): Promise<{ keys: KeyObject[]; rejected: number }> {
    assertUse(use);
    const rows = await this.#store.db
      .selectFrom('signing_keys')
      .selectAll()
      .where('use', '=', use)
      .orderBy('seq', 'desc')
      .execute();
    const keys: KeyObject[] = [];
    for (const row of rows) {
      try {
        const { publicKey } = this.#open(row);
        if (thumbprint(publicKey.export({ format: 'jwk' })) === row.kid) keys.push(publicKey);
      } catch {
        // Does not unwrap under the master key: not ours.
      }
    }
    return { keys, rejected: rows.length - keys.length };
  }

  /** Forgets cached keys. */
  clear(): void {
    this.#current.clear();
  }

  #newest(db: Store['db'], use: SigningUse) {
    return db
      .selectFrom('signing_keys')
      .selectAll()
      .where('use', '=', use)
      .where('retired_at', 'is', null)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  #remember(use: SigningUse, key: SigningKey): SigningKey {
    this.#current.set(use, { key, checkedAt: this.#now() });
    return key;
  }

  #open(
    row: Pick<SigningKeysTable, 'kid' | 'use' | 'alg' | 'public_jwk' | 'private_enc' | 'master_key_id'>,
  ): SigningKey {
    const master = this.#master();
    if (row.master_key_id !== master.id) throw new PulsegateError('KEY_MASTER_WRONG');
    const der = master.unwrap('signing-key', row.private_enc, signingKeyAad(row));
    const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    der.fill(0);
    const publicJwk = JSON.parse(row.public_jwk) as SigningKey['publicJwk'];
    return {
      kid: row.kid,
      alg: row.alg as SigningKey['alg'],
      privateKey,
      publicKey: createPublicKey(privateKey),
      publicJwk,
    };
  }

  async #create(use: SigningUse, retireCurrent: boolean): Promise<SigningKey> {
    await this.#idle();
    const master = this.#master();
    const store = this.#store;
    const key = await store.db.transaction().execute(async (trx) => {
      await store.lock(trx, KEYS_LOCK);
      const existing = await this.#newest(trx, use);
      if (existing && !retireCurrent) return this.#open(existing);
      await assertMasterCurrent(trx, master);
      const now = this.#now();
      if (existing) {
        await trx
          .updateTable('signing_keys')
          .set({ retired_at: now })
          .where('use', '=', use)
          .where('retired_at', 'is', null)
          .execute();
      }
      const alg = ALG[use];
      const pair =
        alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
      const kid = thumbprint(pair.publicKey.export({ format: 'jwk' }));
      const publicJwk = publicJwkOf(pair.publicKey, kid, alg);
      const der = pair.privateKey.export({ format: 'der', type: 'pkcs8' });
      const last = await trx
        .selectFrom('signing_keys')
        .select((eb) => eb.fn.max('seq').as('seq'))
        .executeTakeFirst();
      await trx
        .insertInto('signing_keys')
        .values({
          kid,
          use,
          alg,
          public_jwk: JSON.stringify(publicJwk),
          private_enc: master.wrap('signing-key', der, signingKeyAad({ kid, use, alg })),
          master_key_id: master.id,
          created_at: now,
          retired_at: null,
          seq: Number(last?.seq ?? 0) + 1,
        })
        .execute();
      der.fill(0);
      return {
        kid,
        alg,
        privateKey: pair.privateKey,
        publicKey: pair.publicKey,
        publicJwk,
      } satisfies SigningKey;
    });
    return this.#remember(use, key);
  }
}

function assertUse(use: string): asserts use is SigningUse {
  if (use !== 'jwt' && use !== 'audit')
    throw new PulsegateError('VALIDATION_FAILED', 'Unknown signing key use');
}
