import type { TLSSocket } from 'node:tls';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Principal, ResourceScope } from '../access/index.js';
import { PulsegateError } from '../errors.js';
import { FailureLimiter, requirePrincipal } from '../http/index.js';
import { certsOnlyBase64 } from './certs-only.js';
import type { PkiDevices, RequestContext } from './deps.js';
import { bearerToken } from './enrollment-token.js';
import { CERTS_ONLY_TYPE, decodeEstBody, encodeEstBody } from './est-encoding.js';
import type { Pki } from './pki-service.js';
import type { RevocationReason } from './revocation-reason.js';
import {
  CertificateList,
  DeviceParams,
  EnrollmentTokenReply,
  RevokeBody,
  RevokeReply,
} from './route-schemas.js';

/** What the PKI routes need from access control. */
export interface PkiRouteAccess {
  checkResource(principal: Principal, scope: ResourceScope): void;
}

/** Dependencies of `pkiRoutes`. */
export interface PkiRoutesDeps {
  pki: Pki;
  devices: PkiDevices;
  access: PkiRouteAccess;
  /** Refused enrollments per address per minute before EST answers 429 (default 20). */
  enrollFailuresPerMinute?: number;
}

const EST = '/.well-known/est';

function requestContext(request: FastifyRequest): RequestContext {
  return { source: request.ip, requestId: request.id };
}

/** The verified client certificate of the TLS connection (DER), if the handshake produced one. */
function verifiedPeerCertificate(request: FastifyRequest): Uint8Array | undefined {
  const socket = request.raw.socket as Partial<TLSSocket>;
  if (!socket.encrypted || !socket.authorized || typeof socket.getPeerCertificate !== 'function')
    return undefined;
  const peer = socket.getPeerCertificate(true);
  return peer?.raw?.length ? new Uint8Array(peer.raw) : undefined;
}

/**
 * EST (RFC 7030) under `/.well-known/est`, the CRL at `/pki/crl`, and the operator routes under
 * `/api/v1/devices/:id` (enrollment tokens, revocation, certificate list).
 */
export function pkiRoutes(deps: PkiRoutesDeps): FastifyPluginAsync {
  // Every refused enrollment costs a CSR check and an audit entry: an address that keeps failing
  // is refused up front for the rest of the minute. Successes never count (a ward behind one
  // gateway enrolls freely).
  const failures = new FailureLimiter({ maxFailures: deps.enrollFailuresPerMinute ?? 20, windowMs: 60_000 });
  async function limited<T>(request: FastifyRequest, work: () => Promise<T>): Promise<T> {
    failures.check(request.ip);
    try {
      return await work();
    } catch (error) {
      if (error instanceof PulsegateError && error.status < 500) failures.fail(request.ip);
      throw error;
    }
  }

  return async (app) => {
    // EST requests are base64 DER PKCS#10 (RFC 7030 §4.2.1); parsed only inside this plugin.
    app.addContentTypeParser('application/pkcs10', { parseAs: 'buffer' }, (_request, body, done) =>
      done(null, body),
    );

    async function deviceScope(principal: Principal, deviceId: string): Promise<void> {
      const device = await deps.devices.get(deviceId);
      deps.access.checkResource(principal, { careUnit: device.careUnit, deviceId });
    }

    app.get(
      `${EST}/cacerts`,
      {
        config: { access: 'public' },
        schema: { tags: ['est'], summary: 'CA certificates (RFC 7030 §4.1), base64 certs-only CMS' },
      },
      async (_request, reply) =>
        reply
          .type(CERTS_ONLY_TYPE)
          .header('content-transfer-encoding', 'base64')
          .send(encodeEstBody(deps.pki.cacertsPkcs7())),
    );

    app.post(
      `${EST}/simpleenroll`,
      {
        // Public to the bearer-token hook: the enrollment token is checked by the PKI itself.
        config: { access: 'public', credential: 'enrollment-token' },
        schema: {
          tags: ['est'],
          summary: 'Enroll with a one-time enrollment token (RFC 7030 §4.2.1)',
          description: 'Authorization: Bearer <enrollment token>; body: base64 DER PKCS#10.',
        },
      },
      async (request, reply) => {
        const issued = await limited(request, () =>
          deps.pki.enroll(
            bearerToken(request.headers.authorization),
            decodeEstBody(request.body as Buffer | undefined),
            requestContext(request),
          ),
        );
        // §4.2.3: the reply holds only the issued certificate; /cacerts gives the chain.
        return reply
          .type(CERTS_ONLY_TYPE)
          .header('content-transfer-encoding', 'base64')
          .send(encodeEstBody(certsOnlyBase64([issued.certificate])));
      },
    );

    app.post(
      `${EST}/simplereenroll`,
      {
        // Authenticated by the TLS client certificate, checked by the PKI itself.
        config: { access: 'public', credential: 'client-certificate' },
        schema: {
          tags: ['est'],
          summary: 'Renew or rekey with the current device certificate (RFC 7030 §4.2.2)',
        },
      },
      async (request, reply) => {
        const issued = await limited(request, () =>
          deps.pki.reenroll(
            verifiedPeerCertificate(request),
            decodeEstBody(request.body as Buffer | undefined),
            requestContext(request),
          ),
        );
        return reply
          .type(CERTS_ONLY_TYPE)
          .header('content-transfer-encoding', 'base64')
          .send(encodeEstBody(certsOnlyBase64([issued.certificate])));
      },
    );

    app.get(
      '/pki/crl',
      {
        config: { access: 'public' },
        schema: {
          tags: ['pki'],
          summary: 'Certificate revocation list of the issuing CA (DER, RFC 5280 §5)',
        },
      },
      async (_request, reply) =>
        reply
          .type('application/pkix-crl')
          .header('cache-control', 'public, max-age=60')
          .send(await deps.pki.crlDer()),
    );

    app.post(
      '/api/v1/devices/:id/enrollment-tokens',
      {
        config: { access: 'devices:write' },
        schema: {
          tags: ['devices'],
          summary: 'Create a one-time EST enrollment token (shown once)',
          params: DeviceParams,
          response: { 201: EnrollmentTokenReply },
        },
      },
      async (request, reply) => {
        const principal = requirePrincipal(request.principal);
        const { id } = request.params as { id: string };
        await deviceScope(principal, id);
        const created = await deps.pki.createEnrollmentToken(id, principal, requestContext(request));
        reply.status(201);
        return { ...created, expiresAt: new Date(created.expiresAt).toISOString() };
      },
    );

    app.post(
      '/api/v1/devices/:id/revoke',
      {
        config: { access: 'devices:revoke' },
        schema: {
          tags: ['devices'],
          summary: "Revoke the device's certificate (or one by serial)",
          params: DeviceParams,
          body: RevokeBody,
          response: { 200: RevokeReply },
        },
      },
      async (request) => {
        const principal = requirePrincipal(request.principal);
        const { id } = request.params as { id: string };
        const body = request.body as { reason: RevocationReason; serial?: string };
        await deviceScope(principal, id);
        const target = body.serial ? { serial: body.serial, deviceId: id } : { deviceId: id };
        const result = await deps.pki.revoke(target, body.reason, principal, requestContext(request));
        return {
          deviceId: result.deviceId,
          revoked: result.revoked.map((r) => ({ ...r, revokedAt: new Date(r.revokedAt).toISOString() })),
        };
      },
    );

    app.get(
      '/api/v1/devices/:id/certificates',
      {
        config: { access: 'devices:read' },
        schema: {
          tags: ['devices'],
          summary: "The device's certificates, newest first",
          params: DeviceParams,
          response: { 200: CertificateList },
        },
      },
      async (request) => {
        const principal = requirePrincipal(request.principal);
        const { id } = request.params as { id: string };
        await deviceScope(principal, id);
        return { items: await deps.pki.listCertificates(id) };
      },
    );
  };
}
