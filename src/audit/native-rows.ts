/**
 * The compiled row checker of parallel verification (`src/audit/native/verify-rows.c`; see
 * src/native.ts). Where it is missing the workers run the JavaScript loop of verify-worker.ts,
 * which finds the same problems more slowly.
 */
import { compiledAddon, type Implementation } from '../native.js';

/** Which per-row loop the verification workers run. */
export type RowChecker = Implementation;

/** The compiled checker's absolute path when it is built and loads here, else undefined. */
export function compiledRowChecker(): string | undefined {
  return compiledAddon('pulsegate_audit', 'checkRows')?.path;
}

/** The checker a verification uses: the compiled one when asked for (or by default) and present. */
export function rowCheckerPath(wanted: RowChecker | undefined): string | undefined {
  return wanted === 'javascript' ? undefined : compiledRowChecker();
}
