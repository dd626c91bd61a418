import { Type, type StaticDecode } from '@sinclair/typebox';
import { Duration, OptionalDuration, OptionalSize, Port, Size, TopicPattern, strict } from './schema-parts.js';
import { KIND_NAME } from '../core/kinds.js';
import { ScheduleSchema } from './schema-schedule.js';
import { FederationSchema } from './schema-federation.js';
import { SparkplugSchema } from './schema-sparkplug.js';
import { AlertsSchema, ApiSchema, NotifySchema, ScoringSchema } from './schema-serving.js';

export const ConfigSchema = Type.Object(
  {
    dataDir: Type.String({ minLength: 1, default: './data', description: 'state, journal and the embedded SQLite store' }),
    machines: Type.Array(
      Type.Object(
        {
          match: Type.String({ minLength: 1, maxLength: 200, description: 'machine ids, as a glob: * any run of characters, ? one' }),
          kind: Type.String({
            pattern: KIND_NAME,
            description: "the kind those machines are (one model per kind); names starting 'auto-' are for inferred kinds",
          }),
        },
        strict,
      ),
      {
        default: [],
        maxItems: 1000,
        description: 'machine kinds by machine id, first match wins; a machine no pattern matches is of the kind its sensor set infers',
      },
    ),
    sensors: Type.Object(
      {
        units: Type.Record(Type.String({ minLength: 1, maxLength: 64 }), Type.String({ minLength: 1, maxLength: 32 }), {
          default: {},
          description: 'sensor → unit shown on the page\'s axes (e.g. {"T24": "°R"}); Sparkplug BIRTH units take over for their machines',
        }),
      },
      strict,
    ),
    log: Type.Object(
      {
        level: Type.Union(
          ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
          { default: 'info' },
        ),
      },
      strict,
    ),
    mqtt: Type.Object(
      {
        url: Type.Optional(Type.String({ pattern: '^(mqtts?|wss?|tcp|ssl)://', description: 'external broker; absent = embedded broker' })),
        embedded: Type.Object(
          {
            host: Type.String({ default: '127.0.0.1' }),
            port: Port(1883),
            users: Type.Array(
              Type.Object(
                {
                  username: Type.String({ minLength: 1, maxLength: 128, pattern: '^[^$]' }),
                  passwordHash: Type.String({
                    pattern: '^scrypt\\$\\d+\\$\\d+\\$\\d+\\$[A-Za-z0-9_-]+\\$[A-Za-z0-9_-]+$',
                    description: 'scrypt hash as `vigil mqtt-user create` prints it',
                  }),
                  publish: Type.Optional(
                    Type.Array(Type.String({ minLength: 1 }), {
                      description: 'topic filters this user may publish to; absent: any but Vigil’s own output topics',
                    }),
                  ),
                  subscribe: Type.Optional(
                    Type.Array(Type.String({ minLength: 1 }), { description: 'topic filters this user may subscribe to; absent: any' }),
                  ),
                },
                { additionalProperties: false },
              ),
              { default: [] },
            ),
            allowAnonymous: Type.Boolean({ default: false, description: 'clients without a user name, from loopback addresses only' }),
            maxPacketBytes: Size('1MiB', { description: 'a bigger MQTT packet drops its connection before it is read' }),
            preLogin: Type.Object(
              {
                maxConnectBytes: Size('16KiB', {
                  description: 'largest packet (the CONNECT: ids, credentials, will) a client may send before it has logged in',
                }),
                maxConnections: Type.Integer({ minimum: 1, default: 128, description: 'connections not logged in yet, overall' }),
                maxPerAddress: Type.Integer({ minimum: 1, default: 32, description: 'connections not logged in yet, per source address' }),
                timeout: Duration('10s', { minimum: 100, description: 'a connection that has not logged in by then is closed' }),
              },
              strict,
            ),
            logins: Type.Object(
              {
                concurrency: Type.Integer({
                  minimum: 1,
                  maximum: 16,
                  default: 1,
                  description: 'password checks (scrypt) under way at once, each on a thread of its own that keeps about 40 MB',
                }),
                maxQueued: Type.Integer({
                  minimum: 0,
                  default: 32,
                  description: 'password checks waiting; beyond, a login is refused as busy (CONNACK 3) and the client retries',
                }),
              },
              strict,
            ),
            retained: Type.Object(
              {
                maxMessages: Type.Integer({
                  minimum: 0,
                  default: 1000,
                  description: 'topics other clients may keep a retained message on',
                }),
                maxBytes: Size('64KiB', { description: 'largest retained message of another client' }),
              },
              strict,
            ),
          },
          strict,
        ),
        clientId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
        username: Type.Optional(Type.String()),
        password: Type.Optional(Type.String()),
        tls: Type.Object(
          {
            ca: Type.Optional(Type.String({ description: 'path to a PEM CA bundle' })),
            cert: Type.Optional(Type.String({ description: 'path to a PEM client certificate' })),
            key: Type.Optional(Type.String({ description: 'path to the PEM key of the client certificate' })),
            rejectUnauthorized: Type.Boolean({ default: true }),
          },
          strict,
        ),
        qos: Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(2)], { default: 1 }),
        keepalive: Type.Integer({ minimum: 0, maximum: 65535, default: 30, description: 'seconds' }),
        reconnectMin: Duration('1s', { minimum: 1 }),
        reconnectMax: Duration('30s', { minimum: 1 }),
        topics: Type.Object(
          {
            telemetry: Type.Array(TopicPattern, { minItems: 1, default: ['vigil/{site}/{line}/{machine}/telemetry'] }),
            events: Type.Array(TopicPattern, { default: ['vigil/{site}/{line}/{machine}/events'] }),
          },
          strict,
        ),
        format: Type.Union([Type.Literal('auto'), Type.Literal('json'), Type.Literal('line')], { default: 'auto' }),
        sparkplug: SparkplugSchema,
      },
      strict,
    ),
    ingest: Type.Object(
      {
        maxPayloadBytes: Size('256KiB'),
        maxFutureSkew: Duration('5m'),
        maxAge: Duration('3650d'),
        allowMachines: Type.Array(Type.String({ minLength: 1 }), {
          default: [],
          description: 'machine ids accepted; empty accepts any',
        }),
        maxMachines: Type.Integer({
          minimum: 1,
          default: 10_000,
          description:
            'machines scored and watched for data quality (the first seen since start); readings of others are stored only, counted and dead-lettered as machine_limit',
        }),
        maxSensorsPerMachine: Type.Integer({
          minimum: 1,
          maximum: 10_000,
          default: 1000,
          description: 'sensors per machine that scoring and data quality keep state for; further ones are stored only',
        }),
        backfillAge: OptionalDuration(
          'readings and events stamped more than this before they arrive are backfill: stored and learned from, but never stale or missed-failure alerts, and never risk alerts; default: the scoring window (learning.window × learning.step)',
        ),
        lineProtocolPrecision: Type.Union([Type.Literal('ns'), Type.Literal('us'), Type.Literal('ms'), Type.Literal('s')], {
          default: 'ns',
        }),
        deadLetterLimit: Type.Integer({ minimum: 0, default: 1000 }),
        fastPath: Type.Union([Type.Literal('auto'), Type.Literal('off')], {
          default: 'auto',
          description:
            "Vigil's own PUBLISH framing/acknowledgement path and JSON reader (ingest/fastpath/); 'off' leaves every packet to mqtt.js and every payload to JSON.parse (slower, same results)",
        }),
      },
      strict,
    ),
    store: Type.Object(
      {
        kind: Type.Union([Type.Literal('sqlite'), Type.Literal('influx')], { default: 'sqlite' }),
        sqlite: Type.Object(
          {
            path: Type.Optional(Type.String({ minLength: 1 })),
            busyTimeout: Duration('1s', {
              minimum: 1,
              description: "how long a write waits for another process's lock on the database before the writer backs off and retries",
            }),
          },
          strict,
        ),
        influx: Type.Object(
          {
            url: Type.String({ pattern: '^https?://', default: 'http://127.0.0.1:8086' }),
            database: Type.String({ minLength: 1, default: 'vigil' }),
            username: Type.Optional(Type.String()),
            password: Type.Optional(Type.String()),
            retentionPolicy: Type.Optional(Type.String({ minLength: 1 })),
            timeout: Duration('10s', { minimum: 1 }),
          },
          strict,
        ),
      },
      strict,
    ),
    journal: Type.Object(
      {
        dir: Type.Optional(Type.String({ minLength: 1 })),
        maxBytes: Size('512MiB'),
        segmentBytes: Size('8MiB'),
        fsyncInterval: Duration('100ms'),
      },
      strict,
    ),
    writer: Type.Object(
      {
        batchSize: Type.Integer({ minimum: 1, default: 5000, description: 'samples per store commit' }),
        flushInterval: Duration('200ms', { minimum: 1 }),
        maxPendingSamples: Type.Integer({
          minimum: 1,
          default: 20_000,
          description:
            'samples held in memory for a store that takes objects (none built in: both queue their wire form, budgeted by maxPendingBytes)',
        }),
        maxPendingBytes: OptionalSize(
          "memory for samples waiting for the store in its wire form (InfluxDB's line protocol, SQLite's binary batches); beyond it the backlog is read back from the journal and decoded a second time. Default 32MiB for InfluxDB, whose commits are network round trips; 8MiB for SQLite, a commit away in its own thread",
        ),
        retryInitial: Duration('500ms', { minimum: 1 }),
        retryMax: Duration('10s', { minimum: 1 }),
      },
      strict,
    ),
    learning: Type.Object(
      {
        modelsDir: Type.String({ minLength: 1, default: './models', description: 'model registry directory' }),
        backend: Type.Union(
          ['auto', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'].map((b) => Type.Literal(b)),
          { default: 'auto' },
        ),
        lstmKernel: Type.Union(
          ['auto', 'fast', 'stock'].map((b) => Type.Literal(b)),
          {
            default: 'auto',
            description: "fused WebAssembly SIMD LSTM kernels (fast), tfjs's own layer (stock), or fast where they load (auto)",
          },
        ),
        kernelThreads: Type.Integer({
          minimum: 0,
          maximum: 16,
          default: 0,
          description: 'threads per LSTM kernel call; 0 = one per core, at most 8 for training and 4 for scoring',
        }),
        step: Duration('1m', { minimum: 1 }),
        window: Type.Integer({ minimum: 2, maximum: 1000, default: 50, description: 'steps per input window' }),
        stride: Type.Integer({ minimum: 1, default: 1, description: 'steps between training windows' }),
        horizon: Type.Integer({ minimum: 1, default: 30, description: 'steps: positive when a failure follows within this' }),
        rulCap: Type.Integer({ minimum: 1, default: 125, description: 'steps: RUL targets are capped here' }),
        maxGapSteps: Type.Integer({ minimum: 0, default: 5, description: 'longer gaps break a sequence' }),
        lookback: Duration('90d', { minimum: 1 }),
        sensors: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'sensors to learn from; empty = all' }),
        conditions: Type.Array(Type.String({ minLength: 1 }), {
          default: [],
          description:
            'condition channels (load, speed, setpoint, ambient, …): their clusters are operating regimes; each sensor is normalised per regime and the regime is an input',
        }),
        regimes: Type.Object(
          {
            count: Type.Union([Type.Literal('auto'), Type.Integer({ minimum: 1, maximum: 32 })], {
              default: 'auto',
              description:
                "a fixed number of regimes, or 'auto': the smallest k up to maxCount whose clusters explain minExplained of the conditions' variance (else one)",
            }),
            maxCount: Type.Integer({ minimum: 2, maximum: 32, default: 10 }),
            minExplained: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.99 }),
          },
          strict,
        ),
        validationFraction: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.2 }),
        positiveShare: Type.Number({
          minimum: 0,
          exclusiveMaximum: 1,
          default: 0.3,
          description: 'oversample failure windows to this share',
        }),
        minValidationFailures: Type.Integer({
          minimum: 1,
          default: 3,
          description: 'failures the validation machines must hold before a model can be promoted: fewer leave its metrics unmeasured',
        }),
        transfer: Type.Object(
          {
            enabled: Type.Boolean({
              default: true,
              description: "a kind's first model starts from the champion of the kind sharing the most sensors with it",
            }),
            minSharedSensors: Type.Number({ minimum: 0, maximum: 1, default: 0.5, description: 'share of its sensors a source must have' }),
            learningRateFactor: Type.Number({
              exclusiveMinimum: 0,
              maximum: 1,
              default: 1,
              description:
                'fine-tuning learning rate, as a share of learning.model.learningRate (1 chosen on C-MAPSS validation: docs/predictor.md)',
            }),
            minValidationFailures: Type.Integer({
              minimum: 1,
              default: 1,
              description:
                'failures a transferred model needs in validation (it must also beat its source unchanged on them): fewer than a model from scratch, since it starts from a measured one',
            }),
          },
          strict,
        ),
        retain: Type.Integer({ minimum: 1, default: 10, description: 'model versions kept (the champion always)' }),
        workerHeapMb: Type.Integer({ minimum: 64, default: 2048, description: "heap of the training worker, apart from the daemon's own" }),
        model: Type.Object(
          {
            units: Type.Array(Type.Integer({ minimum: 1, maximum: 1024 }), { minItems: 1, maxItems: 4, default: [64, 32] }),
            dropout: Type.Number({ minimum: 0, maximum: 0.9, default: 0.2 }),
            learningRate: Type.Number({ exclusiveMinimum: 0, default: 0.002 }),
            batchSize: Type.Integer({ minimum: 1, default: 256 }),
            epochs: Type.Integer({ minimum: 1, default: 30 }),
            patience: Type.Integer({ minimum: 1, default: 5, description: 'epochs without validation improvement before stopping' }),
            monitor: Type.Union([Type.Literal('metrics'), Type.Literal('loss')], {
              default: 'metrics',
              description: 'early stopping on validation RUL RMSE + PR-AUC (metrics) or on validation loss',
            }),
            seed: Type.Integer({ minimum: 0, default: 1 }),
            members: Type.Integer({
              minimum: 1,
              maximum: 16,
              default: 5,
              description:
                'models trained from different seeds and averaged (an ensemble): steadier and more accurate, at that many times the training time',
            }),
            warmStart: Type.Boolean({
              default: true,
              description: "fine-tune from the champion's weights when the features are unchanged",
            }),
          },
          strict,
        ),
      },
      strict,
    ),
    http: Type.Object({ host: Type.String({ default: '127.0.0.1' }), port: Port(8080) }, strict),
    api: ApiSchema,
    scoring: ScoringSchema,
    alerts: AlertsSchema,
    notify: NotifySchema,
    schedule: ScheduleSchema,
    federation: FederationSchema,
    shutdown: Type.Object({ timeout: Duration('15s', { minimum: 1 }) }, strict),
  },
  { additionalProperties: false },
);

export type DecodedConfig = StaticDecode<typeof ConfigSchema>;

/** The validated config with every path made absolute. */
export type LearningConfig = DecodedConfig['learning'];

export type VigilConfig = DecodedConfig & {
  store: DecodedConfig['store'] & { sqlite: DecodedConfig['store']['sqlite'] & { path: string } };
  journal: DecodedConfig['journal'] & { dir: string };
  mqtt: DecodedConfig['mqtt'] & { clientId: string };
  api: DecodedConfig['api'] & { anonymousRead: boolean };
  ingest: DecodedConfig['ingest'] & { backfillAge: number };
  writer: DecodedConfig['writer'] & { maxPendingBytes: number };
};
