import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { registerAlerts } from './alerts.js';
import { registerAudit } from './audit.js';
import { registerDemo } from './demo.js';
import { registerDevice } from './device.js';
import { registerInit } from './init.js';
import { registerKeys } from './keys.js';
import { registerMigrate } from './migrate.js';
import { EXIT, reportError } from './output.js';
import { registerPki } from './pki.js';
import { registerRetention } from './retention.js';
import { registerServe } from './serve.js';
import { registerSim } from './sim.js';
import { registerToken } from './token.js';
import { registerUser } from './user.js';

/** A usage error's text without the values of `--name=value` options (a database URL's password, say). */
function withoutOptionValues(text: string): string {
  return text.replace(/(--?[\w-]+)=[^\s']*/g, '$1=…');
}

/**
 * Builds the `pulsegate` command; one file per command group. With `json`, a usage error prints
 * no help text (main reports it as one JSON object); set before the commands are added, which
 * inherit it.
 */
export function buildProgram(options: { json?: boolean } = {}): Command {
  const program = new Command('pulsegate')
    .description('Pulsegate: security platform for connected medical devices')
    .version(VERSION)
    .showHelpAfterError(!options.json)
    .exitOverride();
  program.configureOutput({
    // Commander echoes an unknown --name=value with its value, which may be a secret.
    outputError: (text, write) => write(withoutOptionValues(text)),
    ...(options.json ? { writeErr: () => {} } : {}),
  });
  registerInit(program);
  registerServe(program);
  registerMigrate(program);
  registerUser(program);
  registerToken(program);
  registerDevice(program);
  registerPki(program);
  registerKeys(program);
  registerAudit(program);
  registerRetention(program);
  registerAlerts(program);
  registerSim(program);
  registerDemo(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const program = buildProgram({ json });
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
      )
        return EXIT.ok;
      if (json) {
        const message = withoutOptionValues(error.message.replace(/^error: /, ''));
        process.stderr.write(`${JSON.stringify({ error: { code: 'CLI_USAGE', message } })}\n`);
      }
      return EXIT.usage;
    }
    return reportError(error, { json });
  }
}
