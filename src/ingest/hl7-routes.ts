import { Type as T } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS } from '../errors.js';
import type { EventBus } from '../events/index.js';
import type { Logger } from '../logging/logger.js';
import { identifyHttpsClient } from './https-identity.js';
import type { Hl7Processor } from './mllp-processor.js';
import type { DeviceIdentityVerifier } from './ports.js';

/** The HL7 v2 ER7 media type (HL7 v2 over HTTP); text/plain is accepted too. */
export const HL7_MEDIA_TYPE = 'x-application/hl7-v2+er7';

export interface Hl7RouteOptions {
  identity: DeviceIdentityVerifier;
  processor: Hl7Processor;
  bus: EventBus;
  maxMessageBytes: number;
  logger: Logger;
}

/**
 * `POST /api/v1/ingest/hl7`: the same IHE PCD-01 messages as the MLLP listener, for gateways that
 * speak HTTPS. The gateway authenticates with its TLS client certificate (like the other ingest
 * routes); the body is one ER7 message; the answer is the HL7 ACK (200 for AA; for AE/AR the
 * status of the refusal's error code, the body still the ACK with its ERR segment).
 */
export function hl7IngestRoutes(options: Hl7RouteOptions): FastifyPluginAsync {
  const deps = { bus: options.bus, logger: options.logger };

  const gatewayOf = (request: FastifyRequest) => identifyHttpsClient(request, options.identity, deps);

  return async (app) => {
    for (const type of [HL7_MEDIA_TYPE, 'text/plain'])
      app.addContentTypeParser(
        type,
        { parseAs: 'string', bodyLimit: options.maxMessageBytes },
        (_r, body, done) => done(null, body),
      );
    app.post(
      '/api/v1/ingest/hl7',
      {
        config: { access: 'public', credential: 'client-certificate', errorBody: 'hl7-ack' },
        bodyLimit: options.maxMessageBytes,
        schema: {
          tags: ['ingest'],
          summary: 'Send an HL7 v2 message (IHE PCD-01 ORU^R01; gateway client certificate)',
          description:
            'Authenticated by the TLS client certificate of the gateway, not a bearer token. The body is one ER7 message (Content-Type x-application/hl7-v2+er7 or text/plain); the answer is the HL7 ACK, sent after durable storage: 200 with MSA AA; for AE/AR the status of the refusal code (400, 403, 409, 429, 503) with the ACK and its ERR segment as the body. Certificate refusals are problem+json 401, and a body over hl7.maxMessageBytes is problem+json 413 (refused before it is read, so there is no MSH to acknowledge).',
          consumes: [HL7_MEDIA_TYPE, 'text/plain'],
          produces: [HL7_MEDIA_TYPE],
          body: T.String({ description: 'One HL7 v2 ER7 message (segments end with CR)' }),
          response: {
            200: T.String({ description: 'ACK^R01 with MSA-1 AA' }),
          },
        },
      },
      async (request, reply) => {
        const gateway = await gatewayOf(request);
        const body = Buffer.from(typeof request.body === 'string' ? request.body : '', 'utf8');
        const answer = await options.processor.handle(body, gateway, {
          address: request.ip ?? null,
          transport: 'https',
        });
        // Refusals carry the ACK too (no response schema for them: the body is ER7, not JSON).
        const status = answer.error ? ERRORS[answer.error].status : 200;
        (reply as FastifyReply).status(status).type(HL7_MEDIA_TYPE);
        return answer.ack;
      },
    );
  };
}
