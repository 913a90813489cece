/**
 * `bin/pulsegate` runs as a program (a sh launcher) and under node, with the Node settings the
 * npm scripts use too.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { BIN } from './support/processes.js';

const FLAG = '--max-semi-space-size=32';

it('starts as an executable with its V8 settings, which npm start and the benches share', () => {
  const [shebang, launcher] = readFileSync(BIN, 'utf8').split('\n');
  expect(shebang).toBe('#!/bin/sh');
  expect(launcher).toBe(`':' //; exec node ${FLAG} "$0" "$@"`);
  const scripts = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts;
  expect(scripts.start).toContain(FLAG);
  expect(scripts.bench).toContain(FLAG);
  // Run as a program (through sh), as an operator runs it, and as `node BIN`, as npm start does.
  expect(execFileSync(BIN, ['--help'], { encoding: 'utf8' })).toContain('Usage: pulsegate');
  expect(execFileSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' })).toContain('Usage: pulsegate');
});
