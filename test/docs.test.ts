/** The documentation stays true: every configuration key and CLI command is in the README. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli/main.js';
import { configKeys } from '../src/config/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('documents every configuration key and its environment variable', () => {
    for (const k of configKeys()) {
      expect(readme, k.path).toContain(`\`${k.path}\``);
      expect(readme, k.env).toContain(`\`${k.env}\``);
    }
  });

  it('documents every CLI command', () => {
    for (const cmd of buildProgram().commands) {
      expect(readme, cmd.name()).toContain(`pulsegate ${cmd.name()}`);
      // `parent sub`, or `parent a|b|sub` for alternatives (the pipe escaped in a Markdown table).
      for (const sub of cmd.commands)
        expect(readme, `${cmd.name()} ${sub.name()}`).toMatch(
          new RegExp(`${cmd.name()} ([a-z-]+\\\\?\\|)*${sub.name()}\\b`),
        );
    }
  });

  it('has the two quick-start commands near the top', () => {
    const top = readme.split('\n').slice(0, 20).join('\n');
    expect(top).toContain('npm ci && npm start');
    expect(top).toContain('npm ci && npm test');
  });
});
