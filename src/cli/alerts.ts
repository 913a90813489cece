import type { Command } from 'commander';
import type { Services } from '../app.js';
import { PulsegateError } from '../errors.js';
import {
  ALERT_CATEGORIES,
  ALERT_SEVERITIES,
  ALERT_STATES,
  type AlertActor,
  type AlertChange,
  type AlertViewer,
  FLEET_CHECKS,
} from '../monitor/index.js';
import { cliActor, withDataOptions, withServices } from './context.js';
import { oneOf } from './options.js';
import { print, table } from './output.js';

interface Common {
  data: string;
  json?: boolean;
}

/** The local operator: sees every alert; patient data of clinical alerts stays sealed on the command line. */
function operator(): { actor: AlertActor; viewer: AlertViewer } {
  const audit = cliActor();
  return {
    actor: { id: audit.name, name: audit.name, audit },
    viewer: { mayReadPatient: () => false, audit },
  };
}

async function audited<T>(
  s: Services,
  action: string,
  resource: { type: string; id?: string },
  fn: () => Promise<T>,
) {
  const result = await fn();
  await s.audit.append({ actor: cliActor(), action, resource, outcome: 'success' });
  return result;
}

const row = (a: {
  id: string;
  severity: string;
  state: string;
  rule: string;
  deviceId: string | null;
  count: number;
  lastSeenAt: string;
  incidentId: string | null;
}) => ({
  id: a.id,
  severity: a.severity,
  state: a.state,
  rule: a.rule,
  device: a.deviceId,
  count: a.count,
  lastSeen: a.lastSeenAt,
  incident: a.incidentId,
});

/** `pulsegate alerts …`, `pulsegate incidents …` and `pulsegate monitor check`. */
export function registerAlerts(program: Command): void {
  const alerts = program.command('alerts').description('list, inspect and work monitoring alerts');

  withDataOptions(alerts.command('list').description('list alerts, newest first'))
    .option('--state <state>', `one of ${ALERT_STATES.join(', ')}`)
    .option('--severity <severity>', `one of ${ALERT_SEVERITIES.join(', ')}`)
    .option('--category <category>', `one of ${ALERT_CATEGORIES.join(', ')}`)
    .option('--device <id>', 'only alerts about this device')
    .option('--limit <n>', 'at most this many', '50')
    .action(
      async (
        opts: Common & {
          state?: string;
          severity?: string;
          category?: string;
          device?: string;
          limit: string;
        },
      ) => {
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 500)
          throw new PulsegateError('VALIDATION_FAILED', '--limit must be 1..500');
        const query = {
          state: oneOf('--state', opts.state, ALERT_STATES),
          severity: oneOf('--severity', opts.severity, ALERT_SEVERITIES),
          category: oneOf('--category', opts.category, ALERT_CATEGORIES),
          ...(opts.device ? { deviceId: opts.device } : {}),
          limit,
        };
        await withServices(opts.data, async (s) => {
          const page = await audited(s, 'alert.list', { type: 'alert' }, () =>
            s.monitor.alerts.list(query, operator().viewer),
          );
          print(opts, page, () => table(page.items.map(row)));
        });
      },
    );

  withDataOptions(
    alerts.command('show').description('one alert with evidence and history').argument('<id>'),
  ).action(async (id: string, opts: Common) => {
    await withServices(opts.data, async (s) => {
      const alert = await audited(s, 'alert.read', { type: 'alert', id }, () =>
        s.monitor.alerts.get(id, operator().viewer),
      );
      print(opts, alert, () =>
        [
          `${alert.id}  ${alert.severity} ${alert.category}  ${alert.state}  ${alert.rule}`,
          alert.title,
          `device ${alert.deviceId ?? '-'}  care unit ${alert.careUnit ?? '-'}  count ${alert.count}  escalation ${alert.escalationLevel}  incident ${alert.incidentId ?? '-'}`,
          `first ${alert.firstSeenAt}  last ${alert.lastSeenAt}`,
          `evidence ${JSON.stringify(alert.evidence)}`,
          ...(alert.history ?? []).map(
            (h) => `  ${h.at}  ${h.change} by ${h.actor}${h.reason ? `: ${h.reason}` : ''}`,
          ),
        ].join('\n'),
      );
    });
  });

  const changes: Array<[string, AlertChange, string, boolean]> = [
    ['ack', 'acknowledged', 'acknowledge an alert', false],
    ['resolve', 'resolved', 'resolve an alert (reason required)', true],
    ['false-positive', 'false-positive', 'mark an alert a false positive (reason required)', true],
  ];
  for (const [name, change, description, needsReason] of changes) {
    const cmd = withDataOptions(alerts.command(name).description(description).argument('<id>'));
    (needsReason
      ? cmd.requiredOption('--reason <text>', 'why')
      : cmd.option('--reason <text>', 'why')
    ).action(async (id: string, opts: Common & { reason?: string }) => {
      await withServices(opts.data, async (s) => {
        const { actor, viewer } = operator();
        const alert = await s.monitor.alerts.change(id, change, actor, opts.reason ?? null, viewer);
        print(opts, alert, () => `${alert.id} is ${alert.state}`);
      });
    });
  }

  const incidents = program.command('incidents').description('related alerts grouped into incidents');
  withDataOptions(incidents.command('list').description('list incidents, newest first'))
    .option('--state <state>', 'open or resolved')
    .action(async (opts: Common & { state?: string }) => {
      const state = oneOf('--state', opts.state, ['open', 'resolved']);
      await withServices(opts.data, async (s) => {
        const items = await audited(s, 'incident.list', { type: 'incident' }, () =>
          s.monitor.alerts.incidents.list(state ? { state } : {}),
        );
        print(opts, { items }, () =>
          table(
            items.map((i) => ({
              id: i.id,
              severity: i.severity,
              state: i.state,
              alerts: i.alertCount,
              devices: i.deviceIds,
              title: i.title,
            })),
          ),
        );
      });
    });
  withDataOptions(
    incidents.command('show').description('one incident with its alerts').argument('<id>'),
  ).action(async (id: string, opts: Common) => {
    await withServices(opts.data, async (s) => {
      const incident = await audited(s, 'incident.read', { type: 'incident', id }, async () => ({
        ...(await s.monitor.alerts.incidents.get(id)),
        alerts: await s.monitor.alerts.alertsOf(id, operator().viewer),
      }));
      print(opts, incident, () =>
        [
          `${incident.id}  ${incident.severity}  ${incident.state}  ${incident.title}`,
          table(incident.alerts.map(row)),
        ].join('\n'),
      );
    });
  });

  const monitor = program.command('monitor').description('monitoring: fleet audit checks');
  withDataOptions(
    monitor.command('check').description('run the fleet audit checks now and raise alerts for findings'),
  )
    .option('--check <name...>', `only these: ${FLEET_CHECKS.join(', ')}`)
    .action(async (opts: Common & { check?: string[] }) => {
      await withServices(opts.data, async (s) => {
        const at = Date.now();
        const { actor } = operator();
        const findings = await s.monitor.runChecks({
          at,
          actor,
          ...(opts.check ? { only: opts.check } : {}),
        });
        print(opts, { ranAt: new Date(at).toISOString(), findings }, () =>
          table(
            findings.map((f) => ({
              check: f.check,
              rule: f.rule,
              device: f.deviceId,
              outcome: f.outcome,
              alert: f.alertId,
              title: f.title,
            })),
          ),
        );
      });
    });
}
