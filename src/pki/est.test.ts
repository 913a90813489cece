/**
 * EST (RFC 7030) end to end with real clients: a real installation (createInstallation), the
 * real HTTPS server (buildHttpServer) with the PKI and device routes, and `openssl` + `curl`
 * as the device and the operator. Every refusal is checked by code, audit entry, and that
 * nothing was stored.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices, type Services } from '../app.js';
import { loadConfig } from '../config/index.js';
import { deviceRoutes } from '../devices/index.js';
import { PulsegateError } from '../errors.js';
import { EventBus, type PulsegateEvents } from '../events/index.js';
import { buildHttpServer, createMetricsRegistry, type PulsegateHttp } from '../http/index.js';
import { createInstallation, installationLayout } from '../installation/index.js';
import { createLogger } from '../logging/logger.js';
import { checkCsr } from './csr.js';
import { createPki, type Pki, pkiRoutes } from './index.js';

const DAY_MS = 86_400_000;
const MONITOR = 'mon-icu-01';
const PUMP = 'pump-ccu-02';
const ECG = 'ecg-ward-03';
const OXIMETER = 'oxi-ward-04';

let dir: string;
let work: string;
let services: Services;
let pki: Pki;
let http: PulsegateHttp;
let base: string;
let port: number;
let adminToken: string;
let rootPem: string;
let issuingPem: string;
let clockOffset = 0;
const bus = new EventBus();
const events: Array<{ name: string; payload: unknown }> = [];

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], input?: string | Buffer): Run {
  const r = spawnSync(cmd, args, { input, maxBuffer: 16 * 1024 * 1024 });
  return { status: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
}

/** Runs a client without blocking the event loop (the server under test is in this process). */
function runAsync(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        status: code ?? -1,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      }),
    );
  });
}

function openssl(...args: string[]): string {
  const r = run('openssl', args);
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

let fileSeq = 0;
function file(name: string): string {
  fileSeq += 1;
  return join(work, `${fileSeq}-${name}`);
}

interface HttpReply {
  status: number;
  headers: string;
  body: Buffer;
  json: Record<string, unknown>;
}

/** curl against the in-process server, trusting the installation's root CA. */
/** `simplereenroll` with curl: the client certificate and key authenticate, the CSR is the body. */
function reenroll(cert: string, key: string, csrB64: string): Promise<HttpReply> {
  return curl('POST', '/.well-known/est/simplereenroll', [
    '--cert',
    cert,
    '--key',
    key,
    '-H',
    'Content-Type: application/pkcs10',
    '--data-binary',
    `@${csrB64}`,
  ]);
}

async function curl(method: string, path: string, args: string[] = []): Promise<HttpReply> {
  const out = file('body');
  const headers = file('headers');
  const r = await runAsync('curl', [
    '-sS',
    '--max-time',
    '20',
    '--cacert',
    rootPem,
    '--resolve',
    `localhost:${port}:127.0.0.1`,
    '-X',
    method,
    '-o',
    out,
    '-D',
    headers,
    '-w',
    '%{http_code}',
    ...args,
    `${base}${path}`,
  ]);
  if (r.status !== 0) throw new Error(`curl failed: ${r.stderr}`);
  const body = readFileSync(out);
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(body.toString()) as Record<string, unknown>;
  } catch {
    json = {};
  }
  return { status: Number(r.stdout), headers: readFileSync(headers, 'utf8').toLowerCase(), body, json };
}

function api(method: string, path: string, body?: unknown): Promise<HttpReply> {
  const args = ['-H', `Authorization: Bearer ${adminToken}`];
  if (body !== undefined)
    args.push('-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body));
  return curl(method, path, args);
}

async function newToken(deviceId: string): Promise<string> {
  const res = await api('POST', `/api/v1/devices/${deviceId}/enrollment-tokens`);
  expect(res.status).toBe(201);
  return res.json.token as string;
}

/** A device key and a base64 DER CSR for `cn`, made by openssl as a device would. */
function deviceCsr(cn: string, keygen: string[] = ['ecparam', '-genkey', '-name', 'prime256v1']) {
  const key = file('key.pem');
  const der = file('csr.der');
  const b64 = file('csr.b64');
  openssl(...keygen, '-out', key);
  openssl('req', '-new', '-key', key, '-subj', `/CN=${cn}`, '-outform', 'DER', '-out', der);
  openssl('base64', '-in', der, '-out', b64);
  return { key, der, b64 };
}

function simpleenroll(b64File: string, token?: string, extra: string[] = []): Promise<HttpReply> {
  const args = ['-H', 'Content-Type: application/pkcs10', '--data-binary', `@${b64File}`, ...extra];
  if (token) args.push('-H', `Authorization: Bearer ${token}`);
  return curl('POST', '/.well-known/est/simpleenroll', args);
}

/** The certificates in a base64 certs-only reply, as PEM, via openssl. */
function certsFromReply(reply: HttpReply): string {
  const b64 = file('reply.b64');
  const der = file('reply.p7');
  const pem = file('certs.pem');
  writeFileSync(b64, reply.body);
  openssl('base64', '-d', '-in', b64, '-out', der);
  openssl('pkcs7', '-inform', 'DER', '-in', der, '-print_certs', '-out', pem);
  return pem;
}

function serialOf(pemFile: string): string {
  return openssl('x509', '-in', pemFile, '-noout', '-serial').trim().replace('serial=', '').toLowerCase();
}

async function certificateCount(): Promise<number> {
  const row = await services.store.db
    .selectFrom('certificates')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Tokens of the device that could still enroll it (unused and unexpired). */
async function unusedTokens(deviceId: string): Promise<number> {
  const rows = await services.store.db
    .selectFrom('enrollment_tokens')
    .select('id')
    .where('device_id', '=', deviceId)
    .where('used_at', 'is', null)
    .where('expires_at', '>', Date.now())
    .execute();
  return rows.length;
}

async function lastAudit(action: string) {
  const entries = await services.audit.list({ action, limit: 10_000 });
  return entries[entries.length - 1];
}

function expectProblem(res: HttpReply, status: number, code: string): void {
  expect(res.headers).toContain('content-type: application/problem+json');
  expect({ status: res.status, code: res.json.code }).toEqual({ status, code });
}

/** A refused enrollment: its code, an audit entry with that code, and nothing stored. */
async function expectRefusedEnrollment(
  attempt: () => Promise<HttpReply>,
  status: number,
  code: string,
  action = 'pki.enroll',
): Promise<HttpReply> {
  const before = await certificateCount();
  const auditBefore = (await services.audit.list({ action, limit: 10_000 })).length;
  const res = await attempt();
  expectProblem(res, status, code);
  expect(await certificateCount()).toBe(before);
  const entries = await services.audit.list({ action, limit: 10_000 });
  expect(entries.length).toBe(auditBefore + 1);
  expect(entries[entries.length - 1]).toMatchObject({ outcome: 'denied', code });
  return res;
}

function peerOf(pemFile: string) {
  const raw = spawnSync('openssl', ['x509', '-in', pemFile, '-outform', 'DER']).stdout;
  const fingerprint = openssl('x509', '-in', pemFile, '-noout', '-fingerprint', '-sha256')
    .trim()
    .split('=')[1]!;
  return { raw, serialNumber: serialOf(pemFile).toUpperCase(), fingerprint256: fingerprint };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pulsegate-est-'));
  work = join(dir, 'work');
  const dataDir = join(dir, 'data');
  await createInstallation({
    dataDir,
    settings: { server: { port: 0, host: '127.0.0.1' }, log: { level: 'silent' } },
    env: {},
  });
  const config = loadConfig(dataDir, {});
  const layout = installationLayout(dataDir);
  rootPem = layout.rootCaCert;
  issuingPem = layout.issuingCaCert;
  const logger = createLogger({ level: 'silent' });
  services = await createServices(config, { logger, env: {} });
  for (const name of ['certificate.issued', 'certificate.revoked', 'device.changed'] as const) {
    bus.on(name, (payload: PulsegateEvents[typeof name]) => events.push({ name, payload }));
  }
  pki = await createPki({
    store: services.store,
    audit: services.audit,
    bus,
    devices: services.devices,
    config,
    layout,
    now: () => Date.now() + clockOffset,
  });
  http = await buildHttpServer({
    auth: services.access,
    audit: services.audit,
    logger,
    metrics: createMetricsRegistry(),
    ready: async () => true,
    routes: [
      deviceRoutes({ devices: services.devices, access: services.access }),
      pkiRoutes({ pki, devices: services.devices, access: services.access }),
    ],
    bodyLimitBytes: config.server.bodyLimitBytes,
    tls: {
      cert: readFileSync(layout.serverCert),
      key: readFileSync(layout.serverKey),
      minVersion: config.server.tlsMinVersion,
      clientCa: [readFileSync(layout.issuingCaCert), readFileSync(layout.rootCaCert)],
    },
    publicUrl: config.server.publicUrl,
    version: 'test',
  });
  await http.listen({ host: '127.0.0.1', port: 0 });
  const address = http.server.address();
  port = typeof address === 'object' && address ? address.port : 0;
  base = `https://localhost:${port}`;
  adminToken = readFileSync(layout.adminToken, 'utf8').trim();
  spawnSync('mkdir', ['-p', work]);
  for (const [id, type, careUnit] of [
    [MONITOR, 'patient-monitor', 'ICU'],
    [PUMP, 'infusion-pump', 'CCU'],
    [ECG, 'ecg-patch', 'ICU'],
    [OXIMETER, 'pulse-oximeter', 'ICU'],
  ] as const) {
    await services.devices.create({ id, type, vendor: 'Acme', model: 'X1', careUnit });
  }
}, 60_000);

afterAll(async () => {
  pki?.close();
  await http?.close();
  await services?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('GET /.well-known/est/cacerts', () => {
  it('returns the issuing and root CA as base64 certs-only CMS', async () => {
    const res = await curl('GET', '/.well-known/est/cacerts');
    expect(res.status).toBe(200);
    expect(res.headers).toContain('content-type: application/pkcs7-mime; smime-type=certs-only');
    expect(res.headers).toContain('content-transfer-encoding: base64');
    const pem = certsFromReply(res);
    const subjects = readFileSync(pem, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('subject='));
    expect(subjects).toHaveLength(2);
    expect(subjects.join('\n')).toMatch(/Issuing CA/);
    expect(subjects.join('\n')).toMatch(/Root CA/);
  });
});

describe('EST enrollment with openssl and curl', () => {
  let certPem: string;
  let keyPem: string;
  let token: string;

  it('issues a client certificate that chains to the root, for the device only', async () => {
    token = await newToken(MONITOR);
    expect(token).toMatch(/^pge_[A-Za-z0-9_-]{43}$/);
    const csr = deviceCsr(MONITOR);
    const res = await simpleenroll(csr.b64, token);
    expect(res.status).toBe(200);
    expect(res.headers).toContain('content-type: application/pkcs7-mime; smime-type=certs-only');
    expect(res.headers).toContain('content-transfer-encoding: base64');
    certPem = certsFromReply(res);
    keyPem = csr.key;

    const verify = run('openssl', [
      'verify',
      '-CAfile',
      rootPem,
      '-untrusted',
      issuingPem,
      '-purpose',
      'sslclient',
      certPem,
    ]);
    expect(verify.stdout).toContain(': OK');
    const text = openssl('x509', '-in', certPem, '-noout', '-text');
    expect(text).toContain(`Subject: CN = ${MONITOR}`);
    expect(text).toContain(`URI:urn:pulsegate:device:${MONITOR}`);
    expect(text).toContain('TLS Web Client Authentication');
    expect(text).toMatch(/Digital Signature, Key Agreement/);
    expect(text).toContain('X509v3 Authority Key Identifier');
    expect(text).toContain('X509v3 Subject Key Identifier');
    expect(text).toContain('CA:FALSE');
    const end = openssl('x509', '-in', certPem, '-noout', '-enddate').trim().replace('notAfter=', '');
    const days = (Date.parse(end) - Date.now()) / DAY_MS;
    expect(days).toBeGreaterThan(89.9);
    expect(days).toBeLessThan(90.1);
    // The serial is positive, 128 bits, with no leading zero octet.
    expect(serialOf(certPem)).toMatch(/^(0[1-9a-f]|[1-7][0-9a-f])[0-9a-f]{30}$/);

    const device = await services.devices.get(MONITOR);
    expect(device).toMatchObject({ lifecycle: 'enrolled', certificateStatus: 'valid' });
    expect(await unusedTokens(MONITOR)).toBe(0);
    expect(events).toContainEqual({
      name: 'certificate.issued',
      payload: expect.objectContaining({ deviceId: MONITOR, serial: serialOf(certPem) }),
    });
    expect(await lastAudit('pki.enroll')).toMatchObject({
      outcome: 'success',
      resource: { type: 'device', id: MONITOR },
    });
    // The token never reaches the audit log.
    const everything = JSON.stringify(await services.audit.list({ limit: 10_000 }));
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(token.slice(4));
  });

  it('identify() accepts the issued certificate', async () => {
    await expect(pki.identify(peerOf(certPem))).resolves.toMatchObject({
      deviceId: MONITOR,
      serial: serialOf(certPem),
    });
  });

  it('refuses a reused token', async () => {
    const csr = deviceCsr(MONITOR);
    await expectRefusedEnrollment(() => simpleenroll(csr.b64, token), 401, 'EST_TOKEN_INVALID');
    expect((await lastAudit('pki.enroll'))?.reason).toMatch(/already used/);
  });

  it('refuses an expired token and leaves it unused', async () => {
    const expired = await newToken(ECG);
    const csr = deviceCsr(ECG);
    clockOffset = 86_400_000 + 1000;
    try {
      await expectRefusedEnrollment(() => simpleenroll(csr.b64, expired), 401, 'EST_TOKEN_INVALID');
    } finally {
      clockOffset = 0;
    }
    expect((await lastAudit('pki.enroll'))?.reason).toMatch(/expired/);
    // Not consumed: at the real time it is still usable.
    expect(await unusedTokens(ECG)).toBe(1);
  });

  it('refuses an unknown token, a malformed one and none at all', async () => {
    const csr = deviceCsr(ECG);
    const unknown = `pge_${randomBytes(32).toString('base64url')}`;
    await expectRefusedEnrollment(() => simpleenroll(csr.b64, unknown), 401, 'EST_TOKEN_INVALID');
    expect((await lastAudit('pki.enroll'))?.reason).toMatch(/unknown/);
    await expectRefusedEnrollment(() => simpleenroll(csr.b64, 'not-a-token'), 401, 'EST_TOKEN_INVALID');
    await expectRefusedEnrollment(() => simpleenroll(csr.b64), 401, 'EST_TOKEN_INVALID');
    expect((await lastAudit('pki.enroll'))?.reason).toMatch(/no enrollment token/);
    // An operator's API token is not an enrollment token.
    await expectRefusedEnrollment(() => simpleenroll(csr.b64, adminToken), 401, 'EST_TOKEN_INVALID');
  });

  describe('bad requests with a good token: refused, token kept for a retry', () => {
    let ecgToken: string;
    beforeAll(async () => {
      ecgToken = await newToken(ECG);
    });

    it('a CSR for another device', async () => {
      const csr = deviceCsr(PUMP);
      await expectRefusedEnrollment(() => simpleenroll(csr.b64, ecgToken), 400, 'EST_CSR_SUBJECT_MISMATCH');
      expect(await unusedTokens(ECG)).toBe(1);
    });

    it('an RSA 1024 key', async () => {
      const csr = deviceCsr(ECG, ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024']);
      await expectRefusedEnrollment(() => simpleenroll(csr.b64, ecgToken), 400, 'EST_CSR_WEAK_KEY');
      expect(await unusedTokens(ECG)).toBe(1);
    });

    it('an RSA key with public exponent 3', async () => {
      const csr = deviceCsr(ECG, [
        'genpkey',
        '-algorithm',
        'RSA',
        '-pkeyopt',
        'rsa_keygen_bits:2048',
        '-pkeyopt',
        'rsa_keygen_pubexp:3',
      ]);
      await expectRefusedEnrollment(() => simpleenroll(csr.b64, ecgToken), 400, 'EST_CSR_WEAK_KEY');
      expect((await lastAudit('pki.enroll'))?.reason).toMatch(/exponent/);
      expect(await unusedTokens(ECG)).toBe(1);
    });

    it('a P-192 key', async () => {
      const csr = deviceCsr(ECG, ['ecparam', '-genkey', '-name', 'prime192v1']);
      await expectRefusedEnrollment(() => simpleenroll(csr.b64, ecgToken), 400, 'EST_CSR_WEAK_KEY');
      expect(await unusedTokens(ECG)).toBe(1);
    });

    it('garbage instead of base64', async () => {
      const junk = file('junk.b64');
      writeFileSync(junk, '!!! this is not base64 ###\n');
      await expectRefusedEnrollment(() => simpleenroll(junk, ecgToken), 400, 'EST_CSR_INVALID');
      const notCsr = file('notcsr.b64');
      writeFileSync(notCsr, randomBytes(200).toString('base64'));
      await expectRefusedEnrollment(() => simpleenroll(notCsr, ecgToken), 400, 'EST_CSR_INVALID');
      expect(await unusedTokens(ECG)).toBe(1);
    });

    it('a CSR whose signature is broken (no proof of possession)', async () => {
      const csr = deviceCsr(ECG);
      const der = readFileSync(csr.der);
      // The last octet belongs to the signature's s value: flip it.
      der[der.length - 1] = der[der.length - 1]! ^ 0x01;
      const broken = file('broken.b64');
      writeFileSync(broken, der.toString('base64'));
      await expectRefusedEnrollment(() => simpleenroll(broken, ecgToken), 400, 'EST_CSR_INVALID');
      expect((await lastAudit('pki.enroll'))?.reason).toMatch(/signature/);
      expect(await unusedTokens(ECG)).toBe(1);
    });

    it('a wrong content type', async () => {
      const csr = deviceCsr(ECG);
      const res = await curl('POST', '/.well-known/est/simpleenroll', [
        '-H',
        `Authorization: Bearer ${ecgToken}`,
        '-H',
        'Content-Type: text/plain',
        '--data-binary',
        `@${csr.b64}`,
      ]);
      expectProblem(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('then the same token enrolls an RSA 2048 key', async () => {
      const csr = deviceCsr(ECG, ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']);
      const res = await simpleenroll(csr.b64, ecgToken);
      expect(res.status).toBe(200);
      const text = openssl('x509', '-in', certsFromReply(res), '-noout', '-text');
      expect(text).toContain('Public-Key: (2048 bit)');
      expect(text).toContain('Digital Signature');
      expect(text).not.toContain('Key Agreement');
      expect(await unusedTokens(ECG)).toBe(0);
    });
  });

  describe('simplereenroll with the client certificate', () => {
    let oldCert: string;
    let newCert: string;
    let newKey: string;

    it('issues a new certificate and supersedes the old one', async () => {
      oldCert = certPem;
      const csr = deviceCsr(MONITOR);
      const res = await reenroll(oldCert, keyPem, csr.b64);
      expect(res.status).toBe(200);
      newCert = certsFromReply(res);
      newKey = csr.key;
      expect(serialOf(newCert)).not.toBe(serialOf(oldCert));
      const verify = run('openssl', ['verify', '-CAfile', rootPem, '-untrusted', issuingPem, newCert]);
      expect(verify.stdout).toContain(': OK');
      const list = await api('GET', `/api/v1/devices/${MONITOR}/certificates`);
      expect(list.status).toBe(200);
      const items = list.json.items as Array<{ serial: string; status: string }>;
      expect(items.find((c) => c.serial === serialOf(oldCert))?.status).toBe('superseded');
      expect(items.find((c) => c.serial === serialOf(newCert))?.status).toBe('valid');
      expect(await lastAudit('pki.reenroll')).toMatchObject({ outcome: 'success' });
      await expect(pki.identify(peerOf(oldCert))).rejects.toMatchObject({ code: 'INGEST_CERT_REVOKED' });
      await expect(pki.identify(peerOf(newCert))).resolves.toMatchObject({ deviceId: MONITOR });
    });

    it('refuses without a client certificate', async () => {
      const csr = deviceCsr(MONITOR);
      await expectRefusedEnrollment(
        () =>
          curl('POST', '/.well-known/est/simplereenroll', [
            '-H',
            'Content-Type: application/pkcs10',
            '--data-binary',
            `@${csr.b64}`,
          ]),
        401,
        'EST_CLIENT_CERT_REQUIRED',
        'pki.reenroll',
      );
    });

    it('refuses the superseded certificate', async () => {
      const csr = deviceCsr(MONITOR);
      await expectRefusedEnrollment(
        () => reenroll(oldCert, keyPem, csr.b64),
        401,
        'EST_CLIENT_CERT_INVALID',
        'pki.reenroll',
      );
    });

    it("refuses Pulsegate's own service certificate (ours, but no device's)", async () => {
      const svc = await pki.issueServiceCertificate('pulsegate-ingest', 30);
      const cert = file('svc.pem');
      const key = file('svc.key');
      writeFileSync(cert, svc.certChainPem);
      writeFileSync(key, svc.keyPem);
      const csr = deviceCsr('pulsegate-ingest');
      await expectRefusedEnrollment(
        () => reenroll(cert, key, csr.b64),
        401,
        'EST_CLIENT_CERT_INVALID',
        'pki.reenroll',
      );
      expect((await lastAudit('pki.reenroll'))?.reason).toMatch(/service certificate/);
    });

    it('refuses a CSR for another device', async () => {
      const csr = deviceCsr(PUMP);
      await expectRefusedEnrollment(
        () => reenroll(newCert, newKey, csr.b64),
        400,
        'EST_CSR_SUBJECT_MISMATCH',
        'pki.reenroll',
      );
    });

    describe('revocation', () => {
      let serial: string;

      it('revokes, publishes the CRL with the reason, and emits certificate.revoked', async () => {
        serial = serialOf(newCert);
        const res = await api('POST', `/api/v1/devices/${MONITOR}/revoke`, { reason: 'keyCompromise' });
        expect(res.status).toBe(200);
        expect(res.json).toMatchObject({ deviceId: MONITOR, revoked: [{ serial, reason: 'keyCompromise' }] });
        expect(events).toContainEqual({
          name: 'certificate.revoked',
          payload: expect.objectContaining({ deviceId: MONITOR, serial, reason: 'keyCompromise' }),
        });
        expect(await services.devices.get(MONITOR)).toMatchObject({ certificateStatus: 'revoked' });
        expect(await lastAudit('pki.certificate.revoke')).toMatchObject({
          outcome: 'success',
          reason: expect.stringContaining('keyCompromise'),
          actor: { name: 'admin' },
        });

        const crl = await curl('GET', '/pki/crl');
        expect(crl.status).toBe(200);
        expect(crl.headers).toContain('content-type: application/pkix-crl');
        const crlFile = file('crl.der');
        writeFileSync(crlFile, crl.body);
        const text = openssl('crl', '-inform', 'DER', '-in', crlFile, '-noout', '-text');
        const upper = serial.toUpperCase();
        const entry = text.slice(text.indexOf(`Serial Number: ${upper}`));
        expect(entry).toContain(`Serial Number: ${upper}`);
        expect(entry.split('Serial Number:')[1]).toContain('Key Compromise');
        // The superseded certificate is listed too, with its reason.
        const old = text.slice(text.indexOf(`Serial Number: ${serialOf(oldCert).toUpperCase()}`));
        expect(old.split('Serial Number:')[1]).toContain('Superseded');
        expect(text).toContain('X509v3 CRL Number');
        expect(text).toContain('X509v3 Authority Key Identifier');
        expect(text).toMatch(/Next Update: /);
        const verified = run('openssl', [
          'crl',
          '-inform',
          'DER',
          '-in',
          crlFile,
          '-CAfile',
          issuingPem,
          '-noout',
        ]);
        expect(verified.stderr + verified.stdout).toContain('verify OK');
      });

      it('identify() refuses the revoked certificate', async () => {
        await expect(pki.identify(peerOf(newCert))).rejects.toMatchObject({ code: 'INGEST_CERT_REVOKED' });
      });

      it('simplereenroll refuses the revoked certificate', async () => {
        const csr = deviceCsr(MONITOR);
        await expectRefusedEnrollment(
          () => reenroll(newCert, newKey, csr.b64),
          401,
          'EST_CLIENT_CERT_INVALID',
          'pki.reenroll',
        );
      });

      it('revoking again changes nothing; an unknown reason is refused', async () => {
        expectProblem(
          await api('POST', `/api/v1/devices/${MONITOR}/revoke`, { reason: 'keyCompromise' }),
          404,
          'PKI_CERT_NOT_FOUND',
        );
        expectProblem(
          await api('POST', `/api/v1/devices/${MONITOR}/revoke`, { reason: 'because' }),
          400,
          'VALIDATION_FAILED',
        );
      });
    });
  });
});

describe('identify() on every MQTT connect', () => {
  let cert: string;

  beforeAll(async () => {
    const csr = deviceCsr(PUMP);
    const res = await simpleenroll(csr.b64, await newToken(PUMP));
    expect(res.status).toBe(200);
    cert = certsFromReply(res);
  });

  it('refuses an unknown serial and a forged certificate with a known serial', async () => {
    const peer = peerOf(cert);
    await expect(pki.identify({ ...peer, serialNumber: '7FFF' })).rejects.toMatchObject({
      code: 'INGEST_CERT_INVALID',
    });
    const forged = Buffer.from(peer.raw);
    forged[forged.length - 1] = forged[forged.length - 1]! ^ 0xff;
    await expect(pki.identify({ ...peer, raw: forged })).rejects.toMatchObject({
      code: 'INGEST_CERT_INVALID',
    });
  });

  it('refuses an expired certificate, and the inventory shows it expired', async () => {
    clockOffset = 91 * DAY_MS;
    try {
      await expect(pki.identify(peerOf(cert))).rejects.toMatchObject({ code: 'INGEST_CERT_EXPIRED' });
      expect((await services.devices.get(PUMP)).certificateStatus).toBe('valid');
      expect(await pki.markExpired(Date.now() + clockOffset)).toContain(PUMP);
      expect((await services.devices.get(PUMP)).certificateStatus).toBe('expired');
      expect((await api('GET', '/api/v1/devices?certificateStatus=expired')).json.items).toContainEqual(
        expect.objectContaining({ id: PUMP }),
      );
      expect(await pki.markExpired(Date.now() + clockOffset)).toEqual([]);
    } finally {
      clockOffset = 0;
    }
    // Back in the present the certificate is good again; a new one would mark the device valid.
    await services.store.db
      .updateTable('devices')
      .set({ certificate_status: 'valid' })
      .where('id', '=', PUMP)
      .execute();
    expect(await pki.markExpired()).toEqual([]);
  });

  it('refuses a quarantined device', async () => {
    await expect(pki.identify(peerOf(cert))).resolves.toMatchObject({ deviceId: PUMP });
    await services.devices.update(PUMP, { lifecycle: 'quarantined' });
    bus.emit('device.changed', { deviceId: PUMP, change: 'lifecycle.quarantined', at: Date.now() });
    await expect(pki.identify(peerOf(cert))).rejects.toMatchObject({ code: 'INGEST_DEVICE_NOT_ACTIVE' });
    // ...and it can get no new enrollment token.
    expectProblem(
      await api('POST', `/api/v1/devices/${PUMP}/enrollment-tokens`),
      409,
      'DEVICE_NOT_ENROLLABLE',
    );
  });
});

describe('one token, two concurrent enrollments', () => {
  it('issues exactly one certificate', async () => {
    const token = await newToken(OXIMETER);
    const p384 = ['ecparam', '-genkey', '-name', 'secp384r1'];
    const [a, b] = [deviceCsr(OXIMETER, p384), deviceCsr(OXIMETER, p384)];
    const before = await certificateCount();
    const replies = await Promise.all([simpleenroll(a.b64, token), simpleenroll(b.b64, token)]);
    expect(replies.map((r) => r.status).sort()).toEqual([200, 401]);
    expect(replies.find((r) => r.status === 401)?.json.code).toBe('EST_TOKEN_INVALID');
    expect(await certificateCount()).toBe(before + 1);
    const text = openssl(
      'x509',
      '-in',
      certsFromReply(replies.find((r) => r.status === 200)!),
      '-noout',
      '-text',
    );
    expect(text).toContain('ASN1 OID: secp384r1');
  });
});

describe('operator routes', () => {
  it('need authentication and the right permission', async () => {
    expectProblem(await curl('POST', `/api/v1/devices/${ECG}/enrollment-tokens`), 401, 'AUTH_REQUIRED');
    expectProblem(await curl('GET', `/api/v1/devices/${ECG}/certificates`), 401, 'AUTH_REQUIRED');
    expectProblem(
      await api('POST', '/api/v1/devices/no-such-device/enrollment-tokens'),
      404,
      'DEVICE_NOT_FOUND',
    );
  });
});

describe('CSR parser (property)', () => {
  it('random bytes never crash and are always EST_CSR_INVALID', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 2048 }), async (bytes) => {
        const error = await checkCsr(bytes).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(PulsegateError);
        expect((error as PulsegateError).code).toBe('EST_CSR_INVALID');
      }),
      { numRuns: 300 },
    );
  });

  it('a real CSR with any one byte changed is EST_CSR_INVALID, never accepted', async () => {
    const der = readFileSync(deviceCsr(ECG).der);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: der.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        async (index, flip) => {
          const mutated = Buffer.from(der);
          mutated[index] = mutated[index]! ^ flip;
          const error = await checkCsr(mutated).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error).toBeInstanceOf(PulsegateError);
          // A flipped curve OID can name a weak curve, caught before the signature is checked.
          expect(['EST_CSR_INVALID', 'EST_CSR_WEAK_KEY']).toContain((error as PulsegateError).code);
        },
      ),
      { numRuns: 200 },
    );
  });
});

// Last in this file: it leaves 127.0.0.1 over its limit for the rest of the minute.
describe('an address that keeps failing EST', () => {
  it('gets 429 RATE_LIMITED before any work once it used up its refusals; nothing is issued or audited', async () => {
    const csr = deviceCsr(OXIMETER);
    // Earlier tests' refusals in this minute count too: fail until the limit (20) answers.
    const refusals: number[] = [];
    while (refusals.at(-1) !== 429 && refusals.length <= 21)
      refusals.push((await simpleenroll(csr.b64, 'not-a-token')).status);
    expect(refusals.at(-1)).toBe(429);
    expect(refusals.slice(0, -1).every((status) => status === 401)).toBe(true);
    const audited = await services.audit.size();
    const issued = await services.store.db.selectFrom('certificates').select('serial').execute();
    // Even a good token is now refused up front, without its CSR being looked at.
    const blocked = await simpleenroll(csr.b64, await newToken(OXIMETER));
    expect(blocked.status).toBe(429);
    expect(JSON.parse(blocked.body.toString()).code).toBe('RATE_LIMITED');
    expect((await simpleenroll(csr.b64)).status).toBe(429);
    // One entry for issuing the token above; none for the refused requests.
    expect(await services.audit.size()).toBe(audited + 1);
    expect(await services.store.db.selectFrom('certificates').select('serial').execute()).toEqual(issued);
  });
});
