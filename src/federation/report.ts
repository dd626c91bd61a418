import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { labelled, stageReport, type StageReport } from '../core/stage-report.js';
import type { RoundRecord } from './coordinator.js';
import type { FederationGateway } from './gateway.js';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);
const iso = (t: number) => new Date(t).toISOString();

const Metrics = Type.Union([
  Type.Object({ trainLoss: Type.Number(), validationRmse: NullableNumber, validationPrAuc: NullableNumber }),
  Type.Null(),
]);
const Counters = Type.Object({
  rounds: Type.Object({ aggregated: Type.Integer(), tooFew: Type.Integer(), failed: Type.Integer() }),
  accepted: Type.Integer({ description: 'plans, statistics and updates accepted' }),
  refused: Type.Record(Type.String(), Type.Integer(), { description: 'messages refused, by reason' }),
  bytesIn: Type.Integer(),
  bytesOut: Type.Integer(),
});
const Round = Type.Object({
  round: Type.Integer(),
  attempt: Type.Integer(),
  outcome: Type.String({ description: 'aggregated, too-few (opened again) or statistics' }),
  openedAt: Type.String(),
  closedAt: Type.String(),
  clients: Type.Array(Type.String()),
  stragglers: Type.Array(Type.String({ description: 'took part before, sent nothing usable this round' })),
  refused: Type.Array(Type.Object({ client: Type.String(), reason: Type.String(), detail: Type.String() })),
  bytesIn: Type.Integer(),
  bytesOut: Type.Integer(),
  updateNorm: NullableNumber,
  metrics: Metrics,
  epsilon: Type.Union([Type.Number({ description: '(ε, δ) privacy loss so far, with updates clipped and noised' }), Type.Null()]),
});
const Coordinated = Type.Object({
  kind: Type.String(),
  session: Type.String(),
  sessions: Type.Integer({ description: 'federations of this kind run since start' }),
  phase: Type.String({ description: 'stats, round, done, failed or stopped' }),
  round: Type.Integer(),
  rounds: Type.Integer(),
  participants: Type.Array(Type.String()),
  aggregation: Type.String(),
  mu: Type.Number(),
  privacy: Type.Union([Type.Object({ clipNorm: Type.Number(), noiseMultiplier: Type.Number() }), Type.Null()]),
  lastRound: Type.Union([Round, Type.Null()]),
});
const Participating = Type.Object({
  kind: Type.String(),
  session: Type.String(),
  task: Type.String({ description: 'what the coordinator asks now: stats, round or final' }),
  round: Type.Integer(),
  rounds: Type.Integer(),
  deadline: Type.String(),
  last: Type.String({ description: 'what this gateway did last, in words' }),
  lastAt: Type.String(),
  updatesSent: Type.Integer(),
  lateOrMissed: Type.Integer(),
  adoption: Type.Union([
    Type.Object({
      version: Nullable(Type.String()),
      promoted: Type.Boolean(),
      reason: Type.String(),
      round: Type.Integer(),
      clients: Type.Array(Type.String()),
    }),
    Type.Null(),
  ]),
  metrics: Metrics,
});

export const federationFields = {
  enabled: Type.Boolean(),
  id: Nullable(Type.String({ description: 'the federation' })),
  client: Nullable(Type.String({ description: "this gateway's name in it" })),
  broker: Type.Object({ url: Nullable(Type.String()), connected: Type.Boolean(), lastError: Nullable(Type.String()) }),
  participating: Type.Array(Participating),
  coordinating: Type.Array(Coordinated),
  counters: Counters,
};
export const FederationStatusSchema = Type.Object(federationFields);
export type FederationStatus = Static<typeof FederationStatusSchema>;

/** The federation API's view: the status plus each coordinated kind's recent rounds. */
export const FederationViewSchema = Type.Object({
  ...federationFields,
  history: Type.Record(Type.String(), Type.Array(Round), { description: 'recent steps of each coordinated kind, oldest first' }),
});
export type FederationView = Static<typeof FederationViewSchema>;

const round = (r: RoundRecord): Static<typeof Round> => ({
  ...r,
  metrics: r.metrics ?? null,
  openedAt: iso(r.openedAt),
  closedAt: iso(r.closedAt),
});
const NO_COUNTERS = { rounds: { aggregated: 0, tooFew: 0, failed: 0 }, accepted: 0, refused: {}, bytesIn: 0, bytesOut: 0 };

export function federationView(g: FederationGateway | null): FederationView {
  if (!g)
    return {
      enabled: false,
      id: null,
      client: null,
      broker: { url: null, connected: false, lastError: null },
      participating: [],
      coordinating: [],
      counters: NO_COUNTERS,
      history: {},
    };
  const coordinating: FederationStatus['coordinating'] = [];
  const history: FederationView['history'] = {};
  for (const [kind, c] of g.coordinated) {
    if (!c.current) continue;
    const s = c.current.summary();
    coordinating.push({
      kind,
      session: s.session,
      sessions: c.sessions,
      phase: s.phase,
      round: s.round,
      rounds: s.rounds,
      participants: s.participants,
      aggregation: s.aggregation,
      mu: s.mu,
      privacy: s.privacy,
      lastRound: s.lastRound && round(s.lastRound),
    });
    history[kind] = s.history.map(round);
  }
  const participating = [...(g.participant?.kinds.values() ?? [])].map((k) => ({
    ...k,
    metrics: k.metrics ?? null,
    deadline: iso(k.deadline),
    lastAt: iso(k.lastAt),
  }));
  return {
    enabled: true,
    id: g.o.federation,
    client: g.o.client,
    broker: { url: g.o.brokerUrl, connected: g.connected, lastError: g.lastError },
    participating,
    coordinating,
    counters: g.counters(),
    history,
  };
}

/** The `federation` status section and its Prometheus counters. */
export function federationReport(g: FederationGateway | null): StageReport<typeof federationFields> {
  const counters = () => (g ? g.counters() : NO_COUNTERS);
  return stageReport({
    section: 'federation',
    fields: federationFields,
    read: () => {
      // The status section leaves the round history to /api/v1/federation.
      const { history: _history, ...status } = federationView(g);
      return status;
    },
    metrics: [
      {
        name: 'vigil_federation_rounds_total',
        help: 'federated rounds this gateway coordinated, by outcome',
        type: 'counter',
        labelNames: ['outcome'],
        read: () => {
          const r = counters().rounds;
          return labelled('outcome', { aggregated: r.aggregated, too_few: r.tooFew, failed: r.failed });
        },
      },
      {
        name: 'vigil_federation_messages_accepted_total',
        help: 'federation plans, statistics and updates accepted',
        type: 'counter',
        read: () => counters().accepted,
      },
      {
        name: 'vigil_federation_messages_refused_total',
        help: 'federation messages refused, by reason',
        type: 'counter',
        labelNames: ['reason'],
        read: () => labelled('reason', counters().refused),
      },
      {
        name: 'vigil_federation_bytes_total',
        help: 'federation bytes received and sent',
        type: 'counter',
        labelNames: ['direction'],
        read: () => labelled('direction', { in: counters().bytesIn, out: counters().bytesOut }),
      },
    ],
  });
}
