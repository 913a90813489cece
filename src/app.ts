/**
 * The composition root: the one place that builds every service from the configuration and
 * wires them together. Nothing else constructs services or holds module-level singletons.
 */

import { sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  type AccessService,
  accessRoutes,
  CLIENT_ASSERTION_ALGORITHMS,
  createAccessService,
  isCareUnitLimited,
} from './access/index.js';
import { type AuditLog, createAuditLog } from './audit/index.js';
import { auditRoutes } from './audit/routes.js';
import { type Config, dataPath, type LoadedConfig } from './config/index.js';
import { consoleRoutes } from './console/index.js';
import { createDeviceService, type DeviceService, deviceRoutes } from './devices/index.js';
import { EventBus } from './events/index.js';
import { createFhirApi, fhirRoutes } from './fhir/index.js';
import { FleetMeter, fleetRoutes } from './fleet/index.js';
import { buildHttpServer, createMetricsRegistry, type PulsegateHttp } from './http/index.js';
import {
  createExternalBrokerIngest,
  createHl7Processor,
  createMllpListener,
  createMqttIngest,
  hl7IngestRoutes,
  ingestRoutes,
} from './ingest/index.js';
import { installationLayout } from './installation/layout.js';
import { checkMasterKeyFirst, type KeyService, openKeyService, readMasterKey } from './keys/index.js';
import { createLogger, type Logger } from './logging/logger.js';
import {
  type ClinicalMonitor,
  clinicalRoutes,
  createClinicalMonitor,
  createPatientSettings,
  LimitTable,
} from './monitor/clinical/index.js';
import type { AlertSink } from './monitor/contracts.js';
import { createMonitor, type Monitor, monitorRoutes } from './monitor/index.js';
import { createNotifyService, type NotifyService, notifyRoutes } from './monitor/notify/index.js';
import { createResponseActions, type ResponseActions, responseRoutes } from './monitor/response/index.js';
import { createPatientBindings, type PatientBindings, patientRoutes } from './patients/index.js';
import { createPki, type Pki, pkiRoutes, watchStoreChanges } from './pki/index.js';
import { openStore, redactDatabaseUrl, type Store } from './store/index.js';
import {
  createTelemetryService,
  restartSequenceIn,
  type TelemetryService,
  telemetryRoutes,
} from './telemetry/index.js';
import { VERSION } from './version.js';

/** The services without any network listener: what CLI commands and the server share. */
export interface Services {
  readonly config: LoadedConfig;
  readonly logger: Logger;
  readonly store: Store;
  readonly keys: KeyService;
  readonly audit: AuditLog;
  readonly access: AccessService;
  readonly devices: DeviceService;
  readonly bus: EventBus;
  readonly pki: Pki;
  readonly patients: PatientBindings;
  readonly telemetry: TelemetryService;
  readonly response: ResponseActions;
  readonly monitor: Monitor;
  close(): Promise<void>;
}

export interface PulsegateApp extends Services {
  readonly http: PulsegateHttp;
  /** Starts the listeners (HTTPS API, MQTT over TLS, HL7 MLLP over TLS) and returns their URLs. */
  listen(): Promise<{ api: string; mqtt?: string; hl7?: string }>;
  /** Where detectors raise alerts. */
  readonly alerts: AlertSink;
  /** Clinical monitoring (limits, NEWS2, triage, technical alarms); absent when clinical.enabled is false. */
  readonly clinical: ClinicalMonitor | undefined;
  /** Webhooks, syslog/CEF and the live stream. */
  readonly notify: NotifyService;
  /** Devices connected to the embedded MQTT broker now. */
  connectedDevices(): number;
}

export interface BuildOptions {
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
  /** Apply pending migrations before opening (serve does; CLI `migrate` reports them itself). */
  migrate?: boolean;
}

/** Opens the configured database: PostgreSQL when `database.url` is set, else the SQLite file. */
export function openConfiguredStore(config: LoadedConfig): Store {
  return config.database.url
    ? openStore({ postgresUrl: config.database.url, poolSize: config.database.poolSize })
    : openStore({ sqliteFile: dataPath(config, config.database.sqliteFile) });
}

/** Builds store, keys, audit and access from the configuration. */
export async function createServices(config: LoadedConfig, options: BuildOptions = {}): Promise<Services> {
  const logger = options.logger ?? createLogger({ level: config.log.level });
  const env = options.env ?? process.env;
  const masterKey = readMasterKey({ file: dataPath(config, config.keys.masterKeyFile), env });
  const store = openConfiguredStore(config);
  try {
    if (options.migrate) {
      // A wrong master key stops start-up before a migration changes the database.
      await checkMasterKeyFirst(store, masterKey);
      const { reports, error } = await store.migrate();
      for (const r of reports.filter((x) => x.status !== 'already-applied'))
        logger.info({ migration: r.name, status: r.status }, 'migration');
      if (error) throw error;
    }
    const keys = await openKeyService({ store, masterKey, dataKeyMaxUses: config.keys.dataKeyMaxUses });
    masterKey.fill(0);
    const auditKey = await keys.signingKey('audit');
    const audit = createAuditLog({
      store,
      signer: {
        name: config.audit.origin,
        publicKey: auditKey.publicKey,
        sign: (bytes: Uint8Array) => sign(null, bytes, auditKey.privateKey),
      },
      origin: config.audit.origin,
      checkpointEveryEntries: config.audit.checkpointEveryEntries,
      checkpointIntervalSeconds: config.audit.checkpointIntervalSeconds,
    });
    const access = createAccessService({
      store,
      keys,
      audit,
      config: {
        issuer: config.server.publicUrl,
        audience: config.server.publicUrl,
        accessTokenTtlSeconds: config.auth.accessTokenTtlSeconds,
        maxFailedLogins: config.auth.maxFailedLogins,
        lockoutSeconds: config.auth.lockoutSeconds,
        breakGlassMaxMinutes: config.auth.breakGlassMaxMinutes,
      },
    });
    const sealed = await access.sealLegacyBreakGlassReasons();
    if (sealed > 0) logger.info({ sessions: sealed }, 'sealed break-glass reasons stored in clear');
    const bus = new EventBus((error, event) => logger.error({ err: error, event }, 'event listener failed'));
    const devices = createDeviceService({ store, audit, bus });
    const pki = await createPki({
      store,
      audit,
      bus,
      devices,
      config,
      layout: installationLayout(config.dataDir),
      // A fresh enrollment restarts the device's telemetry sequence numbers, in its transaction.
      onFreshEnrollment: restartSequenceIn,
    });
    const patients = createPatientBindings({ store, keys, audit });
    const monitor = createMonitor({ store, keys, audit, bus, config, logger });
    const sealedReasons = await monitor.alerts.sealLegacyReasons();
    if (sealedReasons > 0) logger.info({ changes: sealedReasons }, 'sealed alert reasons stored in clear');
    const telemetry = await createTelemetryService({
      store,
      keys,
      audit,
      bus,
      devices,
      patients,
      config,
      // A clinical alert's evidence is vitals: it is kept exactly as long as the telemetry.
      retentionFollowers: [
        { name: 'alerts', expirePatientData: (before) => monitor.alerts.expirePatientData(before) },
      ],
    });
    const response = createResponseActions({ devices, pki, bus });
    logger.debug(
      { database: config.database.url ? redactDatabaseUrl(config.database.url) : store.dialect },
      'services ready',
    );
    return {
      config,
      logger,
      store,
      keys,
      audit,
      access,
      devices,
      bus,
      pki,
      patients,
      telemetry,
      response,
      monitor,
      async close() {
        await monitor.stop();
        await telemetry.close();
        pki.close();
        await audit.close();
        await keys.close();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** How often the inventory looks for devices whose certificates all expired. */
const EXPIRY_CHECK_MS = 10 * 60_000;

/**
 * The configuration checks that need a capability's knowledge (beyond the schema that
 * `loadConfig` applies): the clinical limits against the vital kinds telemetry knows. Made before
 * anything opens, and also when clinical monitoring is off, so that a bad value is a start-up
 * error rather than a surprise when it is switched on. Throws the capability's code.
 */
export function checkConfig(config: Config): { limits: LimitTable } {
  return { limits: new LimitTable(config.clinical.limits) };
}

/** Builds the whole server: services plus the HTTPS API with every capability's routes. */
export async function createApp(config: LoadedConfig, options: BuildOptions = {}): Promise<PulsegateApp> {
  const { limits } = checkConfig(config);
  const services = await createServices(config, options);
  const { store, access, audit, devices, logger, bus, pki, patients, telemetry, response, keys, monitor } =
    services;
  // Detection listens from the start, so the broker's first connections are seen.
  await monitor.startDetection();
  const metrics = createMetricsRegistry();
  const meter = new FleetMeter(bus);
  const auditKey = await services.keys.signingKey('audit');
  const fhir = createFhirApi({
    store,
    keys,
    audit,
    devices,
    patients,
    telemetry,
    access,
    publicUrl: config.server.publicUrl,
    maxClockSkewSeconds: config.telemetry.maxClockSkewSeconds,
    version: VERSION,
  });
  const layout = installationLayout(config.dataDir);
  // HL7 v2 messages, from the MLLP listener (when enabled) and POST /api/v1/ingest/hl7.
  const hl7 = createHl7Processor({ sink: telemetry, devices, patients, bus, logger, config });
  // Every detector raises into the monitor's durable alert store.
  const alerts: AlertSink = monitor.sink;
  const clinicalSettings = createPatientSettings({ store });
  const clinical = config.clinical.enabled
    ? createClinicalMonitor({
        telemetry,
        sink: alerts,
        settings: clinicalSettings,
        limits,
        config: config.clinical,
        // Never the error itself: a failed raise may carry clinical context.
        onError: (error) =>
          logger.error({ code: (error as { code?: string }).code }, 'clinical alert failed'),
      })
    : undefined;
  const notify = createNotifyService({
    store,
    bus,
    config: config.notify,
    dataDir: config.dataDir,
    version: VERSION,
    access,
    isCareUnitLimited,
    careUnitOf: async (deviceId) => (await devices.getRow(deviceId)).care_unit,
    telemetry,
    onError: (error) =>
      logger.error({ code: (error as { code?: string }).code }, 'notification outbox failed'),
  });
  const http = await buildHttpServer({
    auth: access,
    audit,
    logger,
    metrics,
    ready: async () => {
      await store.db.selectFrom('settings').select('name').limit(1).execute();
      return true;
    },
    routes: [
      accessRoutes({ access, loginRateLimitPerMinute: config.auth.loginRateLimitPerMinute }),
      auditRoutes({ audit, verifier: { name: config.audit.origin, publicKey: auditKey.publicKey } }),
      deviceRoutes({ devices, access }),
      fleetRoutes({ devices, meter, connectedDevices: () => mqtt?.connectedDevices() ?? meter.connected() }),
      pkiRoutes({ pki, devices, access, enrollFailuresPerMinute: config.pki.enrollFailuresPerMinute }),
      responseRoutes({ actions: response, devices, access }),
      patientRoutes({ patients, devices, access, audit }),
      telemetryRoutes({ telemetry, patients, devices, access, audit }),
      ...(clinical
        ? [
            clinicalRoutes({
              monitor: clinical,
              settings: clinicalSettings,
              patients,
              devices,
              telemetry,
              access,
              audit,
            }),
          ]
        : []),
      notifyRoutes({ notify, audit, auth: access }),
      ingestRoutes({ identity: pki, sink: telemetry, bus, limits: config.mqtt, logger }),
      fhirRoutes({
        api: fhir,
        audit,
        logger,
        publicUrl: config.server.publicUrl,
        version: VERSION,
        algorithms: CLIENT_ASSERTION_ALGORITHMS,
      }),
      hl7IngestRoutes({
        identity: pki,
        processor: hl7,
        bus,
        maxMessageBytes: config.hl7.maxMessageBytes,
        logger,
      }),
      monitorRoutes({ monitor, access }),
      consoleRoutes(),
    ],
    bodyLimitBytes: config.server.bodyLimitBytes,
    requestTimeoutMs: config.server.requestTimeoutSeconds * 1000,
    failedAuthPerMinute: config.auth.failedRequestsPerMinute,
    idleTimeoutMs: config.server.idleTimeoutSeconds * 1000,
    tls: {
      cert: readFileSync(dataPath(config, config.server.tlsCert)),
      key: readFileSync(dataPath(config, config.server.tlsKey)),
      minVersion: config.server.tlsMinVersion,
      clientCa: [readFileSync(layout.issuingCaCert), readFileSync(layout.rootCaCert)],
    },
    trustProxy: config.server.trustProxy,
    publicUrl: config.server.publicUrl,
    version: VERSION,
  });
  // The device listeners (MQTT, MLLP) present the server certificate and require a client
  // certificate from our CA.
  const deviceTls = {
    cert: readFileSync(dataPath(config, config.server.tlsCert)),
    key: readFileSync(dataPath(config, config.server.tlsKey)),
    ca: [readFileSync(layout.issuingCaCert), readFileSync(layout.rootCaCert)],
  };
  const mqtt =
    config.mqtt.mode === 'embedded'
      ? createMqttIngest({
          config,
          tls: deviceTls,
          identity: pki,
          sink: telemetry,
          bus,
          logger,
        })
      : undefined;
  const external =
    config.mqtt.mode === 'external'
      ? createExternalBrokerIngest({ config, sink: telemetry, bus, logger, devices })
      : undefined;
  const mllp = config.hl7.enabled
    ? createMllpListener({
        config,
        tls: deviceTls,
        identity: pki,
        processor: hl7,
        bus,
        logger,
      })
    : undefined;
  audit.start();
  notify.start();
  const stopWatching = watchStoreChanges({
    store,
    bus,
    intervalMs: config.pki.changePollMs,
    onError: (error) => logger.warn({ err: error }, 'change watch failed'),
  });
  const stopRetention = telemetry.startRetention(undefined, (error) =>
    logger.error({ err: error }, 'retention run failed'),
  );
  // The inventory's certificate status follows the clock: devices whose certificates all expired.
  const markExpired = () =>
    void pki.markExpired().catch((error) => logger.warn({ err: error }, 'certificate expiry check failed'));
  const expiryTimer = setInterval(markExpired, EXPIRY_CHECK_MS);
  expiryTimer.unref();
  markExpired();
  return {
    ...services,
    http,
    alerts,
    clinical,
    notify,
    async listen() {
      await http.listen({ host: config.server.host, port: config.server.port });
      const address = http.server.address();
      const port = typeof address === 'object' && address ? address.port : config.server.port;
      const mqttPort = mqtt ? (await mqtt.start()).port : undefined;
      await external?.start();
      const hl7Port = mllp ? (await mllp.start()).port : undefined;
      monitor.start();
      return {
        api: `https://localhost:${port}`,
        ...(mqttPort !== undefined ? { mqtt: `mqtts://localhost:${mqttPort}` } : {}),
        // MLLP over TLS has no registered URI scheme; "mllps" is the common spelling.
        ...(hl7Port !== undefined ? { hl7: `mllps://localhost:${hl7Port}` } : {}),
      };
    },
    connectedDevices: () => mqtt?.connectedDevices() ?? 0,
    async close() {
      stopWatching();
      stopRetention();
      clearInterval(expiryTimer);
      meter.close();
      clinical?.stop();
      // Live streams end first, or the HTTPS server would wait for them.
      await notify.close();
      await mqtt?.stop();
      await monitor.stop();
      await external?.stop();
      await mllp?.stop();
      await http.close();
      await hl7.close();
      await services.close();
    },
  };
}
