import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { stringify } from 'yaml';
import { checkConfig, createServices, openConfiguredStore } from '../app.js';
import { verifierKeyString } from '../audit/index.js';
import { configFrom, dataPath, loadConfig } from '../config/index.js';
import { PulsegateError } from '../errors.js';
import {
  generateMasterKey,
  initializeKeys,
  MASTER_KEY_ENV,
  readMasterKey,
  writeMasterKeyFile,
} from '../keys/index.js';
import type { Logger } from '../logging/logger.js';
import { createPkiHierarchy } from '../pki/index.js';
import { installationLayout } from './layout.js';

export interface InitOptions {
  dataDir: string;
  organisation?: string;
  /** Extra DNS names for the server certificate. */
  serverNames?: string[];
  /** Config values written into pulsegate.yaml (e.g. a port or database URL). */
  settings?: Record<string, Record<string, unknown>>;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  onStep?: (step: string) => void;
}

export interface InitResult {
  dataDir: string;
  adminUsername: string;
  adminTokenFile: string;
  /** When the admin token stops working (Unix milliseconds); `pulsegate token create` makes another. */
  adminTokenExpiresAt: number;
  caFile: string;
}

/** Writes a file that must not exist yet (flag `wx`), with the given mode. */
function writeNew(path: string, contents: string, mode: number): void {
  writeFileSync(path, contents, { flag: 'wx', mode });
}

/** The SQLite file and the files SQLite keeps beside it. */
const SQLITE_COMPANIONS = ['', '-wal', '-shm', '-journal'];

/**
 * Creates a new installation: config, CA and server certificate, master key, database schema,
 * key check value, and an `admin` user with an API token in `secrets/admin.token` (0600).
 * Refuses to touch a directory that already holds an installation. The settings, environment and
 * master key are checked before anything is written, and if a later step fails, what this run
 * made is removed again (never what was there before: files, and the tables it created in a
 * PostgreSQL database), so a corrected run can start afresh.
 */
export async function createInstallation(opts: InitOptions): Promise<InitResult> {
  const dataDir = resolve(opts.dataDir);
  const layout = installationLayout(dataDir);
  const step = opts.onStep ?? (() => {});
  const env = opts.env ?? process.env;
  if (existsSync(layout.config) || existsSync(layout.secretsDir) || existsSync(layout.pkiDir)) {
    throw new PulsegateError('INSTALL_EXISTS', 'the data directory already holds an installation');
  }
  if (existsSync(dataDir) && readdirSync(dataDir).some((f) => f.startsWith('pulsegate.db'))) {
    throw new PulsegateError('INSTALL_EXISTS', 'the data directory already holds a database');
  }
  const settings = opts.settings ?? { server: { port: 8443 } };
  const expected = configFrom(dataDir, settings, env);
  checkConfig(expected);
  // A master key given by the operator must be a good one before anything is written for it.
  const givenKey = env[MASTER_KEY_ENV]?.trim() ? readMasterKey({ file: layout.masterKey, env }) : undefined;

  const made: string[] = [];
  // Tables this run created in a database server's database (an SQLite file goes with `made`).
  let createdTables: string[] = [];
  try {
    return await build();
  } catch (error) {
    // Last made first; a directory this run created goes with everything in it.
    for (const path of made.reverse()) rmSync(path, { recursive: true, force: true });
    if (createdTables.length > 0) await dropCreatedTables(createdTables);
    throw error;
  }

  /** Leaves the database as it was, so that a corrected run does not find an installation there. */
  async function dropCreatedTables(tables: string[]): Promise<void> {
    const store = openConfiguredStore(expected);
    try {
      await store.dropTables(tables);
    } catch {
      // The original failure is what the operator needs to see (the database may be the problem).
    } finally {
      await store.close();
    }
  }

  async function build(): Promise<InitResult> {
    const createdDir = mkdirSync(dataDir, { recursive: true, mode: 0o750 });
    if (createdDir !== undefined) made.push(createdDir);
    if (expected.database.url === '') {
      const sqlite = dataPath(expected, expected.database.sqliteFile);
      for (const path of SQLITE_COMPANIONS.map((suffix) => `${sqlite}${suffix}`))
        if (!existsSync(path)) made.push(path);
    }
    mkdirSync(layout.secretsDir, { mode: 0o700 });
    made.push(layout.secretsDir);
    mkdirSync(layout.pkiDir, { mode: 0o755 });
    made.push(layout.pkiDir);

    step('configuration');
    const header =
      '# Pulsegate configuration. Every key can also be set by PULSEGATE_<SECTION>_<KEY>.\n# See README.md, "Configuration", for the full reference.\n';
    writeNew(layout.config, header + stringify(settings), 0o640);
    made.push(layout.config);
    // What `serve` will read: the file just written, with the environment over it.
    const config = loadConfig(dataDir, env);

    step('certificate authority');
    const organisation = opts.organisation ?? 'Pulsegate';
    const pki = await createPkiHierarchy({ organisation, serverNames: opts.serverNames });
    writeNew(layout.rootCaCert, pki.root.certPem, 0o644);
    writeNew(layout.rootCaKey, pki.root.keyPem, 0o600);
    writeNew(layout.issuingCaCert, pki.issuing.certPem, 0o644);
    writeNew(layout.issuingCaKey, pki.issuing.keyPem, 0o600);
    writeNew(layout.serverCert, pki.server.certPem, 0o644);
    writeNew(layout.serverKey, pki.server.keyPem, 0o600);

    step('master key');
    let masterKey: Buffer;
    if (givenKey) {
      masterKey = givenKey;
    } else {
      masterKey = generateMasterKey();
      writeMasterKeyFile(layout.masterKey, masterKey);
    }

    step('database');
    const store = openConfiguredStore(config);
    try {
      const tables = await store.tableNames();
      if (tables.includes('settings')) {
        const rows = await store.db.selectFrom('settings').select('name').limit(1).execute();
        if (rows.length > 0)
          throw new PulsegateError('INSTALL_EXISTS', 'the database already holds an installation');
      }
      // On a database server, the tables this run creates are dropped again if a later step fails,
      // but only when this run made the schema (Kysely's migration lock lets one run apply the
      // first migration) and its own keys went in: an init racing on the same database, or one
      // that finds another's keys, leaves that installation alone.
      const before = expected.database.url !== '' ? new Set(tables) : undefined;
      const { error, reports } = await store.migrate();
      const ours =
        before !== undefined && reports.some((r) => r.name === '001-core' && r.status === 'applied');
      const remember = async () => {
        const after = await store.tableNames().catch((): string[] => []);
        createdTables = after.filter((t) => !before!.has(t));
      };
      if (error) {
        if (ours) await remember();
        throw error;
      }
      await initializeKeys(store, masterKey);
      if (ours) await remember();
    } finally {
      await store.close();
    }

    step('administrator');
    const services = await createServices(config, { env, logger: opts.logger });
    let adminTokenExpiresAt: number;
    try {
      const password = randomBytes(18).toString('base64url');
      await services.access.users.add({ username: 'admin', password, role: 'admin' });
      // Like every API token it expires (30 days); `pulsegate token create --user admin` renews it.
      const token = await services.access.createApiToken({
        username: 'admin',
        name: 'installation admin token',
      });
      writeNew(layout.adminPassword, `${password}\n`, 0o600);
      writeNew(layout.adminToken, `${token.token}\n`, 0o600);
      adminTokenExpiresAt = token.expiresAt;
      await services.audit.append({
        actor: { type: 'system', name: 'pulsegate init' },
        action: 'installation.init',
        resource: { type: 'installation' },
        outcome: 'success',
      });
      await services.audit.checkpoint();
      // The checkpoint key's public half outside the database: `audit verify` trusts this copy,
      // not the database's, which an attacker with write access to it could replace.
      const auditKey = await services.keys.signingKey('audit');
      writeNew(
        layout.auditVerifierKey,
        `${verifierKeyString(config.audit.origin, auditKey.publicKey)}\n`,
        0o644,
      );
    } finally {
      await services.close();
    }
    step('done');
    return {
      dataDir,
      adminUsername: 'admin',
      adminTokenFile: layout.adminToken,
      adminTokenExpiresAt,
      caFile: layout.rootCaCert,
    };
  }
}
