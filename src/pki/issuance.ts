import { setCertificateStatus } from '../devices/index.js';
import { PulsegateError } from '../errors.js';
import { supersedeValid } from './certificate-rows.js';
import { type CheckedCsr, checkCsr } from './csr.js';
import type { RequestContext } from './deps.js';
import { certificateRow, fingerprintOf, signDeviceCertificate } from './device-certificate.js';
import { hashEnrollmentToken, looksLikeEnrollmentToken, tokenHashesEqual } from './enrollment-token.js';
import { auditRefusal, BLOCKED_LIFECYCLES, type PkiContext, requestFields } from './pki-context.js';
import { isServiceName } from './service-certificate.js';
import { x509 } from './x509-setup.js';

/** A certificate the CA just issued, with the chain above it (issuing CA, then root). */
export interface IssuedCertificate {
  deviceId: string;
  serial: string;
  notAfter: number;
  certificate: x509.X509Certificate;
  chain: x509.X509Certificate[];
}

type Actor = { type: 'device'; id: string } | { type: 'anonymous' };

/**
 * EST enrollment and re-enrollment (RFC 7030 §4.2): check the caller, check the request, sign,
 * then store the certificate, consume the token or supersede the old certificate, and update the
 * device, all in one transaction.
 */
export function createIssuance(ctx: PkiContext) {
  const { db } = ctx;

  async function refuse(
    action: string,
    actor: Actor,
    error: PulsegateError,
    reason: string,
    request?: RequestContext,
  ): Promise<PulsegateError> {
    const resource = actor.type === 'device' ? { type: 'device', id: actor.id } : { type: 'device' };
    return auditRefusal(ctx, { actor, action, resource, reason }, error, request);
  }

  /** The CSR must parse, use a strong key, verify, and name exactly the device (CN). */
  async function checkRequest(
    action: string,
    deviceId: string,
    csrDer: Uint8Array,
    request?: RequestContext,
  ): Promise<CheckedCsr> {
    const actor: Actor = { type: 'device', id: deviceId };
    let csr: CheckedCsr;
    try {
      csr = await checkCsr(csrDer);
    } catch (error) {
      const e = error instanceof PulsegateError ? error : new PulsegateError('EST_CSR_INVALID');
      throw await refuse(action, actor, e, e.detail ?? 'certificate request refused', request);
    }
    if (csr.commonNames.length !== 1 || csr.commonNames[0] !== deviceId) {
      throw await refuse(
        action,
        actor,
        new PulsegateError('EST_CSR_SUBJECT_MISMATCH'),
        'the request subject CN is not the enrolling device',
        request,
      );
    }
    // A key whose certificate was revoked as compromised (a quarantine does that) is never
    // certified again, for any device: a clone holding it must stay locked out after a release.
    const compromised = await db
      .selectFrom('certificates')
      .select('serial')
      .where('public_key_sha256', '=', csr.publicKeySha256)
      .where('status', '=', 'revoked')
      .where('revocation_reason', '=', 'keyCompromise')
      .executeTakeFirst();
    if (compromised) {
      throw await refuse(
        action,
        actor,
        new PulsegateError('EST_CSR_KEY_REVOKED'),
        `the request's key was revoked as compromised with certificate ${compromised.serial}`,
        request,
      );
    }
    return csr;
  }

  async function deviceMayEnroll(action: string, deviceId: string, request?: RequestContext) {
    const device = await ctx.devices.get(deviceId);
    if (BLOCKED_LIFECYCLES.has(device.lifecycle)) {
      throw await refuse(
        action,
        { type: 'device', id: deviceId },
        new PulsegateError('DEVICE_NOT_ENROLLABLE'),
        `device is ${device.lifecycle}`,
        request,
      );
    }
  }

  /** After commit: caches, events and the success entry. */
  async function issued(
    action: string,
    cert: x509.X509Certificate,
    deviceId: string,
    csr: CheckedCsr,
    superseded: string[],
    enrolled: boolean,
    request?: RequestContext,
  ): Promise<IssuedCertificate> {
    const t = ctx.now();
    const serial = cert.serialNumber.toLowerCase();
    for (const s of superseded) {
      ctx.identities.delete(s);
      // A superseded certificate is revoked with reason `superseded` (RFC 5280 §5.3.1): sessions
      // still using it end now, and the device reconnects with its new certificate.
      ctx.bus.emit('certificate.revoked', { deviceId, serial: s, reason: 'superseded', at: t });
    }
    if (superseded.length) ctx.crlChanged();
    ctx.bus.emit('certificate.issued', { deviceId, serial, notAfter: cert.notAfter.getTime(), at: t });
    if (enrolled) ctx.bus.emit('device.changed', { deviceId, change: 'lifecycle.enrolled', at: t });
    await ctx.audit.append({
      actor: { type: 'device', id: deviceId },
      action,
      resource: { type: 'device', id: deviceId },
      outcome: 'success',
      reason: `certificate ${serial} issued (${csr.keyDescription})${
        superseded.length ? `, superseding ${superseded.join(', ')}` : ''
      }`,
      ...requestFields(request),
    });
    return {
      deviceId,
      serial,
      notAfter: cert.notAfter.getTime(),
      certificate: cert,
      chain: [ctx.ca.issuing, ctx.ca.root],
    };
  }

  return {
    /** `simpleenroll`: the bearer is a one-time enrollment token; the CSR's CN must be its device. */
    async enroll(
      token: string | undefined,
      csrDer: Uint8Array,
      request?: RequestContext,
    ): Promise<IssuedCertificate> {
      const action = 'pki.enroll';
      const t = ctx.now();
      const tokenInvalid = (reason: string, actor: Actor = { type: 'anonymous' }) =>
        refuse(action, actor, new PulsegateError('EST_TOKEN_INVALID'), reason, request);
      if (!token) throw await tokenInvalid('no enrollment token');
      if (!looksLikeEnrollmentToken(token)) throw await tokenInvalid('malformed enrollment token');
      const hash = hashEnrollmentToken(token);
      const row = await db
        .selectFrom('enrollment_tokens')
        .selectAll()
        .where('token_hash', '=', hash)
        .executeTakeFirst();
      if (!row || !tokenHashesEqual(row.token_hash, hash))
        throw await tokenInvalid('unknown enrollment token');
      const actor: Actor = { type: 'device', id: row.device_id };
      if (row.used_at !== null) throw await tokenInvalid(`enrollment token ${row.id} already used`, actor);
      if (Number(row.expires_at) <= t) throw await tokenInvalid(`enrollment token ${row.id} expired`, actor);
      await deviceMayEnroll(action, row.device_id, request);
      const csr = await checkRequest(action, row.device_id, csrDer, request);
      const cert = await signDeviceCertificate({
        ca: ctx.ca,
        csr,
        deviceId: row.device_id,
        days: ctx.config.deviceCertificateDays,
        now: t,
      });
      let result: { superseded: string[]; enrolled: boolean };
      try {
        result = await db.transaction().execute(async (trx) => {
          // Consuming the token is conditional and in the same transaction as the insert: two
          // concurrent requests with one token cannot both get a certificate.
          const used = await trx
            .updateTable('enrollment_tokens')
            .set({ used_at: t })
            .where('id', '=', row.id)
            .where('used_at', 'is', null)
            .where('expires_at', '>', t)
            .executeTakeFirst();
          if (Number(used.numUpdatedRows) !== 1) throw new PulsegateError('EST_TOKEN_INVALID');
          const superseded = await supersedeValid(trx, { deviceId: row.device_id }, t);
          await trx
            .insertInto('certificates')
            .values(certificateRow(cert, row.device_id, csr.publicKeySha256, t))
            .execute();
          const { enrolled } = await setCertificateStatus(trx, row.device_id, 'valid', t);
          if (enrolled) await ctx.onFreshEnrollment?.(trx, row.device_id);
          return { superseded, enrolled };
        });
      } catch (error) {
        if (error instanceof PulsegateError && error.code === 'EST_TOKEN_INVALID')
          throw await tokenInvalid(`enrollment token ${row.id} already used`, actor);
        throw error;
      }
      return issued(action, cert, row.device_id, csr, result.superseded, result.enrolled, request);
    },

    /**
     * `simplereenroll`: the caller authenticates with its current certificate, which must be one
     * we issued and still valid; the CSR must name the same device (RFC 7030 §4.2.2). The old
     * certificate becomes superseded.
     */
    async reenroll(
      peerCertDer: Uint8Array | undefined,
      csrDer: Uint8Array,
      request?: RequestContext,
    ): Promise<IssuedCertificate> {
      const action = 'pki.reenroll';
      const t = ctx.now();
      if (!peerCertDer || peerCertDer.byteLength === 0) {
        throw await refuse(
          action,
          { type: 'anonymous' },
          new PulsegateError('EST_CLIENT_CERT_REQUIRED'),
          'no verified client certificate',
          request,
        );
      }
      const certInvalid = (reason: string, actor: Actor = { type: 'anonymous' }) =>
        refuse(action, actor, new PulsegateError('EST_CLIENT_CERT_INVALID'), reason, request);
      let peer: x509.X509Certificate;
      try {
        peer = new x509.X509Certificate(Buffer.from(peerCertDer));
      } catch {
        throw await certInvalid('client certificate does not parse');
      }
      // The TLS layer verified the chain; verify again so this never depends on its configuration.
      let signedByUs = false;
      try {
        signedByUs =
          peer.issuer === ctx.ca.issuing.subject &&
          (await peer.verify({ publicKey: ctx.ca.issuing, signatureOnly: true }));
      } catch {
        signedByUs = false;
      }
      if (!signedByUs) throw await certInvalid('client certificate not issued by this CA');
      const serial = peer.serialNumber.toLowerCase();
      const stored = await db
        .selectFrom('certificates')
        .select(['serial', 'device_id', 'status', 'fingerprint_sha256', 'not_before', 'not_after'])
        .where('serial', '=', serial)
        .executeTakeFirst();
      if (!stored || stored.fingerprint_sha256 !== fingerprintOf(peerCertDer))
        throw await certInvalid(`client certificate ${serial} unknown`);
      // Pulsegate's own service certificates are ours but name no device: they never re-enroll here.
      if (isServiceName(stored.device_id))
        throw await certInvalid(`client certificate ${serial} is a service certificate`);
      const actor: Actor = { type: 'device', id: stored.device_id };
      if (stored.status !== 'valid')
        throw await certInvalid(`client certificate ${serial} is ${stored.status}`, actor);
      if (t < Number(stored.not_before) || t >= Number(stored.not_after))
        throw await certInvalid(`client certificate ${serial} is outside its validity`, actor);
      await deviceMayEnroll(action, stored.device_id, request);
      const csr = await checkRequest(action, stored.device_id, csrDer, request);
      const cert = await signDeviceCertificate({
        ca: ctx.ca,
        csr,
        deviceId: stored.device_id,
        days: ctx.config.deviceCertificateDays,
        now: t,
      });
      let superseded: string[];
      try {
        superseded = await db.transaction().execute(async (trx) => {
          // Conditional: a concurrent re-enrollment or revocation of the same certificate wins.
          const old = await supersedeValid(trx, { serial }, t);
          if (old.length !== 1) throw new PulsegateError('EST_CLIENT_CERT_INVALID');
          await trx
            .insertInto('certificates')
            .values(certificateRow(cert, stored.device_id, csr.publicKeySha256, t))
            .execute();
          await setCertificateStatus(trx, stored.device_id, 'valid', t);
          return old;
        });
      } catch (error) {
        if (error instanceof PulsegateError && error.code === 'EST_CLIENT_CERT_INVALID')
          throw await certInvalid(`client certificate ${serial} changed concurrently`, actor);
        throw error;
      }
      return issued(action, cert, stored.device_id, csr, superseded, false, request);
    },
  };
}

export type Issuance = ReturnType<typeof createIssuance>;
