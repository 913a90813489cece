import type { Command } from 'commander';
import type { Services } from '../app.js';
import { DEVICE_TYPES, DeviceCreate, LIFECYCLES } from '../devices/index.js';
import { PulsegateError } from '../errors.js';
import { bodyProblem } from '../http/index.js';
import { REVOCATION_REASONS } from '../pki/index.js';
import { cliPrincipal, withDataOptions, withServices } from './context.js';
import { instantOption, oneOf } from './options.js';
import { print, table } from './output.js';

/**
 * `pulsegate device ...`: the inventory from the command line, for scripting and for operators
 * without the console. Commands work on the installation's store like `user` does; changes are
 * audited with the operator (`cli:<OS user>`) as actor. A running server learns of them through its change watcher
 * (revocations and quarantines drop live sessions within a second or two).
 */

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > 4096)
      throw new PulsegateError('VALIDATION_FAILED', 'the patient identifier on standard input is too long');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Validates the new device against the same schema the REST API uses. */
function checkCreate(input: Record<string, unknown>): DeviceCreate {
  const clean = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  const problem = bodyProblem(DeviceCreate, clean);
  if (problem) throw new PulsegateError('VALIDATION_FAILED', problem);
  return clean as DeviceCreate;
}

type Opts = { data: string; json?: boolean };

const shortRow = (d: {
  id: string;
  type: string;
  careUnit: string | null;
  lifecycle: string;
  certificateStatus: string;
  lastSeenAt: string | null;
}) => ({
  id: d.id,
  type: d.type,
  careUnit: d.careUnit,
  lifecycle: d.lifecycle,
  certificate: d.certificateStatus,
  lastSeen: d.lastSeenAt,
});

export function registerDevice(program: Command): void {
  const device = program.command('device').description('manage the device inventory');

  withDataOptions(
    device.command('add').description('register a device; prints a one-time enrollment token with --token'),
  )
    .requiredOption('--id <id>', 'device id (letters, digits, . _ -)')
    .requiredOption('--type <type>', `one of: ${DEVICE_TYPES.join(', ')}`)
    .requiredOption('--vendor <name>')
    .requiredOption('--model <name>')
    .option('--serial <serial>')
    .option('--firmware <version>', 'firmware version')
    .option('--care-unit <unit>')
    .option('--bed <bed>')
    .option('--ip <address>', 'IP address')
    .option('--mac <address>', 'MAC address')
    .option('--owner <owner>')
    .option('--eui64 <eui64>', 'IEEE EUI-64 (how HL7 v2 / IHE PCD-01 messages name the device in OBX-18)')
    .option('--gateway <id>', 'the gateway device that reports for this one over HL7')
    .option('--token', 'also create a one-time EST enrollment token (shown once)')
    .action(async (opts: Opts & Record<string, string | boolean | undefined>) => {
      const input = checkCreate({
        id: opts.id,
        type: opts.type,
        vendor: opts.vendor,
        model: opts.model,
        serial: opts.serial,
        firmwareVersion: opts.firmware,
        careUnit: opts.careUnit,
        bed: opts.bed,
        ipAddress: opts.ip,
        macAddress: opts.mac,
        owner: opts.owner,
        eui64: opts.eui64,
        gatewayId: opts.gateway,
      });
      const out = await withServices(opts.data, async (s) => {
        const created = await s.devices.create(input, cliPrincipal());
        const token = opts.token ? await s.pki.createEnrollmentToken(created.id, cliPrincipal()) : undefined;
        return {
          device: created,
          ...(token
            ? { enrollmentToken: { token: token.token, expiresAt: new Date(token.expiresAt).toISOString() } }
            : {}),
        };
      });
      print(opts, out, () =>
        out.enrollmentToken
          ? `registered ${out.device.id}; enrollment token (shown once, expires ${out.enrollmentToken.expiresAt}): ${out.enrollmentToken.token}`
          : `registered ${out.device.id}`,
      );
    });

  withDataOptions(device.command('list').description('list devices (filters as in GET /api/v1/devices)'))
    .option('--type <type>', `one of: ${DEVICE_TYPES.join(', ')}`)
    .option('--lifecycle <state>', `one of: ${LIFECYCLES.join(', ')}`)
    .option('--care-unit <unit>')
    .option('--search <text>', 'id, vendor, model or serial contains')
    .option('--limit <n>', 'at most this many (max 500)', '100')
    .action(
      async (
        opts: Opts & { type?: string; lifecycle?: string; careUnit?: string; search?: string; limit: string },
      ) => {
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 500)
          throw new PulsegateError('VALIDATION_FAILED', '--limit must be an integer from 1 to 500');
        const type = oneOf('--type', opts.type, DEVICE_TYPES);
        const lifecycle = oneOf('--lifecycle', opts.lifecycle, LIFECYCLES);
        const page = await withServices(opts.data, (s) =>
          s.devices.list({
            ...(type ? { type } : {}),
            ...(lifecycle ? { lifecycle } : {}),
            ...(opts.careUnit ? { careUnit: opts.careUnit } : {}),
            ...(opts.search ? { q: opts.search } : {}),
            limit,
          }),
        );
        print(opts, page, () => `${table(page.items.map(shortRow))}\n${page.items.length} of ${page.total}`);
      },
    );

  withDataOptions(device.command('show').description('show a device with its certificates'))
    .argument('<id>')
    .action(async (id: string, opts: Opts) => {
      const out = await withServices(opts.data, async (s) => ({
        device: await s.devices.get(id),
        certificates: await s.pki.listCertificates(id),
      }));
      print(opts, out, () =>
        [
          ...Object.entries(out.device).map(([k, v]) => `${k.padEnd(18)} ${v ?? ''}`),
          '',
          table(out.certificates as unknown as Array<Record<string, unknown>>),
        ].join('\n'),
      );
    });

  withDataOptions(device.command('token').description('create a one-time EST enrollment token (shown once)'))
    .argument('<id>')
    .action(async (id: string, opts: Opts) => {
      const t = await withServices(opts.data, (s) => s.pki.createEnrollmentToken(id, cliPrincipal()));
      const out = { deviceId: t.deviceId, token: t.token, expiresAt: new Date(t.expiresAt).toISOString() };
      print(
        opts,
        out,
        () => `enrollment token for ${id} (shown once, expires ${out.expiresAt}): ${out.token}`,
      );
    });

  withDataOptions(device.command('revoke').description("revoke the device's certificates"))
    .argument('<id>')
    .requiredOption('--reason <reason>', `RFC 5280 reason: ${REVOCATION_REASONS.join(', ')}`)
    .action(async (id: string, opts: Opts & { reason: string }) => {
      const result = await withServices(opts.data, (s) =>
        s.pki.revoke({ deviceId: id }, opts.reason, cliPrincipal()),
      );
      print(
        opts,
        result,
        () => `revoked ${result.revoked.map((r) => r.serial).join(', ') || 'nothing'} of ${id}`,
      );
    });

  withDataOptions(device.command('bind').description('bind the device to a patient for a time range'))
    .argument('<id>')
    .requiredOption(
      '--patient <identifier>',
      'patient identifier (stored encrypted); - reads it from standard input, keeping it out of the process list and shell history',
    )
    .option('--from <date-time>', 'start, RFC 3339 such as 2025-03-01T08:00:00Z (default now)')
    .option('--until <date-time>', 'end, RFC 3339 (default open-ended)')
    .action(async (id: string, opts: Opts & { patient: string; from?: string; until?: string }) => {
      const from = instantOption(opts.from, '--from');
      const until = instantOption(opts.until, '--until') ?? null;
      const patientId = opts.patient === '-' ? (await readStdin()).trim() : opts.patient;
      const binding = await withServices(opts.data, async (s: Services) => {
        await s.devices.get(id);
        return s.patients.bind(
          id,
          {
            patientId,
            from,
            until,
          },
          cliPrincipal(),
        );
      });
      // The patient identifier is not echoed: it is PHI and terminals get logged.
      print(
        opts,
        { id: binding.id, deviceId: binding.deviceId },
        () => `bound ${id} (binding ${binding.id})`,
      );
    });

  withDataOptions(
    device.command('quarantine').description('quarantine: revoke, drop the session, refuse reconnects'),
  )
    .argument('<id>')
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .action(async (id: string, opts: Opts & { reason: string }) => {
      const result = await withServices(opts.data, (s) =>
        s.response.quarantine(id, { reason: opts.reason }, cliPrincipal()),
      );
      print(
        opts,
        result,
        () => `quarantined ${id}; revoked ${result.revokedSerials.join(', ') || 'no certificate'}`,
      );
    });

  withDataOptions(
    device.command('release').description('release a quarantined device; prints a one-time enrollment token'),
  )
    .argument('<id>')
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .action(async (id: string, opts: Opts & { reason: string }) => {
      const r = await withServices(opts.data, (s) => s.response.release(id, opts.reason, cliPrincipal()));
      const out = {
        device: r.device,
        enrollmentToken: {
          token: r.enrollmentToken.token,
          expiresAt: new Date(r.enrollmentToken.expiresAt).toISOString(),
        },
      };
      print(
        opts,
        out,
        () =>
          `released ${id}; enrollment token (shown once, expires ${out.enrollmentToken.expiresAt}): ${out.enrollmentToken.token}`,
      );
    });
}
