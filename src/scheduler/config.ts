import path from 'node:path';
import { Type, type StaticDecode } from '@sinclair/typebox';
import cron from 'node-cron';
import type { ProblemReport } from '../config/load.js';
import type { MachinesConfig } from '../config/schema.js';
import type { HealthConfig, KindRecipes, LearningConfig } from '../training/index.js';
import { Duration, strict, SecretString } from '../config/schema-parts.js';

const Days = Type.Array(Type.Union(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => Type.Literal(d))), {
  minItems: 1,
  default: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
});
const HourMinute = Type.String({ pattern: '^([01]\\d|2[0-3]):[0-5]\\d$|^24:00$', description: 'HH:MM local time' });

/** When and whether to retrain, weighing carbon, price, host load, battery and an energy budget. */
export const ScheduleSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    cron: Type.String({
      minLength: 9,
      default: '*/10 * * * *',
      description: 'node-cron expression (5 fields, or 6 with seconds) for the policy tick',
    }),
    timezone: Type.String({ minLength: 1, default: 'UTC', description: 'IANA zone for the cron expression, tariff and busy calendar' }),
    objective: Type.Union([Type.Literal('carbon'), Type.Literal('price'), Type.Literal('weighted')], { default: 'carbon' }),
    weights: Type.Object({ carbon: Type.Number({ minimum: 0, default: 0.5 }), price: Type.Number({ minimum: 0, default: 0.5 }) }, strict),
    tolerance: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 0.02,
      description: 'start now when now costs at most this much more than the best window',
    }),
    expectedRun: Duration('30m', { minimum: 1000 }),
    maxDelay: Duration('24h', { minimum: 60_000 }),
    maxModelAge: Duration('30d', { minimum: 60_000 }),
    need: Type.Object(
      {
        minFailures: Type.Integer({ minimum: 1, default: 3, description: 'labelled failures before the first model' }),
        minNewFailures: Type.Integer({ minimum: 0, default: 1, description: 'new failures since the last run that justify another' }),
        minInterval: Duration('6h', { minimum: 0 }),
        driftThreshold: Type.Number({
          exclusiveMinimum: 0,
          default: 0.5,
          description: 'mean shift of recent data, in training standard deviations, that justifies a run',
        }),
        driftWindow: Duration('24h', { minimum: 60_000 }),
      },
      strict,
    ),
    idle: Type.Object(
      {
        maxCpu: Type.Number({ minimum: 0, maximum: 1, default: 0.7, description: 'CPU utilisation above which the host is busy' }),
        maxLoadPerCore: Type.Number({ minimum: 0, default: 1.5 }),
        maxGpu: Type.Number({ minimum: 0, maximum: 100, default: 50, description: 'GPU utilisation % (nvidia-smi)' }),
      },
      strict,
    ),
    plantBusy: Type.Object(
      {
        topic: Type.Optional(Type.String({ minLength: 1, description: 'MQTT topic carrying the plant busy flag' })),
        ttl: Duration('10m', { minimum: 1000 }),
        calendar: Type.Array(Type.Object({ days: Days, from: HourMinute, to: HourMinute }, { additionalProperties: false }), {
          default: [],
          description: 'busy shifts: runs that would overlap them wait',
        }),
      },
      strict,
    ),
    deferOnBattery: Type.Boolean({ default: true }),
    budget: Type.Object(
      {
        period: Type.Union([Type.Literal('day'), Type.Literal('week')], { default: 'day' }),
        limitKWh: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
      },
      strict,
    ),
    carbon: Type.Object(
      {
        file: Type.Optional(Type.String({ minLength: 1, description: 'CSV (Time,Carbon Intensity) or JSON series' })),
        url: Type.Optional(Type.String({ pattern: '^https?://', description: 'Carbon Aware SDK forecast or a {timestamp, value} list' })),
        headers: Type.Record(Type.String(), SecretString(), {
          default: {},
          description: 'sent with each request (e.g. authorization); printed masked',
        }),
        refresh: Duration('30m', { minimum: 1000 }),
        fallbackIntensity: Type.Number({ minimum: 0, default: 400, description: 'gCO2e/kWh when no series covers a run' }),
      },
      strict,
    ),
    tariff: Type.Object(
      {
        currency: Type.String({ minLength: 1, default: 'EUR' }),
        defaultPrice: Type.Number({ minimum: 0, default: 0.25, description: 'per kWh outside every period' }),
        periods: Type.Array(
          Type.Object(
            { days: Days, from: HourMinute, to: HourMinute, price: Type.Number({ minimum: 0 }) },
            { additionalProperties: false },
          ),
          { default: [] },
        ),
      },
      strict,
    ),
    energy: Type.Object(
      {
        wattsPerCore: Type.Number({ exclusiveMinimum: 0, default: 12, description: 'for the CPU-time estimate when no meter is readable' }),
        raplDir: Type.String({ default: '/sys/class/powercap' }),
        powerSupplyDir: Type.String({ default: '/sys/class/power_supply' }),
        gpu: Type.Union([Type.Literal('auto'), Type.Literal('off')], {
          default: 'auto',
          description: 'measure GPU energy with nvidia-smi when present',
        }),
      },
      strict,
    ),
  },
  { ...strict, description: "when to retrain: the energy policy's tick, carbon and price sources, host load, budget and deadlines" },
);

export type ScheduleConfig = StaticDecode<typeof ScheduleSchema>;

/** What the scheduler reads of the config: its own section, and the learning settings and kinds it weighs a run's need by. */
export interface SchedulerSections {
  schedule: ScheduleConfig;
  learning: LearningConfig;
  health: HealthConfig;
  kinds: KindRecipes;
  machines: MachinesConfig;
}

/** The carbon file relative to the working directory. */
export function resolveSchedule(s: ScheduleConfig, cwd: string): ScheduleConfig {
  return { ...s, carbon: { ...s.carbon, file: s.carbon.file && path.resolve(cwd, s.carbon.file) } };
}

export function checkSchedule(s: ScheduleConfig, problem: ProblemReport): void {
  if (!cron.validate(s.cron)) problem('schedule.cron', `not a cron expression: ${JSON.stringify(s.cron)}`);
  if (!validTimezone(s.timezone)) problem('schedule.timezone', `not an IANA time zone: ${JSON.stringify(s.timezone)}`);
  if (s.carbon.file && s.carbon.url) problem('schedule.carbon', 'give either file or url, not both');
}

function validTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
