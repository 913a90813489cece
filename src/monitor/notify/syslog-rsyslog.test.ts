/**
 * Syslog over TLS accepted by a real receiver: Debian's rsyslogd (imtcp with the gtls stream
 * driver, RFC 5425) started for this test with its own config, pid file and work directory on a
 * free port. rsyslog parses each message with its RFC 5424 parser (octet-counted framing, RFC 6587
 * §3.4.1) and writes the parsed fields; the test reads them back. The outbox keeps messages while
 * the receiver is down and delivers them when it is up. `.ci/run` installs rsyslog and
 * rsyslog-gnutls; outside CI the test is skipped with a message when rsyslogd is missing.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../events/index.js';
import { DIALECTS, type TestStore } from '../../testing/stores.js';
import { type AlertEvent, createdAlertEvent } from '../contracts.js';
import { createNotifyService, type NotifyService } from './notify-service.js';
import { parseRfc5424 } from './rfc5424-parser.js';
import { makeTestTls, type TestTls } from './test-tls.js';

const RSYSLOGD = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd'].find((p) => existsSync(p));
const GTLS = [
  '/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so',
  '/usr/lib/aarch64-linux-gnu/rsyslog/lmnsd_gtls.so',
  '/usr/lib/rsyslog/lmnsd_gtls.so',
].some((p) => existsSync(p));
const available = RSYSLOGD !== undefined && GTLS;
if (!available) {
  if (process.env.CI === 'true')
    throw new Error('rsyslog and rsyslog-gnutls are required in CI (.ci/run installs them)');
  console.warn('[skip] rsyslog test skipped: install rsyslog and rsyslog-gnutls');
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const canConnect = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

class Rsyslogd {
  #proc: ChildProcess | undefined;
  readonly out: string;
  readonly conf: string;
  constructor(
    readonly dir: string,
    readonly port: number,
    tls: TestTls,
  ) {
    mkdirSync(join(dir, 'work'), { recursive: true });
    this.out = join(dir, 'received.log');
    this.conf = join(dir, 'rsyslog.conf');
    writeFileSync(
      this.conf,
      [
        `global(workDirectory="${join(dir, 'work')}" defaultNetstreamDriver="gtls"`,
        `  defaultNetstreamDriverCAFile="${tls.caFile}" defaultNetstreamDriverCertFile="${tls.certFile}"`,
        `  defaultNetstreamDriverKeyFile="${tls.keyFile}")`,
        'module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")',
        `input(type="imtcp" address="127.0.0.1" port="${port}")`,
        // The fields rsyslog parsed (its RFC 5424 parser), one message per line, then the raw message.
        'template(name="parsed" type="list") {',
        '  property(name="pri") constant(value="\\t") property(name="timereported" dateFormat="rfc3339")',
        '  constant(value="\\t") property(name="hostname") constant(value="\\t") property(name="app-name")',
        '  constant(value="\\t") property(name="msgid") constant(value="\\t") property(name="structured-data")',
        '  constant(value="\\t") property(name="msg" droplastlf="on") constant(value="\\t") property(name="rawmsg")',
        '  constant(value="\\n")',
        '}',
        `*.* action(type="omfile" file="${this.out}" template="parsed")`,
        '',
      ].join('\n'),
    );
    execFileSync(RSYSLOGD!, ['-N1', '-f', this.conf], { stdio: 'pipe' });
  }

  async start(): Promise<void> {
    this.#proc = spawn(RSYSLOGD!, ['-n', '-f', this.conf, '-i', join(this.dir, 'rsyslogd.pid')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const end = Date.now() + 30_000;
    while (!(await canConnect(this.port))) {
      if (Date.now() > end || this.#proc.exitCode !== null) throw new Error('rsyslogd did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    const p = this.#proc;
    this.#proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
    });
  }

  lines(): string[][] {
    if (!existsSync(this.out)) return [];
    return readFileSync(this.out, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t'));
  }
}

const event = (n: number, extra: Partial<AlertEvent> = {}): AlertEvent =>
  createdAlertEvent({
    alertId: `alert-${n}`,
    rule: 'device.auth-failure-storm',
    title: `Authentication failures from one address "x" [${n}]`,
    deviceId: `dev-${n}`,
    at: Date.UTC(2026, 10, 29, 9, 0, n),
    ...extra,
  });

describe.skipIf(!available)('notify: syslog over TLS to rsyslogd', () => {
  let tls: TestTls;
  let store: TestStore;
  let rsyslog: Rsyslogd;
  let notify: NotifyService;
  const bus = new EventBus();
  const clock = { ms: Date.now() };

  beforeAll(async () => {
    tls = makeTestTls();
    store = await DIALECTS[0]!.open();
    const port = await freePort();
    rsyslog = new Rsyslogd(join(tls.dir, 'rsyslog'), port, tls);
    notify = createNotifyService({
      store: store.store,
      bus,
      config: {
        webhooks: [],
        syslog: [
          {
            name: 'siem',
            host: '127.0.0.1',
            port,
            format: 'rfc5424',
            caFile: tls.caFile,
            servername: 'localhost',
          },
          {
            name: 'arcsight',
            host: '127.0.0.1',
            port,
            format: 'cef',
            caFile: tls.caFile,
            servername: 'localhost',
            categories: ['security'],
          },
        ],
        maxAttempts: 10,
        retryBaseSeconds: 1,
        retryMaxSeconds: 10,
        timeoutSeconds: 10,
        streamHeartbeatSeconds: 15,
        streamMaxBufferBytes: 65536,
        streamMaxSubscribers: 10,
      },
      dataDir: tls.dir,
      version: '0.1.0',
      access: { authorize() {}, checkResource() {} },
      isCareUnitLimited: () => false,
      careUnitOf: async () => null,
      now: () => clock.ms,
    });
  }, 60_000);
  afterAll(async () => {
    await notify?.close();
    await rsyslog?.stop();
    await store?.cleanup();
    tls?.cleanup();
  });

  it('keeps messages while the receiver is down, then rsyslog accepts and parses every one', async () => {
    bus.emit('alert.raised', event(1));
    bus.emit(
      'alert.raised',
      event(2, { category: 'technical', severity: 'low', rule: 'technical.low-battery' }),
    );
    await notify.drain();
    expect(await notify.counts()).toEqual({ pending: 3 });

    await rsyslog.start();
    clock.ms += 60_000;
    await notify.drain();
    expect(await notify.counts()).toEqual({});
    bus.emit(
      'alert.updated',
      event(3, { change: 'acknowledged', state: 'acknowledged', actor: 'analyst-1' }),
    );
    await notify.drain();

    const lines = await waitFor('5 messages in rsyslog', () => {
      const l = rsyslog.lines();
      return l.length >= 5 && l;
    });
    expect(lines).toHaveLength(5);
    const rfc = lines.filter((l) => l[4] !== 'CEF');
    const cef = lines.filter((l) => l[4] === 'CEF');
    expect(rfc.map((l) => l[4]).sort()).toEqual([
      'device.auth-failure-storm',
      'device.auth-failure-storm',
      'technical.low-battery',
    ]);
    for (const [pri, time, host, app, msgid, sd, msg, raw] of rfc) {
      // rsyslog's own parse of header and structured data...
      expect(app).toBe('pulsegate');
      expect(host).not.toBe('-');
      expect(sd).toMatch(/^\[alert@32473 alertId="alert-\d"/);
      expect(msg).toContain('Authentication failures from one address "x"');
      // ...agrees with the strict parser on the raw message as received.
      const p = parseRfc5424(raw!);
      expect(String(p.pri)).toBe(pri);
      expect(p.msgId).toBe(msgid);
      expect(new Date(time!).getTime()).toBe(new Date(p.timestamp).getTime());
    }
    const acked = rfc.find((l) => l[5]!.includes('alert-3'))!;
    expect(parseRfc5424(acked[7]!).sd['alert@32473']).toMatchObject({
      change: 'acknowledged',
      actor: 'analyst-1',
    });
    // The CEF target only took the security alerts.
    expect(cef).toHaveLength(2);
    for (const l of cef)
      expect(l[6]).toMatch(/^CEF:0\|Pulsegate\|Pulsegate\|0\.1\.0\|device\.auth-failure-storm\|/);
  }, 90_000);
});
