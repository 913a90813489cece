/** `bin/pulsegate` runs as an executable, with the Node settings the npm scripts use too. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { BIN } from './support/processes.js';

const FLAG = '--max-semi-space-size=32';

it('starts as an executable with its V8 settings, which npm start and the benches share', () => {
  expect(readFileSync(BIN, 'utf8').split('\n')[0]).toBe(`#!/usr/bin/env -S node ${FLAG}`);
  const scripts = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts;
  expect(scripts.start).toContain(FLAG);
  expect(scripts.bench).toContain(FLAG);
  // Run through its first line (not `node BIN`), as an operator runs it.
  expect(execFileSync(BIN, ['--help'], { encoding: 'utf8' })).toContain('Usage: pulsegate');
});
