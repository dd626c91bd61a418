import { Type, type StaticDecode } from '@sinclair/typebox';
import type { ProblemReport } from '../config/load.js';
import { Duration, strict, SecretString } from '../config/schema-parts.js';

const RangeRule = Type.Object(
  {
    sensor: Type.String({ minLength: 1 }),
    min: Type.Optional(Type.Number()),
    max: Type.Optional(Type.Number()),
    machines: Type.Optional(Type.String({ minLength: 1, description: 'regular expression on the machine id; all when absent' })),
  },
  { additionalProperties: false },
);

const EscalationStep = Type.Object(
  {
    after: Duration('30m', { minimum: 1, description: 'time since the alert opened' }),
    raiseTo: Type.Optional(Type.Literal('critical', { description: 'raise the severity' })),
    notify: Type.Array(Type.String({ pattern: '^(mqtt|webhook:[A-Za-z0-9_.-]+)$' }), {
      default: [],
      description: "channels told of the escalation (e.g. 'webhook:oncall', 'mqtt'); empty: every channel",
    }),
  },
  { additionalProperties: false },
);

export const AlertsSchema = Type.Object(
  {
    risk: Type.Object(
      {
        high: Type.Optional(
          Type.Number({ minimum: 0, maximum: 1, description: "open threshold; default: the champion's validation threshold" }),
        ),
        low: Type.Number({ minimum: 0, maximum: 1, default: 0.3, description: 'close threshold (hysteresis)' }),
        openAfter: Type.Integer({ minimum: 1, default: 3, description: 'consecutive scores at or above high' }),
        closeAfter: Type.Integer({ minimum: 1, default: 5, description: 'consecutive scores below low' }),
        criticalProbability: Type.Number({ minimum: 0, maximum: 1, default: 0.9 }),
        criticalRul: Type.Integer({ minimum: 0, default: 10, description: 'steps: an RUL at or below this is critical' }),
      },
      strict,
    ),
    anomaly: Type.Object(
      {
        criticalAfter: Duration('6h', {
          minimum: 1,
          description:
            'an anomaly alert becomes critical when health stays below its threshold this long (data time), or falls below half of it',
        }),
        topSensors: Type.Integer({
          minimum: 0,
          maximum: 20,
          default: 3,
          description: 'sensors its message names, those departing most first',
        }),
      },
      {
        ...strict,
        description:
          "anomaly alerts from the health model; when they open and close is the model's (health.openAfter, closeAfter, hysteresis)",
      },
    ),
    staleAfter: Duration('2m', { minimum: 1 }),
    sensorStaleAfter: Duration('5m', { minimum: 1 }),
    flatlineAfter: Duration('10m', { minimum: 1 }),
    flatlineMinReadings: Type.Integer({ minimum: 2, default: 10 }),
    ranges: Type.Array(RangeRule, { default: [] }),
    silentMachinesSummary: Type.Integer({
      minimum: 1,
      default: 25,
      description:
        'from this many silent machines on, one gateway alert (machines_silent) stands for them all instead of one machine_stale alert each',
    }),
    checkInterval: Duration('10s', { minimum: 10 }),
    escalation: Type.Object(
      {
        warning: Type.Array(EscalationStep, { default: [], maxItems: 10 }),
        critical: Type.Array(EscalationStep, { default: [], maxItems: 10 }),
      },
      {
        ...strict,
        description: 'per severity, steps an open alert nobody acknowledged takes (each once, in order); acknowledging stops them',
      },
    ),
  },
  { ...strict, description: 'when alerts open and close: failure risk, data quality, escalation' },
);

export const NotifySchema = Type.Object(
  {
    webhooks: Type.Array(
      Type.Object(
        {
          name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' }),
          url: Type.String({ pattern: '^https?://' }),
          secret: SecretString({ minLength: 16, description: 'HMAC-SHA256 key for the X-Vigil-Signature header' }),
          timeout: Duration('5s', { minimum: 1 }),
          escalationOnly: Type.Boolean({
            default: false,
            description: 'receive only escalations (a second channel: on-call, a shift lead), not every alert change',
          }),
        },
        { additionalProperties: false },
      ),
      { default: [] },
    ),
    retryInitial: Duration('2s', { minimum: 1 }),
    retryMax: Duration('10m', { minimum: 1 }),
    maxAttempts: Type.Integer({ minimum: 1, default: 10, description: 'then the delivery is dead (visible in the API)' }),
    mqtt: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        alertTopic: Type.String({ pattern: '\\{machine\\}', default: 'vigil/{site}/{line}/{machine}/alerts' }),
        statusTopic: Type.String({ minLength: 1, default: 'vigil/_gateway/status' }),
      },
      strict,
    ),
  },
  { ...strict, description: 'where alert changes go: webhooks (signed) and the MQTT alert topic' },
);

export type AlertsConfig = StaticDecode<typeof AlertsSchema>;
export type NotifyConfig = StaticDecode<typeof NotifySchema>;

export function checkAlerts(a: AlertsConfig, problem: ProblemReport): void {
  if (a.risk.high !== undefined && a.risk.low > a.risk.high) problem('alerts.risk.low', 'must not exceed alerts.risk.high');
}
