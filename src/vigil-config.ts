/**
 * The daemon's configuration, put together from the sections each stage owns beside its builder
 * (`<stage>/config.ts`: schema, defaults, descriptions, its rules across fields and how it resolves)
 * and the daemon-wide ones (config/schema.ts). Part of the composition root: the one place that
 * knows every stage. A secret is marked once, in its stage's schema; `config print`, problem reports
 * and the logger's redaction follow from that mark.
 */
import { Type, type StaticDecode } from '@sinclair/typebox';
import path from 'node:path';
import { AlertsSchema, NotifySchema, checkAlerts, type AlertsConfig, type NotifyConfig } from './alerts/index.js';
import { ApiSchema, HttpSchema, resolveApi, type ApiConfig, type HttpConfig } from './api/index.js';
import { configLoader, type ConfigLoader } from './config/load.js';
import {
  DataDirSchema,
  LogSchema,
  MachinesSchema,
  SensorsSchema,
  ShutdownSchema,
  type LogConfig,
  type MachinesConfig,
  type SensorsConfig,
} from './config/schema.js';
import { redactionPaths } from './config/secrets.js';
import { FederationSchema, checkFederation, resolveFederation, type FederationConfig } from './federation/index.js';
import { IngestSchema, MqttSchema, checkMqtt, resolveIngest, resolveMqtt, type IngestConfig, type MqttConfig } from './ingest/index.js';
import {
  JournalSchema,
  WriterSchema,
  checkJournal,
  resolveJournal,
  resolveWriter,
  type JournalConfig,
  type WriterConfig,
} from './journal/index.js';
import { ScheduleSchema, checkSchedule, resolveSchedule, type ScheduleConfig } from './scheduler/index.js';
import { ScoringSchema, type ScoringConfig } from './scoring/index.js';
import { StoreSchema, resolveStore, type StoreConfig } from './store/index.js';
import {
  HealthSchema,
  KindsSchema,
  LearningSchema,
  checkKinds,
  checkLearning,
  longestWindowMs,
  resolveLearning,
  type HealthConfig,
  type KindRecipes,
  type LearningConfig,
} from './training/index.js';

export const ConfigSchema = Type.Object(
  {
    dataDir: DataDirSchema,
    machines: MachinesSchema,
    sensors: SensorsSchema,
    log: LogSchema,
    mqtt: MqttSchema,
    ingest: IngestSchema,
    store: StoreSchema,
    journal: JournalSchema,
    writer: WriterSchema,
    learning: LearningSchema,
    health: HealthSchema,
    kinds: KindsSchema,
    http: HttpSchema,
    api: ApiSchema,
    scoring: ScoringSchema,
    alerts: AlertsSchema,
    notify: NotifySchema,
    schedule: ScheduleSchema,
    federation: FederationSchema,
    shutdown: ShutdownSchema,
  },
  { additionalProperties: false },
);

export type DecodedConfig = StaticDecode<typeof ConfigSchema>;

/** The validated config with every path made absolute and every default that comes from another setting filled in. */
export interface VigilConfig {
  dataDir: string;
  machines: MachinesConfig;
  sensors: SensorsConfig;
  log: LogConfig;
  mqtt: MqttConfig;
  ingest: IngestConfig;
  store: StoreConfig;
  journal: JournalConfig;
  writer: WriterConfig;
  learning: LearningConfig;
  health: HealthConfig;
  /** Each configured kind's own learning recipe; read through training's learningFor / healthFor. */
  kinds: KindRecipes;
  http: HttpConfig;
  api: ApiConfig;
  scoring: ScoringConfig;
  alerts: AlertsConfig;
  notify: NotifyConfig;
  schedule: ScheduleConfig;
  federation: FederationConfig;
  shutdown: DecodedConfig['shutdown'];
}

const vigilConfig: ConfigLoader<VigilConfig> = configLoader<DecodedConfig, VigilConfig>({
  schema: ConfigSchema,
  check(c, problem) {
    checkMqtt(c.mqtt, problem);
    checkJournal(c.journal, c.writer, problem);
    checkLearning(c.learning, problem);
    checkKinds(c, problem);
    checkSchedule(c.schedule, problem);
    checkAlerts(c.alerts, problem);
    checkFederation(c.federation, c.mqtt.url, problem);
  },
  resolve(c, cwd) {
    const dataDir = path.resolve(cwd, c.dataDir);
    return {
      ...c,
      dataDir,
      mqtt: resolveMqtt(c.mqtt, cwd),
      ingest: resolveIngest(c.ingest, longestWindowMs(c)),
      store: resolveStore(c.store, dataDir),
      journal: resolveJournal(c.journal, dataDir),
      writer: resolveWriter(c.writer, c.store.kind),
      learning: resolveLearning(c.learning, cwd),
      api: resolveApi(c.api, c.http),
      schedule: resolveSchedule(c.schedule, cwd),
      federation: resolveFederation(c.federation),
    };
  },
});

/** Reads the file (or none), applies `VIGIL_*`, validates and resolves. Throws VGL_CONFIG_* with every problem listed. */
export const loadConfig = (options?: Parameters<ConfigLoader<VigilConfig>['load']>[0]): VigilConfig => vigilConfig.load(options);

/** Validates an already-parsed config object (`vigil config check`, tests). */
export const validateConfig = (raw: unknown, ctx: { cwd: string; origin: string; sources?: Map<string, string> }): VigilConfig =>
  vigilConfig.validate(raw, ctx);

/** The effective config as `vigil config print` shows it: every secret masked, and credentials inside URLs. */
export const maskSecrets = (cfg: VigilConfig): Record<string, unknown> => vigilConfig.mask(cfg);

/** Log keys never written out: the names of the secret settings, and the HTTP ones. */
export const LOG_REDACTION = [
  ...redactionPaths(vigilConfig.secrets),
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
];
