import { randomUUID } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyContextConfig,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { PulsegateError } from '../errors.js';
import { auditDenial, registerAuthHook, wasAudited } from './auth-hook.js';
import { FailureLimiter } from './failure-limiter.js';
import { instrumentHttp } from './metrics.js';
import type { HttpAudit, HttpAuth } from './ports.js';
import { sendProblem, toPulsegateError } from './problem.js';
import { securityHeaders } from './security-headers.js';
import { systemRoutes } from './system-routes.js';
import { unstorableTextAt, validatorCompiler } from './validation.js';

export interface HttpServerOptions {
  auth: HttpAuth;
  audit: HttpAudit;
  logger: Logger;
  metrics: Registry;
  /** Readiness probe: resolves true when the database answers. */
  ready: () => Promise<boolean>;
  /** Each capability's `routes.ts` plugin, already bound to its services. */
  routes: FastifyPluginAsync[];
  bodyLimitBytes: number;
  /** Requests with no or a bad credential per address per minute before 429 up front. */
  failedAuthPerMinute?: number;
  /** A client that has not sent a whole request by then is dropped (slow-body clients). */
  requestTimeoutMs?: number;
  /** A connection silent this long is closed. */
  idleTimeoutMs?: number;
  /** Server TLS material; omit only for in-process tests that use `inject()`. */
  tls?: {
    cert: string | Buffer;
    key: string | Buffer;
    minVersion: 'TLSv1.2' | 'TLSv1.3';
    /**
     * CAs for optional client certificates (devices on EST re-enrollment and HTTPS ingest).
     * The handshake asks for a certificate but does not require one; routes that need a device
     * identity check `socket.authorized` and the peer certificate themselves.
     */
    clientCa?: Array<string | Buffer>;
  };
  trustProxy?: boolean;
  publicUrl: string;
  version: string;
}

/** A route as registered, with the access it declares (used by docs and the authorization matrix test). */
export interface RouteInfo {
  method: string;
  url: string;
  access: string;
}

export type PulsegateHttp = FastifyInstance & { readonly routeCatalog: readonly RouteInfo[] };

const REQUEST_TIMEOUT_BODY = JSON.stringify({
  type: 'urn:pulsegate:problem:request-timeout',
  title: 'The request was not received in time',
  status: 408,
  code: 'REQUEST_TIMEOUT',
});
const REQUEST_TIMEOUT_RESPONSE =
  'HTTP/1.1 408 Request Timeout\r\nContent-Type: application/problem+json\r\nConnection: close\r\n' +
  `Content-Length: ${Buffer.byteLength(REQUEST_TIMEOUT_BODY)}\r\n\r\n${REQUEST_TIMEOUT_BODY}`;

/** Builds the Fastify server: TLS, headers, limits, validation, auth, errors, OpenAPI, routes. */
export async function buildHttpServer(options: HttpServerOptions): Promise<PulsegateHttp> {
  const serverOptions: FastifyServerOptions & { https?: object } = {
    loggerInstance: options.logger,
    bodyLimit: options.bodyLimitBytes,
    // Fastify's defaults are no limit at all: a client trickling a body would hold memory forever.
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    connectionTimeout: options.idleTimeoutMs ?? 360_000,
    trustProxy: options.trustProxy ?? false,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // Fastify's own request lines include the URL; ours (below) carry only the route pattern.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 200 },
    ajv: { customOptions: { removeAdditional: false } },
  };
  if (options.tls) {
    serverOptions.https = {
      cert: options.tls.cert,
      key: options.tls.key,
      minVersion: options.tls.minVersion,
      // Prefer the server's order of AEAD suites; no renegotiation, no compression (Node defaults).
      honorCipherOrder: true,
      ...(options.tls.clientCa
        ? { requestCert: true, rejectUnauthorized: false, ca: options.tls.clientCa }
        : {}),
    };
  }
  const app = Fastify(serverOptions).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);

  // JSON only (plus forms for OAuth): a text/plain body is refused with 415, not parsed as a string.
  app.removeContentTypeParser('text/plain');
  // OAuth token requests are form-encoded (RFC 6749 §4.4); repeated parameters are refused (§3.1).
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    const params = new URLSearchParams(body as string);
    const out: Record<string, string> = {};
    for (const [k, v] of params) {
      if (k in out)
        return done(new PulsegateError('VALIDATION_FAILED', `parameter ${k} repeated`), undefined);
      out[k] = v;
    }
    done(null, out);
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // Node's requestTimeout stops at the headers: a client that trickles its body would hold the
  // connection and its buffered body forever. The whole body must arrive in time, or 408 and close.
  const bodyTimeoutMs = options.requestTimeoutMs ?? 30_000;
  app.addHook('onRequest', async (request) => {
    const raw = request.raw;
    // Only requests that announce a body need the timer (not every GET on the hot paths).
    const hasBody =
      raw.headers['content-length'] !== undefined || raw.headers['transfer-encoding'] !== undefined;
    if (raw.complete || !hasBody) return;
    const timer = setTimeout(() => {
      if (raw.complete || raw.socket.destroyed) return;
      request.log.info({ route: request.routeOptions.url ?? null }, 'request body timed out');
      raw.socket.end(REQUEST_TIMEOUT_RESPONSE);
      raw.socket.destroySoon();
    }, bodyTimeoutMs);
    timer.unref();
    // On the request, not the keep-alive socket, so listeners do not pile up across its requests.
    const done = () => clearTimeout(timer);
    raw.once('end', done);
    raw.once('close', done);
  });
  // Text that cannot be stored (ill-formed Unicode, NUL) is refused before any handler (and any
  // write) sees it: in the body, the path parameters and the query.
  app.addHook('preValidation', async (request) => {
    const parts: Array<[string, unknown]> = [
      ['body', Buffer.isBuffer(request.body) ? undefined : request.body],
      ['params', request.params],
      ['query', request.query],
    ];
    for (const [where, value] of parts) {
      const found = unstorableTextAt(value);
      if (found)
        throw new PulsegateError('VALIDATION_FAILED', undefined, {
          fields: [{ pointer: `${where}${found.at}`, problem: found.problem }],
        });
    }
  });
  // Request log lines carry the route pattern and status, never the URL or headers (PHI, tokens).
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        request: { method: request.method, route: request.routeOptions.url ?? null },
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request completed',
    );
  });

  const headers = securityHeaders({
    // The API serves JSON only: nothing may load from it as a document. The console's own routes
    // (src/console) replace this with a policy that allows its same-origin scripts and styles.
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
        frameAncestors: ["'none'"],
      },
    },
    strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
  });
  app.addHook('onRequest', async (_request, reply) => {
    reply.headers(headers);
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    // API responses may hold patient data: never cache them.
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });
  await app.register(rateLimit, { global: false });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Pulsegate API',
        version: options.version,
        description: 'IoMT security platform. Errors are RFC 9457 problem+json with a stable `code`.',
      },
      servers: [{ url: options.publicUrl }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'Access token (JWT) or API token' },
          // OpenAPI 3.1 (§4.8.27); the plugin's types know 3.0's schemes only.
          mutualTLS: {
            type: 'mutualTLS',
            description: 'Client certificate issued by the Pulsegate CA',
          } as unknown as { type: 'http'; scheme: string },
          enrollmentToken: { type: 'http', scheme: 'bearer', description: 'One-time enrollment token' },
        },
      },
    },
    transform: ({ schema, url, route }) => {
      const config = route.config as FastifyContextConfig | undefined;
      const access = config?.access;
      const out = { ...(schema as object) } as Record<string, unknown>;
      if (access && access !== 'public') {
        out.security = [{ bearer: [] }];
        out.description =
          `${(out.description as string | undefined) ?? ''}\n\nRequires: \`${access}\``.trim();
      }
      if (config?.credential)
        out.security = [
          { [config.credential === 'client-certificate' ? 'mutualTLS' : 'enrollmentToken']: [] },
        ];
      if (config?.errorBody) out['x-error-body'] = config.errorBody;
      return { schema: out, url };
    },
  });

  const routeCatalog: RouteInfo[] = [];
  app.addHook('onRoute', (route) => {
    const access = (route.config as { access?: string } | undefined)?.access ?? '';
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') routeCatalog.push({ method, url: route.url, access });
    }
  });
  app.decorate('routeCatalog', routeCatalog);
  registerAuthHook(
    app,
    options.auth,
    options.audit,
    new FailureLimiter({ maxFailures: options.failedAuthPerMinute ?? 300, windowMs: 60_000 }),
  );
  instrumentHttp(app, options.metrics);

  app.setErrorHandler(async (error, request, reply) => {
    const e = toPulsegateError(error);
    if (e.code === 'INTERNAL') {
      request.log.error(
        { err: error, req: { id: request.id, route: request.routeOptions.url } },
        'unhandled error',
      );
    }
    // Resource-level denials raised inside handlers (care unit, vendor window) are audited here.
    if (e.code.startsWith('ACCESS_') && !wasAudited(e)) await auditDenial(options.audit, request, e);
    return sendProblem(request, reply, e);
  });
  app.setNotFoundHandler(async (request, reply) =>
    sendProblem(request, reply, new PulsegateError('ROUTE_NOT_FOUND')),
  );

  await app.register(
    systemRoutes({ metrics: options.metrics, ready: options.ready, version: options.version }),
  );
  for (const routes of options.routes) await app.register(routes);
  return app as unknown as PulsegateHttp;
}
