import type { KeyObject } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { openConfiguredStore } from '../app.js';
import {
  createSyslogSender,
  parseVerifierKey,
  toFhirAuditEvent,
  toSyslog,
  verifyAuditLog,
} from '../audit/index.js';
import { dataPath, type LoadedConfig } from '../config/index.js';
import { PulsegateError } from '../errors.js';
import { installationLayout } from '../installation/index.js';
import { openKeyService, readMasterKey } from '../keys/index.js';
import type { Store } from '../store/index.js';
import { loadInstallationConfig, withDataOptions, withServices } from './context.js';
import { EXIT, print } from './output.js';
import { createProgress } from './progress.js';

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('verify and export the tamper-evident audit log');

  withDataOptions(
    audit
      .command('verify')
      .description('recompute every leaf and checkpoint; exit 0 if intact, 3 naming the first bad entry'),
  )
    .option(
      '--verifier-key <file>',
      'trusted checkpoint key(s), one signed-note vkey per line (default: pki/audit-verifier.vkey)',
    )
    .option(
      '--checkpoint <file>',
      'a checkpoint saved earlier (the JSON of GET /api/v1/audit/checkpoint, or its note): the log must still extend it',
    )
    .action(async (opts: { data: string; json?: boolean; verifierKey?: string; checkpoint?: string }) => {
      const config = loadInstallationConfig(opts.data);
      const witnessed = opts.checkpoint ? [checkpointNote(readText(opts.checkpoint, '--checkpoint'))] : [];
      const store = openConfiguredStore(config);
      try {
        const trusted = await trustedKeys(config, store, opts.verifierKey);
        if (!opts.json) process.stderr.write(`checkpoint keys: ${trusted.source}\n`);
        let progress: ReturnType<typeof createProgress> | undefined;
        const result = await verifyAuditLog({
          store,
          publicKeys: trusted.keys,
          origin: config.audit.origin,
          witnessed,
          // The writer signs a checkpoint at least every interval while entries arrive; a minute of slack.
          maxUnprovenSeconds: config.audit.checkpointIntervalSeconds + 60,
          onProgress: opts.json
            ? undefined
            : (done: number, total: number) => {
                progress ??= createProgress('verifying', total);
                progress.update(done);
              },
        });
        progress?.finish(result.ok ? result.size : result.firstBadSeq);
        print(opts, { ...result, keys: trusted.source }, () =>
          result.ok
            ? `audit log intact: ${result.size} entries, ${result.checkpoints} signed checkpoints verified` +
              (result.unproven ? `; the newest ${result.unproven} not yet under a checkpoint` : '')
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
    .option('--syslog-tls', 'use TLS to the syslog receiver (RFC 5425; the default)')
    .option('--no-syslog-tls', 'send syslog in clear (only for a receiver on the same host)')
    .option('--syslog-ca <file>', "PEM file of the CA that issued the receiver's certificate")
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
        if (!/^(-1|0|[1-9][0-9]{0,15})$/.test(opts.after))
          throw new PulsegateError(
            'VALIDATION_FAILED',
            '--after must be a sequence number (0 or more) or -1',
          );
        const port = Number(opts.syslogPort);
        if (!Number.isInteger(port) || port < 1 || port > 65535)
          throw new PulsegateError('VALIDATION_FAILED', '--syslog-port must be a port number (1-65535)');
        const ca = opts.syslogCa ? readText(opts.syslogCa, '--syslog-ca') : undefined;
        await withServices(opts.data, async (s) => {
          const sender = opts.syslogHost
            ? await createSyslogSender({
                host: opts.syslogHost,
                port,
                tls: opts.syslogTls !== false,
                ...(ca ? { ca } : {}),
              }).catch((error: NodeJS.ErrnoException) => {
                throw new PulsegateError(
                  'AUDIT_EXPORT_RECEIVER_UNREACHABLE',
                  `syslog receiver ${opts.syslogHost}:${port}: ${error.code ?? error.message}`,
                );
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

/** The signed note of a saved checkpoint: the note itself, or the JSON of GET /api/v1/audit/checkpoint. */
function checkpointNote(text: string): string {
  if (!text.trimStart().startsWith('{')) return text;
  try {
    const note = (JSON.parse(text) as { note?: unknown }).note;
    if (typeof note === 'string') return note;
  } catch {
    // Not JSON after all: verification refuses it with its own message.
  }
  return text;
}

function readText(file: string, option: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    throw new PulsegateError('VALIDATION_FAILED', `${option}: cannot read ${file}`);
  }
}

/**
 * The checkpoint keys `audit verify` trusts, and where they came from: the `--verifier-key` file,
 * else the installation's `pki/audit-verifier.vkey` (written by `init`), else (an installation
 * from before that file) the database's keys whose private half unwraps under the master key.
 */
async function trustedKeys(
  config: LoadedConfig,
  store: Store,
  file: string | undefined,
): Promise<{ keys: KeyObject[]; source: string }> {
  const own = installationLayout(config.dataDir).auditVerifierKey;
  const path = file ?? (existsSync(own) ? own : undefined);
  if (path) {
    const lines = readText(path, '--verifier-key')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length > 0 && !l.startsWith('#'));
    const keys = lines.map((line) => {
      let parsed: ReturnType<typeof parseVerifierKey>;
      try {
        parsed = parseVerifierKey(line);
      } catch {
        throw new PulsegateError('VALIDATION_FAILED', `${path}: not a signed-note verifier key`);
      }
      if (parsed.name !== config.audit.origin)
        throw new PulsegateError(
          'VALIDATION_FAILED',
          `${path}: key ${parsed.name} is not for origin ${config.audit.origin}`,
        );
      return parsed.publicKey;
    });
    if (keys.length === 0) throw new PulsegateError('VALIDATION_FAILED', `${path}: no verifier key`);
    return { keys, source: path };
  }
  // Verification only reads: it opens the store and the keys, never the audit writer.
  const service = await openKeyService({
    store,
    masterKey: readMasterKey({ file: dataPath(config, config.keys.masterKeyFile), env: process.env }),
    dataKeyMaxUses: config.keys.dataKeyMaxUses,
  });
  const { keys, rejected } = await service.provenPublicKeys('audit');
  return {
    keys,
    source: `database keys that unwrap under the master key${rejected > 0 ? ` (${rejected} rejected)` : ''}`,
  };
}
