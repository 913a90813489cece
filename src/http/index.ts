export { auditDenial, routeId, wasAudited } from './auth-hook.js';
export { FailureLimiter } from './failure-limiter.js';
export { createMetricsRegistry } from './metrics.js';
export type { HttpAudit, HttpAuditEvent, HttpAuth } from './ports.js';
export { PROBLEM_CONTENT_TYPE, type Problem, problemFor, problemType, toPulsegateError } from './problem.js';
export { type RouteAccess, requirePrincipal } from './route-options.js';
export { buildHttpServer, type HttpServerOptions, type PulsegateHttp, type RouteInfo } from './server.js';
export { bodyProblem } from './validation.js';
