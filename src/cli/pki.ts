import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { PulsegateError } from '../errors.js';
import { cliPrincipal, withDataOptions, withServices } from './context.js';
import { print } from './output.js';

/**
 * `pulsegate pki ingest-cert --data DIR --out DIR [--days 90]`: issues Pulsegate's own client
 * certificate for an external broker (CN pulsegate-ingest), recorded so that
 * `pulsegate device revoke pulsegate-ingest --reason …` puts it on the CRL.
 */
export function registerPki(program: Command): void {
  const pki = program.command('pki').description("Pulsegate's own certificates");
  withDataOptions(
    pki
      .command('ingest-cert')
      .description(
        'issue the client certificate Pulsegate presents to an external broker (CN pulsegate-ingest)',
      ),
  )
    .requiredOption(
      '--out <dir>',
      'where to write ingest.pem (certificate and chain) and ingest.key (mode 0600)',
    )
    .option('--days <n>', 'validity in days (renew before it ends)', '90')
    .action(async (opts: { data: string; json?: boolean; out: string; days: string }) => {
      const days = Number(opts.days);
      if (!Number.isInteger(days) || days < 1 || days > 825)
        throw new PulsegateError('VALIDATION_FAILED', '--days must be an integer from 1 to 825');
      const issued = await withServices(opts.data, (s) =>
        s.pki.issueServiceCertificate('pulsegate-ingest', days, cliPrincipal()),
      );
      mkdirSync(opts.out, { recursive: true });
      const cert = join(opts.out, 'ingest.pem');
      const key = join(opts.out, 'ingest.key');
      writeFileSync(key, issued.keyPem, { mode: 0o600 });
      chmodSync(key, 0o600);
      writeFileSync(cert, issued.certChainPem, { mode: 0o644 });
      const out = { serial: issued.serial, notAfter: new Date(issued.notAfter).toISOString(), cert, key };
      print(
        opts,
        out,
        () => `issued ${issued.name} (serial ${out.serial}, until ${out.notAfter}): ${cert}, ${key}`,
      );
    });
}
