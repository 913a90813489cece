/**
 * The optional compiled parts of Pulsegate (`binding.gyp`, built into `build/Release/` by node-gyp
 * when `npm ci` installs the project): the audit verifier's row checker and the key service's
 * batch AES-GCM. Each has a JavaScript twin that gives the same results more slowly, so where
 * an addon was not built (no C toolchain) or does not load here, its twin runs.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Which implementation runs where both exist: the compiled one where it is built (default), or JavaScript. */
export type Implementation = 'compiled' | 'javascript';

const require = createRequire(import.meta.url);
const probed = new Map<string, { path: string; module: unknown } | null>();

/**
 * The addon `build/Release/<name>.node` when it is built and exports `expected` (a function
 * name), else undefined. From src/ and dist/ alike: the project's root is one folder up.
 */
export function compiledAddon<T>(name: string, expected: string): { path: string; module: T } | undefined {
  let found = probed.get(name);
  if (found === undefined) {
    found = null;
    const path = fileURLToPath(new URL(`../build/Release/${name}.node`, import.meta.url));
    try {
      if (existsSync(path)) {
        const module = require(path) as Record<string, unknown>;
        if (typeof module[expected] === 'function') found = { path, module };
      }
    } catch {
      // Built for another Node ABI or platform: the JavaScript twin runs.
    }
    probed.set(name, found);
  }
  return (found ?? undefined) as { path: string; module: T } | undefined;
}
