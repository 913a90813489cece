/**
 * Test helper: where the shared public test corpus is (`../shared/corpus` beside the repository,
 * or PULSEGATE_CORPUS_DIR). Tests that need it skip with a clear message when it is absent.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The corpus folder `name` (e.g. 'hl7v2'), or undefined (with a printed reason) when absent. */
export function corpusDir(name: string): string | undefined {
  const root = process.env.PULSEGATE_CORPUS_DIR ?? join(REPO, '..', 'shared', 'corpus');
  const dir = join(root, name);
  if (existsSync(dir)) return dir;
  console.warn(`[skip] corpus folder ${dir} is absent (set PULSEGATE_CORPUS_DIR)`);
  return undefined;
}
