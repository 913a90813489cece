import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';

/**
 * The console's Content-Security-Policy: only our own origin for scripts, styles, images and
 * fetches; no inline script or style (the Vite build emits none), no framing, no plugins.
 * The API keeps its stricter `default-src 'none'` policy (set by helmet in src/http).
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "worker-src 'none'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  // DOM XSS sinks (innerHTML, script src strings) refuse plain strings: React and the build use none.
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

/**
 * Client-side routes of the single-page app: each answers with index.html so that a reload or a
 * bookmark works. Listed explicitly (not a catch-all) so an unknown `/api/…` path still gets a
 * problem+json 404 rather than HTML.
 */
export const CLIENT_ROUTES = [
  '/',
  '/login',
  '/devices',
  '/devices/*',
  '/triage',
  '/triage/*',
  '/alerts',
  '/alerts/*',
  '/incidents',
  '/incidents/*',
  '/audit',
] as const;

/** `dist/web`, whether this module runs from `src/console` (tests, tsx) or `dist/console`. */
export function defaultWebRoot(): string {
  return fileURLToPath(new URL('../../dist/web/', import.meta.url));
}

/** True when the console was built (`npm run build` writes dist/web/index.html). */
export function consoleBuilt(webRoot = defaultWebRoot()): boolean {
  return existsSync(join(webRoot, 'index.html'));
}

const AssetParams = Type.Object(
  { file: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' }) },
  { additionalProperties: false },
);

/**
 * Serves the built console at `/` on the API's origin: hashed assets under `/assets/` cached as
 * immutable for a year, index.html never cached (so a new release is picked up at once), and the
 * console CSP on every response of this plugin.
 */
export function consoleRoutes(deps: { webRoot?: string } = {}): FastifyPluginAsync {
  const root = deps.webRoot ?? defaultWebRoot();
  return async (app) => {
    if (!consoleBuilt(root)) {
      app.log.warn('console not built (dist/web missing): run npm run build; serving the API only');
      return;
    }
    await app.register(fastifyStatic, { root, serve: false, index: false });
    // Scoped to this plugin: replaces the API's CSP and no-store only on console responses.
    app.addHook('onSend', async (request, reply, payload) => {
      reply.header('content-security-policy', CONSOLE_CSP);
      const immutable = request.routeOptions.url === '/assets/:file' && reply.statusCode === 200;
      reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      return payload;
    });

    app.get(
      '/assets/:file',
      {
        config: { access: 'public' },
        schema: { hide: true, params: AssetParams },
      },
      async (request, reply) =>
        reply.sendFile(`assets/${(request.params as { file: string }).file}`, { cacheControl: false }),
    );

    for (const url of CLIENT_ROUTES) {
      app.get(url, { config: { access: 'public' }, schema: { hide: true } }, async (_request, reply) =>
        reply.type('text/html; charset=utf-8').sendFile('index.html', { cacheControl: false }),
      );
    }
  };
}
