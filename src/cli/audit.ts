import { createPublicKey } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { Command } from 'commander';
import { openConfiguredStore } from '../app.js';
import { createSyslogSender, toFhirAuditEvent, toSyslog, verifyAuditLog } from '../audit/index.js';
import { dataPath } from '../config/index.js';
import { PulsegateError } from '../errors.js';
import { openKeyService, readMasterKey } from '../keys/index.js';
import { loadInstallationConfig, withDataOptions, withServices } from './context.js';
import { EXIT, print } from './output.js';
import { createProgress } from './progress.js';

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('verify and export the tamper-evident audit log');

  withDataOptions(
    audit
      .command('verify')
      .description('recompute every leaf and checkpoint; exit 0 if intact, 3 naming the first bad entry'),
  ).action(async (opts: { data: string; json?: boolean }) => {
    const config = loadInstallationConfig(opts.data);
    const store = openConfiguredStore(config);
    try {
      // Verification only reads: it opens the store and the public keys, never the audit writer.
      const keys = await openKeyService({
        store,
        masterKey: readMasterKey({ file: dataPath(config, config.keys.masterKeyFile), env: process.env }),
        dataKeyMaxUses: config.keys.dataKeyMaxUses,
      });
      const jwks = await keys.verificationKeys('audit');
      const publicKeys = jwks.map((jwk) => createPublicKey({ key: jwk as never, format: 'jwk' }));
      let progress: ReturnType<typeof createProgress> | undefined;
      const result = await verifyAuditLog({
        store,
        publicKeys,
        origin: config.audit.origin,
        onProgress: opts.json
          ? undefined
          : (done: number, total: number) => {
              progress ??= createProgress('verifying', total);
              progress.update(done);
            },
      });
      progress?.finish(result.ok ? result.size : result.firstBadSeq);
      print(opts, result, () =>
        result.ok
          ? `audit log intact: ${result.size} entries, ${result.checkpoints} signed checkpoints verified`
          : `AUDIT LOG TAMPERED: first bad entry seq ${result.firstBadSeq} (${result.problem}): ${result.detail}`,
      );
      if (!result.ok) process.exitCode = EXIT.verifyFailed;
    } finally {
      await store.close();
    }
  });

  withDataOptions(
    audit.command('export').description('export entries as FHIR AuditEvent (NDJSON) or RFC 5424 syslog'),
  )
    .option('--format <format>', 'fhir | syslog', 'fhir')
    .option('--out <file>', 'write to a file instead of standard output')
    .option('--after <seq>', 'only entries after this sequence number', '-1')
    .option('--syslog-host <host>', 'send syslog to this receiver instead of printing')
    .option('--syslog-port <port>', 'syslog receiver port', '6514')
    .option('--syslog-tls', 'use TLS to the syslog receiver (RFC 5425)')
    .option('--syslog-ca <file>', 'CA certificate for the syslog receiver')
    .action(
      async (opts: {
        data: string;
        json?: boolean;
        format: string;
        out?: string;
        after: string;
        syslogHost?: string;
        syslogPort: string;
        syslogTls?: boolean;
        syslogCa?: string;
      }) => {
        if (opts.format !== 'fhir' && opts.format !== 'syslog') {
          throw new PulsegateError('VALIDATION_FAILED', '--format must be fhir or syslog');
        }
        await withServices(opts.data, async (s) => {
          const sender = opts.syslogHost
            ? await createSyslogSender({
                host: opts.syslogHost,
                port: Number(opts.syslogPort),
                tls: Boolean(opts.syslogTls),
                ca: opts.syslogCa,
              })
            : undefined;
          const out = opts.out ? createWriteStream(opts.out, { mode: 0o600 }) : process.stdout;
          let after = Number(opts.after);
          let count = 0;
          for (;;) {
            const page = await s.audit.list({ afterSeq: after, limit: 1000 });
            if (page.length === 0) break;
            for (const entry of page) {
              if (opts.format === 'fhir') out.write(`${JSON.stringify(toFhirAuditEvent(entry))}\n`);
              else if (sender) await sender.send(toSyslog(entry, { appName: 'pulsegate' }));
              else out.write(`${toSyslog(entry, { appName: 'pulsegate' })}\n`);
              count++;
            }
            after = page[page.length - 1]!.seq;
          }
          await sender?.close();
          if (out !== process.stdout) await new Promise<void>((r) => (out as NodeJS.WritableStream).end(r));
          process.stderr.write(`exported ${count} entries\n`);
        });
      },
    );
}
