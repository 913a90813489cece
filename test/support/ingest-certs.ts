/**
 * Device and CA certificates for ingest tests, made with the `openssl` command line (the way an
 * integrator would), signed by the installation's issuing CA: CN = device id, SAN URI
 * urn:pulsegate:device:<id>, EKU clientAuth. `openssl ca` is used because it can backdate
 * (expired certificates).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertFiles {
  cert: string;
  key: string;
  /** Lower-case hex serial. */
  serial: string;
}

export interface SigningCa {
  cert: string;
  key: string;
}

function openssl(args: string[], cwd: string): string {
  return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const EXT = (uri: string | null, eku: string) =>
  [
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature',
    `extendedKeyUsage = ${eku}`,
    ...(uri ? [`subjectAltName = URI:${uri}`] : []),
    '',
  ].join('\n');

/** Issues a client certificate for `name` from `ca` (validity in days, or explicit dates for expired ones). */
export function issueClientCert(
  dir: string,
  ca: SigningCa,
  name: string,
  opts: { days?: number; startDate?: string; endDate?: string; uri?: string | null; eku?: string } = {},
): CertFiles {
  const work = join(dir, `ca-${randomBytes(4).toString('hex')}`);
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'index.txt'), '');
  const serial = `7${randomBytes(16).toString('hex').slice(1)}`;
  writeFileSync(join(work, 'serial'), `${serial}\n`);
  writeFileSync(
    join(work, 'ca.cnf'),
    [
      '[ca]',
      'default_ca = ca_default',
      '[ca_default]',
      `database = ${join(work, 'index.txt')}`,
      `new_certs_dir = ${work}`,
      `serial = ${join(work, 'serial')}`,
      'default_md = sha256',
      'policy = policy_any',
      'unique_subject = no',
      'email_in_dn = no',
      '[policy_any]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  const uri = opts.uri === undefined ? `urn:pulsegate:device:${name}` : opts.uri;
  writeFileSync(join(work, 'ext.cnf'), EXT(uri, opts.eku ?? 'clientAuth'));
  const key = join(dir, `${name}-${serial.slice(0, 6)}.key`);
  const cert = join(dir, `${name}-${serial.slice(0, 6)}.pem`);
  const csr = join(work, 'req.csr');
  openssl(
    [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-subj',
      `/CN=${name}`,
      '-out',
      csr,
    ],
    work,
  );
  const validity = opts.endDate
    ? ['-startdate', opts.startDate ?? '20200101000000Z', '-enddate', opts.endDate]
    : ['-days', String(opts.days ?? 30)];
  openssl(
    [
      'ca',
      '-batch',
      '-notext',
      '-config',
      join(work, 'ca.cnf'),
      '-cert',
      ca.cert,
      '-keyfile',
      ca.key,
      '-in',
      csr,
      '-out',
      cert,
      '-extfile',
      join(work, 'ext.cnf'),
      ...validity,
    ],
    work,
  );
  return { cert, key, serial };
}

/** A self-signed CA that has nothing to do with the installation (for "another CA" tests). */
export function foreignCa(dir: string): SigningCa {
  const key = join(dir, 'foreign-ca.key');
  const cert = join(dir, 'foreign-ca.pem');
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '30',
      '-subj',
      '/CN=Foreign CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  return { cert, key };
}

/** Concatenates PEM files (a CA bundle for clients). */
export function bundle(out: string, ...files: string[]): string {
  writeFileSync(out, files.map((f) => `${readFileSync(f, 'utf8').trim()}\n`).join(''));
  return out;
}
