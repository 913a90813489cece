import { type Static, Type as T } from '@sinclair/typebox';

/**
 * The alert changes a notification route may select: every change the monitor emits
 * (`AlertEvent.change`; monitor/contracts.ts `ALERT_CHANGES` is this list). A closed list, so that
 * a typo is refused at start-up instead of silently dropping notifications.
 */
export const NOTIFY_CHANGES = [
  'created',
  'deduplicated',
  'grouped',
  'acknowledged',
  'resolved',
  'false-positive',
  'escalated',
] as const;
const alertChange = T.Union(NOTIFY_CHANGES.map((c) => T.Literal(c)));

/**
 * The whole configuration. Every key has a default so that `pulsegate init` can write a short
 * file; each key can be set in `pulsegate.yaml` or by the environment variable named after its
 * path (`server.port` → `PULSEGATE_SERVER_PORT`).
 */
export const ConfigSchema = T.Object(
  {
    server: T.Object(
      {
        host: T.String({ default: '0.0.0.0', description: 'Address the HTTPS API listens on' }),
        port: T.Integer({
          minimum: 0,
          maximum: 65535,
          default: 8443,
          description: 'HTTPS API and console port',
        }),
        publicUrl: T.String({
          default: 'https://localhost:8443',
          pattern: '^https://',
          description: 'External base URL; used as token issuer and audience',
        }),
        tlsCert: T.String({
          default: 'pki/server.pem',
          description: 'Server certificate chain (PEM), relative to the data dir',
        }),
        tlsKey: T.String({
          default: 'secrets/server.key',
          description: 'Server private key (PEM), relative to the data dir',
        }),
        tlsMinVersion: T.Union([T.Literal('TLSv1.2'), T.Literal('TLSv1.3')], { default: 'TLSv1.2' }),
        bodyLimitBytes: T.Integer({ minimum: 1024, maximum: 16_777_216, default: 1_048_576 }),
        requestTimeoutSeconds: T.Number({
          minimum: 0.5,
          maximum: 600,
          default: 30,
          description: 'Time a client has to send a whole request (headers and body) before it is dropped',
        }),
        idleTimeoutSeconds: T.Number({
          minimum: 1,
          maximum: 3600,
          default: 360,
          description:
            'Time a connection may stay silent before it is closed (above notify.streamHeartbeatSeconds)',
        }),
        trustProxy: T.Boolean({ default: false, description: 'Trust X-Forwarded-For from a reverse proxy' }),
      },
      { default: {}, additionalProperties: false },
    ),
    database: T.Object(
      {
        url: T.String({
          default: '',
          pattern: '^$|^postgres(ql)?://',
          description: 'postgres://… to use PostgreSQL; empty for the embedded SQLite file',
        }),
        sqliteFile: T.String({
          default: 'pulsegate.db',
          description: 'SQLite file, relative to the data dir',
        }),
        poolSize: T.Integer({ minimum: 1, maximum: 200, default: 10 }),
      },
      { default: {}, additionalProperties: false },
    ),
    log: T.Object(
      {
        level: T.Union(
          ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => T.Literal(l)),
          { default: 'info' },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    keys: T.Object(
      {
        masterKeyFile: T.String({
          default: 'secrets/master.key',
          description: 'Master key file, relative to the data dir',
        }),
        dataKeyMaxUses: T.Integer({
          minimum: 1,
          maximum: 2 ** 31,
          default: 2 ** 24,
          description: 'Encryptions before a data key is retired (AES-GCM random nonces: far below 2^32)',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    auth: T.Object(
      {
        accessTokenTtlSeconds: T.Integer({ minimum: 30, maximum: 86_400, default: 900 }),
        maxFailedLogins: T.Integer({ minimum: 1, maximum: 100, default: 5 }),
        lockoutSeconds: T.Integer({ minimum: 1, maximum: 86_400, default: 900 }),
        breakGlassMaxMinutes: T.Integer({ minimum: 1, maximum: 1440, default: 60 }),
        failedRequestsPerMinute: T.Integer({
          minimum: 1,
          maximum: 1_000_000,
          default: 300,
          description:
            'Failed authentications from one address per minute before further failures get 429 without an audit entry each (one entry records the switch)',
        }),
        loginRateLimitPerMinute: T.Integer({ minimum: 1, maximum: 10_000, default: 30 }),
      },
      { default: {}, additionalProperties: false },
    ),
    audit: T.Object(
      {
        origin: T.String({
          default: 'pulsegate.local/audit',
          minLength: 1,
          description: 'Checkpoint origin line',
        }),
        checkpointEveryEntries: T.Integer({ minimum: 1, maximum: 1_000_000, default: 1000 }),
        checkpointIntervalSeconds: T.Integer({ minimum: 1, maximum: 86_400, default: 10 }),
      },
      { default: {}, additionalProperties: false },
    ),
    pki: T.Object(
      {
        deviceCertificateDays: T.Integer({
          minimum: 1,
          maximum: 825,
          default: 90,
          description: 'Validity of device certificates',
        }),
        enrollmentTokenTtlSeconds: T.Integer({
          minimum: 60,
          maximum: 2_592_000,
          default: 86_400,
          description: 'Lifetime of one-time enrollment tokens',
        }),
        crlValiditySeconds: T.Integer({
          minimum: 60,
          maximum: 2_592_000,
          default: 86_400,
          description: 'CRL nextUpdate distance',
        }),
        enrollFailuresPerMinute: T.Integer({
          minimum: 1,
          maximum: 100_000,
          default: 20,
          description:
            'Refused EST enrollments from one address per minute before further requests get 429 (successes do not count)',
        }),
        changePollMs: T.Integer({
          minimum: 100,
          maximum: 60_000,
          default: 1000,
          description:
            'How often serve looks for revocations and quarantines made by other nodes or the CLI (and drops those sessions)',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    mqtt: T.Object(
      {
        mode: T.Union([T.Literal('embedded'), T.Literal('external'), T.Literal('off')], {
          default: 'embedded',
          description:
            'embedded: our MQTT broker on mqtt.port; external: consume from mqtt.externalUrl; off: no MQTT',
        }),
        host: T.String({ default: '0.0.0.0', description: 'Address the embedded broker listens on' }),
        port: T.Integer({ minimum: 0, maximum: 65535, default: 8883, description: 'MQTT over TLS port' }),
        maxPayloadBytes: T.Integer({ minimum: 256, maximum: 1_048_576, default: 65_536 }),
        tlsSessionTickets: T.Boolean({
          default: true,
          description:
            'Issue TLS session tickets so reconnecting devices resume without a full handshake; false saves about 12.7 KB per idle connection (TLS 1.3, OpenSSL 3)',
        }),
        ratePerSecond: T.Number({
          minimum: 0.1,
          maximum: 100_000,
          default: 50,
          description: 'Sustained messages per second per device',
        }),
        burst: T.Integer({
          minimum: 1,
          maximum: 1_000_000,
          default: 200,
          description: 'Messages a device may send in a burst',
        }),
        externalUrl: T.String({
          default: '',
          pattern: '^$|^mqtts://',
          description: 'mqtts://host:port of the external broker (external mode; TLS only)',
        }),
        externalCaFile: T.String({
          default: '',
          description: "CA bundle for the external broker's certificate",
        }),
        externalCertFile: T.String({
          default: '',
          description: 'Client certificate Pulsegate presents to the external broker',
        }),
        externalKeyFile: T.String({ default: '', description: 'Key for externalCertFile' }),
        sharedGroup: T.String({
          default: 'pulsegate',
          pattern: '^[A-Za-z0-9_-]+$',
          description: 'MQTT 5 shared subscription group',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    hl7: T.Object(
      {
        enabled: T.Boolean({
          default: false,
          description: 'Run the HL7 v2 MLLP listener (TLS, gateway client certificates required)',
        }),
        host: T.String({ default: '0.0.0.0', description: 'Address the MLLP listener binds' }),
        port: T.Integer({ minimum: 0, maximum: 65535, default: 2575, description: 'HL7 MLLP over TLS port' }),
        maxMessageBytes: T.Integer({
          minimum: 1024,
          maximum: 16_777_216,
          default: 1_048_576,
          description: 'Largest accepted HL7 message (MLLP frame or HTTP body)',
        }),
        maxInFlight: T.Integer({
          minimum: 1,
          maximum: 10_000,
          default: 256,
          description: 'Pipelined messages a connection may have unacknowledged before reading pauses',
        }),
        ratePerSecond: T.Number({
          minimum: 0.1,
          maximum: 1_000_000,
          default: 500,
          description: 'Sustained messages per second per gateway',
        }),
        burst: T.Integer({
          minimum: 1,
          maximum: 10_000_000,
          default: 2000,
          description: 'Messages a gateway may send in a burst',
        }),
        idleTimeoutSeconds: T.Integer({
          minimum: 1,
          maximum: 86_400,
          default: 600,
          description: 'Close a connection silent for this long',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    telemetry: T.Object(
      {
        retentionDays: T.Integer({
          minimum: 1,
          maximum: 36_500,
          default: 30,
          description: 'Days telemetry is kept before deletion and key shredding',
        }),
        retentionIntervalSeconds: T.Integer({
          minimum: 10,
          maximum: 86_400,
          default: 3600,
          description: 'How often the retention job runs',
        }),
        maxClockSkewSeconds: T.Integer({
          minimum: 1,
          maximum: 86_400,
          default: 300,
          description: 'Largest accepted distance between device and server time',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    monitor: T.Object(
      {
        enabled: T.Boolean({
          default: true,
          description: 'Run device-behaviour detection and fleet audit checks',
        }),
        rulesFile: T.String({
          default: '',
          description:
            'Detection rules (YAML), relative to the data dir; empty for the shipped rules/monitor.yaml',
        }),
        watchRules: T.Boolean({ default: true, description: 'Reload the rules file when it changes' }),
        timeZone: T.String({
          default: 'UTC',
          minLength: 1,
          description: "IANA time zone of the hour-of-day baselines (the hospital's local time)",
        }),
        checkIntervalSeconds: T.Integer({
          minimum: 0,
          maximum: 604_800,
          default: 3600,
          description: 'How often the fleet audit checks run (0 = only on demand)',
        }),
        certExpiryDays: T.Integer({
          minimum: 1,
          maximum: 825,
          default: 30,
          description: 'Fleet check: certificates expiring within this many days',
        }),
        incidentWindowSeconds: T.Integer({
          minimum: 1,
          maximum: 604_800,
          default: 900,
          description: 'Alerts of one device or one rule within this window are grouped into an incident',
        }),
        escalationCheckSeconds: T.Integer({
          minimum: 1,
          maximum: 3600,
          default: 30,
          description: 'How often unacknowledged alerts are checked for escalation',
        }),
        escalateCriticalSeconds: T.Integer({
          minimum: 0,
          maximum: 604_800,
          default: 300,
          description: 'Escalate an unacknowledged critical alert after this long (0 = never)',
        }),
        escalateHighSeconds: T.Integer({ minimum: 0, maximum: 604_800, default: 900 }),
        escalateMediumSeconds: T.Integer({ minimum: 0, maximum: 604_800, default: 3600 }),
        escalateLowSeconds: T.Integer({ minimum: 0, maximum: 604_800, default: 0 }),
        maxEscalationLevel: T.Integer({ minimum: 1, maximum: 10, default: 3 }),
        baselineFlushSeconds: T.Integer({
          minimum: 1,
          maximum: 86_400,
          default: 60,
          description: 'How often learned device baselines are written to the database (in batches)',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    clinical: T.Object(
      {
        enabled: T.Boolean({
          default: true,
          description: 'Run clinical monitoring (limits, NEWS2, technical alarms)',
        }),
        vitalsMaxAgeMinutes: T.Integer({
          minimum: 1,
          maximum: 1440,
          default: 60,
          description: 'Observations older than this are left out of NEWS2 and the triage list',
        }),
        news2AlertLevel: T.Union([T.Literal('low-medium'), T.Literal('medium'), T.Literal('high')], {
          default: 'medium',
          description: 'Lowest NEWS2 clinical-response level that raises a clinical alert',
        }),
        trendIntervalMinutes: T.Integer({
          minimum: 1,
          maximum: 1440,
          default: 15,
          description: 'NEWS2 trend arrows compare with the score charted this long before',
        }),
        signalLossSeconds: T.Integer({
          minimum: 5,
          maximum: 86_400,
          default: 120,
          description: 'A device streaming vitals that falls silent this long raises technical.signal-loss',
        }),
        realertSeconds: T.Integer({
          minimum: 1,
          maximum: 86_400,
          default: 60,
          description: 'A condition that persists is reported to the alert store again at most this often',
        }),
        limits: T.Record(
          T.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' }),
          T.Record(
            T.String({ pattern: '^[a-z0-9-]{2,40}$' }),
            T.Object(
              { low: T.Optional(T.Number()), high: T.Optional(T.Number()) },
              { additionalProperties: false },
            ),
          ),
          {
            default: {},
            description:
              'Vital-sign limits per care unit over the built-in defaults (adult ward; icu): unit -> vital kind -> {low, high}',
          },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    notify: T.Object(
      {
        webhooks: T.Array(
          T.Object(
            {
              name: T.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,39}$' }),
              url: T.String({ pattern: '^https://', maxLength: 2048 }),
              secretFile: T.String({ minLength: 1, description: 'File holding the whsec_ signing secret' }),
              caFile: T.Optional(T.String({ description: "CA bundle for the receiver's certificate" })),
              minSeverity: T.Optional(
                T.Union(['info', 'low', 'medium', 'high', 'critical'].map((v) => T.Literal(v))),
              ),
              categories: T.Optional(
                T.Array(T.Union(['security', 'clinical', 'technical'].map((v) => T.Literal(v)))),
              ),
              changes: T.Optional(T.Array(alertChange)),
            },
            { additionalProperties: false },
          ),
          { default: [], description: 'Webhook targets (Standard Webhooks HMAC-SHA256 signatures)' },
        ),
        syslog: T.Array(
          T.Object(
            {
              name: T.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,39}$' }),
              host: T.String({ minLength: 1 }),
              port: T.Integer({ minimum: 1, maximum: 65535 }),
              format: T.Union([T.Literal('rfc5424'), T.Literal('cef')], { default: 'rfc5424' }),
              caFile: T.Optional(T.String()),
              servername: T.Optional(T.String()),
              minSeverity: T.Optional(
                T.Union(['info', 'low', 'medium', 'high', 'critical'].map((v) => T.Literal(v))),
              ),
              categories: T.Optional(
                T.Array(T.Union(['security', 'clinical', 'technical'].map((v) => T.Literal(v)))),
              ),
              changes: T.Optional(T.Array(alertChange)),
            },
            { additionalProperties: false },
          ),
          { default: [], description: 'Syslog receivers: RFC 5424 or CEF over TLS (RFC 5425)' },
        ),
        maxAttempts: T.Integer({
          minimum: 1,
          maximum: 100,
          default: 12,
          description: 'Delivery attempts before a notification goes to the dead-letter list',
        }),
        retryBaseSeconds: T.Number({
          minimum: 0.01,
          maximum: 3600,
          default: 5,
          description: 'First retry delay; doubles per attempt, with full jitter',
        }),
        retryMaxSeconds: T.Number({
          minimum: 0.01,
          maximum: 86_400,
          default: 3600,
          description: 'Longest delay between two attempts',
        }),
        timeoutSeconds: T.Number({
          minimum: 0.1,
          maximum: 120,
          default: 15,
          description: 'Per-attempt timeout',
        }),
        streamHeartbeatSeconds: T.Number({
          minimum: 0.05,
          maximum: 300,
          default: 15,
          description: 'Live stream comment heartbeat interval',
        }),
        streamMaxBufferBytes: T.Integer({
          minimum: 1024,
          maximum: 67_108_864,
          default: 1_048_576,
          description: 'A live-stream client with more unsent bytes than this is dropped',
        }),
        streamMaxSubscribers: T.Integer({ minimum: 1, maximum: 100_000, default: 1000 }),
        streamMaxPerPrincipal: T.Integer({
          minimum: 1,
          maximum: 100_000,
          default: 10,
          description: 'Live streams one account or client may hold open at once (browser tabs)',
        }),
        streamMinSeverity: T.Union(
          ['info', 'low', 'medium', 'high', 'critical'].map((v) => T.Literal(v)),
          {
            default: 'info',
            description: 'Lowest alert severity sent on the live stream',
          },
        ),
        streamCategories: T.Array(T.Union(['security', 'clinical', 'technical'].map((v) => T.Literal(v))), {
          default: ['security', 'clinical', 'technical'],
          description:
            'Alert categories sent on the live stream (each subscriber still sees only what it may read)',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;

/** A loaded configuration together with where it came from. */
export interface LoadedConfig extends Config {
  /** Absolute path of the data directory. */
  readonly dataDir: string;
}
