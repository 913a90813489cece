import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PulsegateError } from '../errors.js';
import { ALERT_CHANGES } from '../monitor/index.js';
import { configKeys, loadConfig } from './loader.js';
import { NOTIFY_CHANGES } from './schema.js';

const dirs: string[] = [];
function dataDir(yaml?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  dirs.push(dir);
  if (yaml !== undefined) writeFileSync(join(dir, 'pulsegate.yaml'), yaml);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function configError(fn: () => unknown): PulsegateError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PulsegateError);
    expect((error as PulsegateError).code).toBe('CONFIG_INVALID');
    return error as PulsegateError;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('config loader', () => {
  it('fills every default when there is no file', () => {
    const c = loadConfig(dataDir(), {});
    expect(c.server.port).toBe(8443);
    expect(c.server.tlsMinVersion).toBe('TLSv1.2');
    expect(c.database.url).toBe('');
    expect(c.audit.checkpointEveryEntries).toBe(1000);
  });

  it('reads the YAML file and lets environment variables override it', () => {
    const dir = dataDir('server:\n  port: 9443\nlog:\n  level: debug\n');
    const c = loadConfig(dir, {
      PULSEGATE_SERVER_PORT: '10443',
      PULSEGATE_DATABASE_URL: 'postgres://x@h/db?sslmode=verify-full',
    });
    expect(c.server.port).toBe(10443);
    expect(c.log.level).toBe('debug');
    expect(c.database.url).toBe('postgres://x@h/db?sslmode=verify-full');
  });

  it('derives an environment variable for every key', () => {
    const envs = configKeys().map((k) => k.env);
    expect(envs).toContain('PULSEGATE_AUTH_ACCESS_TOKEN_TTL_SECONDS');
    expect(envs).toContain('PULSEGATE_DATABASE_URL');
    expect(new Set(envs).size).toBe(envs.length);
  });

  it('names the key, its variable and what is allowed for a bad value', () => {
    const e = configError(() => loadConfig(dataDir('server:\n  port: 70000\n'), {}));
    expect(e.message).toContain('server.port');
    expect(e.message).toContain('PULSEGATE_SERVER_PORT');
    expect(e.message).toContain('<= 65535');
  });

  it('reads lists and maps from JSON environment values, and refuses bad JSON or shapes', () => {
    const c = loadConfig(dataDir(), {
      PULSEGATE_CLINICAL_LIMITS: '{"ward-3":{"spo2":{"low":93}}}',
      PULSEGATE_NOTIFY_WEBHOOKS:
        '[{"name":"soc","url":"https://soc.example/h","secretFile":"secrets/soc.whsec"}]',
    });
    expect(c.clinical.limits).toEqual({ 'ward-3': { spo2: { low: 93 } } });
    expect(c.notify.webhooks[0]).toMatchObject({ name: 'soc', url: 'https://soc.example/h' });
    expect(configError(() => loadConfig(dataDir(), { PULSEGATE_NOTIFY_WEBHOOKS: '[{' })).message).toContain(
      'notify.webhooks',
    );
    // Webhooks must be HTTPS; the message names the place inside the list, not an unknown key.
    const http = configError(() =>
      loadConfig(dataDir(), {
        PULSEGATE_NOTIFY_WEBHOOKS: '[{"name":"x","url":"http://a/","secretFile":"s"}]',
      }),
    ).message;
    expect(http).toContain('notify.webhooks[0].url (in PULSEGATE_NOTIFY_WEBHOOKS)');
    expect(http).not.toContain('unknown key');
    const limit = configError(() =>
      loadConfig(dataDir(), { PULSEGATE_CLINICAL_LIMITS: '{"icu":{"spo2":{"low":"x"}}}' }),
    ).message;
    expect(limit).toContain('clinical.limits.icu.spo2.low (in PULSEGATE_CLINICAL_LIMITS)');
  });

  it('accepts only a PostgreSQL database URL, and requires the external broker settings together', () => {
    expect(
      configError(() => loadConfig(dataDir(), { PULSEGATE_DATABASE_URL: 'mysql://root@db/x' })).message,
    ).toContain('database.url (PULSEGATE_DATABASE_URL)');
    expect(
      loadConfig(dataDir(), { PULSEGATE_DATABASE_URL: 'postgresql://db/x?sslmode=verify-full' }).database.url,
    ).toBe('postgresql://db/x?sslmode=verify-full');
    // A typo in a URL that holds a password does not print the password.
    const typo = configError(() =>
      loadConfig(dataDir(), { PULSEGATE_DATABASE_URL: 'postgress://app:S3cretPw@db/x' }),
    ).message;
    expect(typo).toContain('postgress://***@db/x');
    expect(typo).not.toContain('S3cretPw');
    const external = configError(() =>
      loadConfig(dataDir(), {
        PULSEGATE_MQTT_MODE: 'external',
        PULSEGATE_MQTT_EXTERNAL_URL: 'mqtts://b:8883',
      }),
    ).message;
    expect(external).toContain(
      'mqtt.externalCaFile (PULSEGATE_MQTT_EXTERNAL_CA_FILE): required when mqtt.mode is external',
    );
    expect(external).toContain('mqtt.externalKeyFile');
    expect(external).not.toContain('mqtt.externalUrl');
    expect(
      configError(() => loadConfig(dataDir(), { PULSEGATE_MQTT_EXTERNAL_URL: 'mqtt://b:1883' })).message,
    ).toContain('mqtt.externalUrl');
  });

  it('refuses a non-numeric environment value for a number', () => {
    const e = configError(() => loadConfig(dataDir(), { PULSEGATE_SERVER_PORT: 'eighty' }));
    expect(e.message).toContain('server.port');
  });

  it('refuses an unknown key, an unknown section and an unknown PULSEGATE_ variable', () => {
    expect(configError(() => loadConfig(dataDir('server:\n  prot: 1\n'), {})).message).toContain('prot');
    expect(configError(() => loadConfig(dataDir('sevrer:\n  port: 1\n'), {})).message).toContain('sevrer');
    expect(configError(() => loadConfig(dataDir(), { PULSEGATE_SERVER_PROT: '1' })).message).toContain(
      'PULSEGATE_SERVER_PROT',
    );
  });

  it('refuses a value outside an enumeration, listing the allowed ones', () => {
    const e = configError(() => loadConfig(dataDir('log:\n  level: loud\n'), {}));
    expect(e.message).toContain('"info"');
  });

  it('refuses invalid YAML and a non-mapping document', () => {
    configError(() => loadConfig(dataDir('server: [unclosed'), {}));
    configError(() => loadConfig(dataDir('- a\n- b\n'), {}));
    // The YAML error names the position, never the line (which may hold a password).
    const broken = configError(() =>
      loadConfig(dataDir('database:\n  url: postgres://pg:S3cretPw@db/x\n    bad: [\n'), {}),
    ).message;
    expect(broken).toMatch(/at line \d+, column \d+/);
    expect(broken).not.toContain('S3cretPw');
    const query = configError(() =>
      loadConfig(dataDir(), { PULSEGATE_DATABASE_URL: 'postgress://db/x?password=S3cretPw&sslmode=require' }),
    ).message;
    expect(query).not.toContain('S3cretPw');
  });

  it('refuses a time zone the runtime does not know, at load, naming the key', () => {
    expect(loadConfig(dataDir(), { PULSEGATE_MONITOR_TIME_ZONE: 'Europe/London' }).monitor.timeZone).toBe(
      'Europe/London',
    );
    for (const zone of ['Mars/Olympus', 'UTC+25', 'Europe/Londn']) {
      const e = configError(() => loadConfig(dataDir(), { PULSEGATE_MONITOR_TIME_ZONE: zone }));
      expect(e.message).toContain('monitor.timeZone (PULSEGATE_MONITOR_TIME_ZONE)');
      expect(e.message).toContain(JSON.stringify(zone));
    }
    configError(() => loadConfig(dataDir('monitor:\n  timeZone: Mars/Olympus\n'), {}));
  });

  it('accepts only the alert changes a notification route can select', () => {
    // The schema's list is the one the monitor emits.
    expect([...NOTIFY_CHANGES]).toEqual([...ALERT_CHANGES]);
    const hook = (changes: unknown) =>
      JSON.stringify([{ name: 'soc', url: 'https://soc.example/h', secretFile: 's', changes }]);
    const ok = loadConfig(dataDir(), { PULSEGATE_NOTIFY_WEBHOOKS: hook(['created', 'escalated']) });
    expect(ok.notify.webhooks[0]?.changes).toEqual(['created', 'escalated']);
    const typo = configError(() =>
      loadConfig(dataDir(), { PULSEGATE_NOTIFY_WEBHOOKS: hook(['created', 'escalatd']) }),
    ).message;
    expect(typo).toContain('notify.webhooks[0].changes[1] (in PULSEGATE_NOTIFY_WEBHOOKS)');
    expect(typo).toContain('"escalated"');
    expect(typo).toContain('got "escalatd"');
    const syslog = configError(() =>
      loadConfig(
        dataDir(
          'notify:\n  syslog:\n    - name: siem\n      host: siem.example\n      port: 6514\n      changes: [ack]\n',
        ),
        {},
      ),
    ).message;
    expect(syslog).toContain('notify.syslog[0].changes[0]');
  });

  it('requires TLS to a PostgreSQL server on another host, never for loopback or a Unix socket', () => {
    for (const url of [
      'postgres://app:S3cretPw@db.example.org/pulsegate',
      'postgres://db.example.org/pulsegate?sslmode=disable',
      'postgresql://10.0.0.5:5432/pulsegate?sslmode=prefer',
      // The driver goes where `host` says, whatever the URL's host name.
      'postgres://app:S3cretPw@127.0.0.1:5432/pulsegate?host=db.example.org',
    ]) {
      const e = configError(() => loadConfig(dataDir(), { PULSEGATE_DATABASE_URL: url }));
      expect(e.message).toContain('sslmode=verify-full');
      expect(e.message).not.toContain('S3cretPw');
    }
    for (const url of [
      'postgres://db.example.org/pulsegate?sslmode=verify-full',
      'postgres://db.example.org/pulsegate?sslmode=require',
      'postgres://postgres@127.0.0.1:5432/postgres',
      'postgres://localhost/pulsegate',
      'postgres://[::1]/pulsegate',
      'postgres:///pulsegate?host=/var/run/postgresql',
      'postgres://db.example.org/pulsegate?host=127.0.0.1',
    ]) {
      expect(loadConfig(dataDir(), { PULSEGATE_DATABASE_URL: url }).database.url).toBe(url);
    }
  });

  it('requires an https public URL', () => {
    const e = configError(() => loadConfig(dataDir(), { PULSEGATE_SERVER_PUBLIC_URL: 'http://example.org' }));
    expect(e.message).toContain('server.publicUrl');
  });
});
