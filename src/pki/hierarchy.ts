import { randomBytes, type webcrypto } from 'node:crypto';
import { hostname } from 'node:os';
import { privateKeyToPem } from './pem.js';
import { EC_P256, SIGN_SHA256, subtle, x509 } from './x509-setup.js';

const DAY_MS = 86_400_000;

/** A certificate with its private key, both PEM. */
export interface IssuedPem {
  certPem: string;
  keyPem: string;
}

/** The files `pulsegate init` writes for the CA and the HTTPS/MQTT/MLLP server identity. */
export interface PkiBootstrap {
  root: IssuedPem;
  issuing: IssuedPem;
  server: IssuedPem;
}

/**
 * Random positive 128-bit serial (RFC 5280 §4.1.2.2: at most 20 octets, positive), lower-case hex.
 * The first octet is never zero, so the hex is exactly what DER encodes and what TLS stacks report
 * (no leading zeros to strip), and a serial can be looked up as the peer presents it.
 */
export function newSerial(): string {
  for (;;) {
    const bytes = randomBytes(16);
    bytes[0] = bytes[0]! & 0x7f;
    if (bytes[0] !== 0) return bytes.toString('hex');
  }
}

async function newKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return subtle.generateKey(EC_P256, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;
}

async function caCertificate(opts: {
  name: string;
  keys: webcrypto.CryptoKeyPair;
  issuer?: { name: string; key: webcrypto.CryptoKey; cert: x509.X509Certificate };
  years: number;
  pathLength: number;
}): Promise<x509.X509Certificate> {
  const now = Date.now();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(true, opts.pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(opts.keys.publicKey as CryptoKey),
  ];
  if (opts.issuer) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(opts.issuer.cert));
  return x509.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    subject: opts.name,
    issuer: opts.issuer?.name ?? opts.name,
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(now + opts.years * 365 * DAY_MS),
    signingAlgorithm: SIGN_SHA256,
    publicKey: opts.keys.publicKey as CryptoKey,
    signingKey: (opts.issuer?.key ?? opts.keys.privateKey) as CryptoKey,
    extensions,
  });
}

/**
 * Creates the installation's PKI: a root CA (ECDSA P-256, 20 years, path length 1), an issuing
 * CA under it (10 years, path length 0) that signs device and server certificates, and a server
 * certificate for this host (localhost, 127.0.0.1, ::1, the hostname and any extra names).
 */
export async function createPkiHierarchy(opts: {
  organisation: string;
  serverNames?: string[];
}): Promise<PkiBootstrap> {
  const rootName = `CN=${opts.organisation} Root CA,O=${opts.organisation}`;
  const issuingName = `CN=${opts.organisation} Issuing CA,O=${opts.organisation}`;
  const rootKeys = await newKeyPair();
  const root = await caCertificate({ name: rootName, keys: rootKeys, years: 20, pathLength: 1 });
  const issuingKeys = await newKeyPair();
  const issuing = await caCertificate({
    name: issuingName,
    keys: issuingKeys,
    issuer: { name: rootName, key: rootKeys.privateKey, cert: root },
    years: 10,
    pathLength: 0,
  });

  const serverKeys = await newKeyPair();
  const names = [...new Set(['localhost', hostname(), ...(opts.serverNames ?? [])])];
  const now = Date.now();
  const server = await x509.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    subject: `CN=${names[0]},O=${opts.organisation}`,
    issuer: issuingName,
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(now + 397 * DAY_MS),
    signingAlgorithm: SIGN_SHA256,
    publicKey: serverKeys.publicKey as CryptoKey,
    signingKey: issuingKeys.privateKey as CryptoKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension([
        ...names.map((value) => ({ type: 'dns' as const, value })),
        { type: 'ip', value: '127.0.0.1' },
        { type: 'ip', value: '::1' },
      ]),
      await x509.SubjectKeyIdentifierExtension.create(serverKeys.publicKey as CryptoKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuing),
    ],
  });

  return {
    root: { certPem: root.toString('pem'), keyPem: await privateKeyToPem(rootKeys.privateKey) },
    issuing: { certPem: issuing.toString('pem'), keyPem: await privateKeyToPem(issuingKeys.privateKey) },
    // The server presents its chain: leaf then issuing CA (the root is the trust anchor).
    server: {
      certPem: `${server.toString('pem')}\n${issuing.toString('pem')}\n`,
      keyPem: await privateKeyToPem(serverKeys.privateKey),
    },
  };
}
