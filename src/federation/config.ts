import { hostname } from 'node:os';
import { Type, type StaticDecode } from '@sinclair/typebox';
import type { ProblemReport } from '../config/load.js';
import { Duration, Size, strict, SecretString } from '../config/schema-parts.js';

const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' });

/**
 * Federated learning across gateways over the plant's MQTT broker (docs/federated.md): this gateway
 * as a participant of its kinds' federations, and optionally as the coordinator of some.
 */
export const FederationSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: false }),
    id: Type.String({ ...Id, default: 'plant', description: 'the federation: gateways with the same id and key learn together' }),
    client: Type.Optional(
      Type.String({ ...Id, description: "this gateway's name in the federation (its update topic); default: the host name" }),
    ),
    key: Type.Optional(
      SecretString({
        minLength: 32,
        description: 'shared signing key of the federation (HMAC-SHA256), at least 32 characters; VIGIL_FEDERATION_KEY',
      }),
    ),
    broker: Type.Object(
      {
        url: Type.Optional(
          Type.String({
            pattern: '^(mqtts?|wss?|tcp|ssl)://',
            description: "the plant's broker; default: mqtt.url (the embedded broker is local only)",
          }),
        ),
        username: Type.Optional(Type.String()),
        password: Type.Optional(SecretString()),
      },
      strict,
    ),
    prefix: Type.String({ minLength: 1, default: 'vigil/_federation', pattern: '^[^#+]+$' }),
    kinds: Type.Array(Id, { default: [], description: 'kinds to take part in; empty: every kind this gateway has machines of' }),
    participate: Type.Boolean({ default: true, description: 'train rounds from this gateway’s own store' }),
    maxMessageBytes: Size('16MiB', { description: 'largest federation message accepted (a model’s weights and header)' }),
    personalise: Type.Object(
      {
        enabled: Type.Boolean({
          default: false,
          description: 'fine-tune the federated model on local data before comparing it with the champion',
        }),
        epochs: Type.Integer({ minimum: 1, maximum: 200, default: 5 }),
      },
      strict,
    ),
    coordinator: Type.Object(
      {
        enabled: Type.Boolean({ default: false }),
        kinds: Type.Array(Id, { default: [], description: 'kinds this gateway coordinates (one coordinator per kind in the federation)' }),
        rounds: Type.Integer({
          minimum: 1,
          maximum: 1000,
          default: 24,
          description: 'training rounds of a federation (24 reach 1.10 × pooled on C-MAPSS: docs/federated.md)',
        }),
        minClients: Type.Integer({ minimum: 1, default: 2, description: 'updates a round needs to close; fewer and it is opened again' }),
        expectedClients: Type.Integer({
          minimum: 0,
          default: 0,
          description: 'close a step as soon as this many answered (0: at its deadline)',
        }),
        statsWindow: Duration('10m', { minimum: 1000, description: 'how long gateways have to send their statistics' }),
        roundWindow: Duration('1h', {
          minimum: 1000,
          description: 'deadline of a round: each gateway trains within it, in its own cheapest window',
        }),
        maxAttempts: Type.Integer({ minimum: 1, default: 3, description: 'times a step with too few answers is opened again' }),
        every: Duration('0s', { description: 'start a new federation this long after one ends (0: once per start)' }),
        aggregation: Type.Union([Type.Literal('fedavg'), Type.Literal('median'), Type.Literal('trimmed-mean')], { default: 'fedavg' }),
        trim: Type.Number({ minimum: 0, maximum: 0.45, default: 0.2, description: 'share cut from each end (trimmed-mean)' }),
        serverOptimizer: Type.Object(
          {
            kind: Type.Union([Type.Literal('none'), Type.Literal('momentum'), Type.Literal('adam'), Type.Literal('yogi')], {
              default: 'none',
              description:
                "what the global model makes of a round's aggregate update: none (FedAvg: moves by it), momentum (FedAvgM), adam (FedAdam) or yogi (FedYogi); docs/federated.md",
            }),
            learningRate: Type.Number({ exclusiveMinimum: 0, maximum: 10, default: 1, description: 'server learning rate η' }),
            beta1: Type.Number({ minimum: 0, exclusiveMaximum: 1, default: 0.9, description: 'momentum (β₁)' }),
            beta2: Type.Number({ minimum: 0, exclusiveMaximum: 1, default: 0.99, description: 'second-moment decay (adam, yogi)' }),
            tau: Type.Number({ exclusiveMinimum: 0, default: 1e-3, description: 'adaptivity floor τ (adam, yogi)' }),
          },
          strict,
        ),
        normFactor: Type.Number({
          exclusiveMinimum: 1,
          default: 10,
          description: 'refuse an update whose norm is over this many times the median',
        }),
        localEpochs: Type.Integer({ minimum: 1, maximum: 100, default: 2 }),
        mu: Type.Number({ minimum: 0, maximum: 100, default: 0, description: 'FedProx proximal weight (0: FedAvg)' }),
        privacy: Type.Object(
          {
            enabled: Type.Boolean({ default: false }),
            clipNorm: Type.Number({ exclusiveMinimum: 0, default: 1 }),
            noiseMultiplier: Type.Number({ minimum: 0, maximum: 100, default: 1 }),
            delta: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, default: 1e-5 }),
          },
          strict,
        ),
      },
      strict,
    ),
  },
  { ...strict, description: "federated learning with other gateways over the plant's broker (docs/federated.md)" },
);

export type FederationConfig = Omit<StaticDecode<typeof FederationSchema>, 'client'> & { client: string };

/** A gateway's name in its federation is its host name unless configured (the update topic's last level). */
export function resolveFederation(f: StaticDecode<typeof FederationSchema>): FederationConfig {
  return {
    ...f,
    client:
      f.client ??
      (hostname()
        .replace(/[^A-Za-z0-9_.:-]/g, '-')
        .slice(0, 64) ||
        'gateway'),
  };
}

export function checkFederation(f: StaticDecode<typeof FederationSchema>, mqttUrl: string | undefined, problem: ProblemReport): void {
  if (!f.enabled) return;
  if (!f.key) problem('federation.key', 'a federation needs its signing key (VIGIL_FEDERATION_KEY)');
  if (!f.broker.url && !mqttUrl)
    problem(
      'federation.broker.url',
      "a federation needs the plant's broker (federation.broker.url or mqtt.url): the embedded broker serves this gateway only",
    );
  if (f.coordinator.enabled && f.coordinator.kinds.length === 0)
    problem('federation.coordinator.kinds', 'name the kinds this gateway coordinates');
}
