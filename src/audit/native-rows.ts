/**
 * The compiled row checker of parallel verification (`src/audit/native/verify-rows.c`, built
 * into `build/Release/` by node-gyp when `npm ci` installs the project). It is optional: where
 * it was not built (no C compiler) or does not load, the workers run the JavaScript loop of
 * verify-worker.ts, which finds the same problems more slowly.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Which per-row loop the verification workers run. */
export type RowChecker = 'compiled' | 'javascript';

// From src/audit/ and from dist/audit/ alike: the project's root is two folders up.
const ADDON = fileURLToPath(new URL('../../build/Release/pulsegate_audit.node', import.meta.url));
let probed: { path?: string } | undefined;

/** The compiled checker's absolute path when it is built and loads here, else undefined. */
export function compiledRowChecker(): string | undefined {
  if (!probed) {
    probed = {};
    try {
      if (existsSync(ADDON)) {
        const addon = createRequire(import.meta.url)(ADDON) as { checkRows?: unknown };
        if (typeof addon.checkRows === 'function') probed.path = ADDON;
      }
    } catch {
      // Built for another Node ABI or platform: the JavaScript loop is used.
    }
  }
  return probed.path;
}

/** The checker a verification uses: the compiled one when asked for (or by default) and present. */
export function rowCheckerPath(wanted: RowChecker | undefined): string | undefined {
  return wanted === 'javascript' ? undefined : compiledRowChecker();
}
