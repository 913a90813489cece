import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The console build: `vite build --config web/vite.config.ts` writes hashed assets and index.html
 * to dist/web, which `pulsegate serve` serves at `/`. No inline scripts or styles are emitted (the
 * module-preload polyfill is off), so the strict Content-Security-Policy holds.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
  },
});
