/**
 * The coordinator of one kind's federation: statistics first (round 0), then `rounds` rounds of
 * local training and aggregation, then the final model, each step a retained plan on the broker.
 * A step closes at its deadline with whatever arrived (or as soon as every participant answered);
 * with fewer than `minClients` usable answers it is opened again, so a straggler or a dead gateway
 * never blocks the federation. Every refused message is counted with its reason; none can stop it.
 */
import { randomBytes } from 'node:crypto';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { aggregate, l2, screenUpdates, type Aggregation, type ClientUpdate } from './aggregate.js';
import {
  topics,
  type FederationHeader,
  type ModelShape,
  type Plan,
  type RoundParams,
  type Stats,
  type Update,
  type WeightLayout,
} from './messages.js';
import { privacyLoss } from './privacy.js';
import { mergeMoments, momentsProblem, normalisationFromMoments } from './stats.js';
import type { FederationTransport } from './transport.js';
import { FederationCounters } from './counters.js';
import { FrameVerifier } from './frame-verifier.js';
import { encodeFrame, FrameError, inspectFrame, type RefusalReason } from './wire.js';
import { ServerOptimizer, type ServerOptimizerOptions } from './server-optimizer.js';
import type { Normalisation } from '../features/index.js';

const NO_SERVER_OPTIMIZER: ServerOptimizerOptions = { kind: 'none', learningRate: 1, beta1: 0.9, beta2: 0.99, tau: 1e-3 };

export interface CoordinatorOptions {
  federation: string;
  kind: string;
  prefix: string;
  key: Buffer;
  rounds: number;
  minClients: number;
  /** Close a step early once this many gateways answered (0: wait for the deadline). */
  expectedClients: number;
  statsWindowMs: number;
  roundWindowMs: number;
  /** How often a step that got too few answers is opened again before the federation gives up. */
  maxAttempts: number;
  params: RoundParams;
  shape: ModelShape;
  aggregation: Aggregation;
  trim: number;
  /** What the global model makes of each round's aggregate update (server-optimizer.ts); absent: FedAvg. */
  serverOptimizer?: ServerOptimizerOptions;
  normFactor: number;
  maxMessageBytes: number;
  privacyDelta: number;
  /** After each aggregated round: the new global weights (not to be kept: they change in place next round). */
  onAggregated?: (round: number, global: Float32Array) => void;
  /** Builds the initial global model for the normalisation found (its layout and weights). */
  initialModel(plan: Plan): Promise<{ layout: WeightLayout; values: Float32Array }>;
}

export interface RoundRecord {
  round: number;
  attempt: number;
  openedAt: number;
  closedAt: number;
  outcome: 'aggregated' | 'too-few' | 'statistics';
  clients: string[];
  stragglers: string[];
  refused: Array<{ client: string; reason: RefusalReason; detail: string }>;
  bytesIn: number;
  bytesOut: number;
  updateNorm: number | null;
  metrics: Plan['metrics'] | null;
  epsilon: number | null;
}

export type CoordinatorPhase = 'stats' | 'round' | 'done' | 'failed' | 'stopped';

export class FederationCoordinator {
  readonly counters = new FederationCounters();
  readonly history: RoundRecord[] = [];
  phase: CoordinatorPhase = 'stats';
  round = 0;
  session = '';
  private attempt = 1;
  private participants = new Set<string>();
  private stats = new Map<string, Stats>();
  private updates = new Map<string, { header: Update; delta: Float32Array }>();
  private refused: RoundRecord['refused'] = [];
  private global: Float32Array | null = null;
  private server = new ServerOptimizer(NO_SERVER_OPTIMIZER);
  private layout: WeightLayout | null = null;
  private normalisation: Normalisation | null = null;
  private sensors: string[] = [];
  private contributors = new Set<string>();
  private timer: TimerHandle = undefined;
  private readonly unsubscribe: Array<() => void> = [];
  private openedAt = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  private lastMetrics: Plan['metrics'] | undefined;
  private finished: { resolve: (phase: CoordinatorPhase) => void; promise: Promise<CoordinatorPhase> };
  private readonly verifier: FrameVerifier;

  constructor(
    private readonly o: CoordinatorOptions,
    private readonly transport: FederationTransport,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.verifier = new FrameVerifier(o.key, 2 * o.maxMessageBytes);
    let resolve!: (phase: CoordinatorPhase) => void;
    const promise = new Promise<CoordinatorPhase>((r) => (resolve = r));
    this.finished = { resolve, promise };
  }

  /** Messages waiting for or under verification (off the event loop). */
  get verifying(): number {
    return this.verifier.pending;
  }

  /** Messages hashed so far: those the cheap checks refused never are. */
  get framesHashed(): number {
    return this.verifier.hashed;
  }

  /** Settles when the federation is done, failed or stopped. */
  get done(): Promise<CoordinatorPhase> {
    return this.finished.promise;
  }

  async start(): Promise<void> {
    this.session = `${this.clock.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    const base = `${this.o.prefix}/${this.o.federation}/${this.o.kind}`;
    this.unsubscribe.push(
      await this.transport.subscribe(`${base}/stats/+`, (topic, payload) => this.receive('stats', topic, payload)),
      await this.transport.subscribe(`${base}/update/+`, (topic, payload) => this.receive('update', topic, payload)),
    );
    await this.openStats();
  }

  async stop(): Promise<void> {
    this.clock.clearTimeout(this.timer);
    if (this.phase === 'stats' || this.phase === 'round') this.finish('stopped');
    await this.verifier.close();
  }

  private finish(phase: CoordinatorPhase): void {
    this.phase = phase;
    void this.verifier.close();
    // A federation that ended no longer listens: the next one (a new session) does.
    for (const off of this.unsubscribe.splice(0)) off();
    this.finished.resolve(phase);
  }

  private async openStats(): Promise<void> {
    this.phase = 'stats';
    this.round = 0;
    this.stats.clear();
    await this.publishPlan('stats', null, this.o.statsWindowMs);
  }

  private async openRound(round: number): Promise<void> {
    this.phase = 'round';
    this.round = round;
    this.updates.clear();
    await this.publishPlan('round', this.global, this.o.roundWindowMs);
  }

  private async publishPlan(task: Plan['task'], body: Float32Array | null, windowMs: number): Promise<void> {
    const now = this.clock.now();
    this.openedAt = now;
    this.refused = [];
    this.bytesIn = 0;
    const plan: Plan = {
      type: 'plan',
      federation: this.o.federation,
      kind: this.o.kind,
      session: this.session,
      task,
      round: this.round,
      rounds: this.o.rounds,
      issuedAt: now,
      deadline: now + windowMs,
      params: this.o.params,
      shape: this.o.shape,
      sensors: this.sensors,
      ...(this.normalisation ? { normalisation: this.normalisation } : {}),
      ...(this.layout ? { layout: this.layout } : {}),
      clients: [...this.contributors].sort(),
      ...(this.lastMetrics ? { metrics: this.lastMetrics } : {}),
    };
    const frame = encodeFrame(plan, body, this.o.key);
    this.bytesOut = frame.length;
    this.counters.bytesOut += frame.length;
    await this.transport.publish(topics.plan(this.o.prefix, this.o.federation, this.o.kind), frame, { retain: true });
    this.log.info(
      { kind: this.o.kind, task, round: this.round, attempt: this.attempt, deadline: plan.deadline },
      'federation plan published',
    );
    if (task === 'final') return;
    this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => void this.close(), windowMs);
  }

  private refuse(client: string, reason: RefusalReason, detail: string): void {
    this.counters.refuse(reason);
    // Anyone who may publish on the topics can send garbage: the round keeps the first refusals, the counters all.
    if (this.refused.length >= MAX_REFUSALS_KEPT) return;
    this.refused.push({ client: client.slice(0, 64), reason, detail: detail.slice(0, 300) });
    this.log.warn({ kind: this.o.kind, client, reason, detail }, 'federation message refused');
  }

  /**
   * A stats or update message: what its header and size already rule out is refused before the
   * frame is hashed; the rest is verified off the event loop, then checked again against the step
   * as it is by then (it may have closed meanwhile).
   */
  private receive(type: 'stats' | 'update', topic: string, payload: Buffer): void {
    const client = topic.slice(topic.lastIndexOf('/') + 1);
    this.counters.bytesIn += payload.length;
    this.bytesIn += payload.length;
    let inspected;
    try {
      inspected = inspectFrame(payload, this.o.maxMessageBytes);
    } catch (err) {
      if (err instanceof FrameError) return this.refuse(client, err.reason, err.message);
      return this.refuse(client, 'bad-header', String(err));
    }
    // A header that is not one is refused once the checksum says whether it was damaged on the way.
    const early = inspected.header && this.check(type, client, inspected.header, inspected.bodyBytes / 4);
    if (early) return this.refuse(client, early[0], early[1]);
    this.verifier.verify(payload, inspected).then(
      (frame) => this.take(type, client, frame.header, frame.body),
      (err: unknown) =>
        err instanceof FrameError ? this.refuse(client, err.reason, err.message) : this.refuse(client, 'bad-header', String(err)),
    );
  }

  /** Why a message does not fit the open step (null when it does): its type, sender, session, step, a repeat, its size. */
  private check(type: 'stats' | 'update', client: string, h: FederationHeader, weights: number): [RefusalReason, string] | null {
    if (h.type === 'plan' || h.type !== type) return ['bad-header', `a ${h.type} message on a ${type} topic`];
    if (h.client !== client) return ['wrong-client', `signed as ${h.client}, published on ${client}'s topic`];
    if (h.session !== this.session || h.federation !== this.o.federation || h.kind !== this.o.kind)
      return ['unknown-session', `for session ${h.session} of ${h.federation}/${h.kind}, not ${this.session}`];
    if (h.type === 'stats') {
      if (this.phase !== 'stats') return ['stale-round', 'statistics after the statistics round closed'];
      if (this.stats.has(client)) return ['duplicate', 'statistics sent twice'];
      if (weights !== 0) return ['wrong-shape', `statistics carry no weights, this one ${weights}`];
      return null;
    }
    if (this.phase !== 'round' || h.round !== this.round)
      return ['stale-round', `update for round ${h.round}, round ${this.round} is ${this.phase === 'round' ? 'open' : 'closed'}`];
    if (this.updates.has(client)) return ['duplicate', `a second update for round ${h.round}`];
    if (!this.global || weights !== this.global.length)
      return ['wrong-shape', `${weights} weights, the model has ${this.global?.length ?? 0}`];
    return null;
  }

  /** A verified message: checked again against the step as it is now, then kept. */
  private take(type: 'stats' | 'update', client: string, h: FederationHeader, body: Float32Array): void {
    const late = this.check(type, client, h, body.length);
    if (late) return this.refuse(client, late[0], late[1]);
    if (h.type === 'stats') {
      const problem = momentsProblem(h);
      if (problem) return this.refuse(client, 'bad-header', problem);
      // Inputs smoothed in the model need the smoothed readings' statistics (a gateway before the option sends none).
      if ((this.o.shape.smoothing ?? 1) < 1 && !h.smoothed)
        return this.refuse(
          client,
          'bad-header',
          `the model smooths its inputs (${this.o.shape.smoothing}): statistics without the smoothed moments`,
        );
      this.stats.set(client, h);
      this.counters.accepted++;
      if (this.answered()) void this.close();
      return;
    }
    if (h.type !== 'update') return;
    this.updates.set(client, { header: h, delta: body });
    if (this.answered()) void this.close();
  }

  /** Whether the open step has every answer it waits for (so it closes before its deadline). */
  private answered(): boolean {
    const expected = this.o.expectedClients;
    if (this.phase === 'stats') return expected > 0 && this.stats.size >= expected;
    if (this.phase !== 'round') return false;
    const everyone = this.participants.size > 0 && [...this.participants].every((p) => this.updates.has(p));
    return everyone || (expected > 0 && this.updates.size >= expected);
  }

  private closing = false;

  private async close(): Promise<void> {
    if (this.closing || (this.phase !== 'stats' && this.phase !== 'round')) return;
    this.closing = true;
    this.clock.clearTimeout(this.timer);
    try {
      if (this.phase === 'stats') await this.closeStats();
      else await this.closeRound();
    } catch (err) {
      this.log.error({ err, kind: this.o.kind }, 'federation step failed');
      this.finish('failed');
    } finally {
      this.closing = false;
    }
    // Answers that completed the next step while this one was closing (a fast gateway) close it now.
    if (this.answered()) await this.close();
  }

  private record(r: Omit<RoundRecord, 'round' | 'attempt' | 'openedAt' | 'closedAt' | 'refused' | 'bytesIn' | 'bytesOut'>): void {
    this.history.push({
      round: this.round,
      attempt: this.attempt,
      openedAt: this.openedAt,
      closedAt: this.clock.now(),
      refused: this.refused,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      ...r,
    });
    if (this.history.length > 1000) this.history.splice(0, this.history.length - 1000);
  }

  /** Too few answers: open the same step again, or give up after `maxAttempts`. */
  private async retry(reopen: () => Promise<void>): Promise<void> {
    if (this.attempt >= this.o.maxAttempts) {
      this.log.error({ kind: this.o.kind, round: this.round }, 'federation gave up: too few gateways answered');
      this.counters.rounds.failed++;
      return this.finish('failed');
    }
    this.attempt++;
    await reopen();
  }

  private async closeStats(): Promise<void> {
    const clients = [...this.stats.keys()].sort();
    if (clients.length < this.o.minClients) {
      this.record({ outcome: 'too-few', clients, stragglers: [], updateNorm: null, metrics: null, epsilon: null });
      return this.retry(() => this.openStats());
    }
    const parts = [...this.stats.values()];
    const merged = mergeMoments(parts);
    // A sensor most gateways send is an input; one only a few have would be their mean elsewhere.
    const sensors = merged.sensors.filter((s) => parts.filter((p) => p.sensors.includes(s)).length * 2 >= parts.length);
    const alpha = this.o.shape.smoothing ?? 1;
    const smoothed = alpha < 1 ? mergeMoments(parts.map((p) => ({ sensors: p.sensors, ...p.smoothed! }))) : null;
    this.normalisation = normalisationFromMoments(merged, sensors, smoothed ? { alpha, moments: smoothed } : undefined);
    this.sensors = this.normalisation.sensors;
    if (this.sensors.length === 0) throw new Error('every sensor the gateways sent is constant: nothing to learn from');
    this.participants = new Set(clients);
    this.record({ outcome: 'statistics', clients, stragglers: [], updateNorm: null, metrics: null, epsilon: null });
    const plan = { shape: this.o.shape, params: this.o.params, normalisation: this.normalisation, sensors: this.sensors } as Plan;
    const initial = await this.initialModel(plan);
    this.global = initial.values;
    // A new federation (session) starts its server optimiser afresh.
    this.server = new ServerOptimizer(this.o.serverOptimizer ?? NO_SERVER_OPTIMIZER);
    this.layout = initial.layout;
    this.attempt = 1;
    await this.openRound(1);
  }

  private initialModel(plan: Plan): Promise<{ layout: WeightLayout; values: Float32Array }> {
    return this.o.initialModel(plan);
  }

  private async closeRound(): Promise<void> {
    const received: ClientUpdate[] = [...this.updates.entries()].map(([client, u]) => ({
      client,
      samples: u.header.samples,
      delta: u.delta,
    }));
    const screened = screenUpdates(received, this.global!.length, this.o.normFactor);
    for (const r of screened.refused) this.refuse(r.client, r.reason, r.detail);
    const clients = screened.accepted.map((u) => u.client).sort();
    const stragglers = [...this.participants].filter((p) => !this.updates.has(p)).sort();
    const privacy = this.o.params.privacy;
    const epsilon = privacy ? privacyLoss(privacy.noiseMultiplier, this.round, this.o.privacyDelta).epsilon : null;
    if (clients.length < this.o.minClients) {
      this.counters.rounds.tooFew++;
      this.record({ outcome: 'too-few', clients, stragglers, updateNorm: null, metrics: null, epsilon: null });
      return this.retry(() => this.openRound(this.round));
    }
    this.counters.accepted += clients.length;
    const step = this.server.step(aggregate(screened.accepted, this.o.aggregation, this.o.trim));
    for (let i = 0; i < step.length; i++) this.global![i]! += step[i]!;
    this.o.onAggregated?.(this.round, this.global!);
    for (const c of clients) this.contributors.add(c);
    this.lastMetrics = weightedMetrics(
      screened.accepted.map((u) => ({ samples: u.samples, m: this.updates.get(u.client)!.header.metrics })),
    );
    this.counters.rounds.aggregated++;
    this.record({ outcome: 'aggregated', clients, stragglers, updateNorm: l2(step), metrics: this.lastMetrics, epsilon });
    this.log.info({ kind: this.o.kind, round: this.round, clients: clients.length, stragglers }, 'federation round aggregated');
    this.attempt = 1;
    if (this.round < this.o.rounds) return this.openRound(this.round + 1);
    this.phase = 'done';
    await this.publishPlan('final', this.global, 0);
    this.finish('done');
  }

  /** The current global weights and normalisation (for the benchmark and the status page). */
  model(): { values: Float32Array; layout: WeightLayout; normalisation: Normalisation; sensors: string[] } | null {
    return this.global && this.layout && this.normalisation
      ? { values: this.global, layout: this.layout, normalisation: this.normalisation, sensors: this.sensors }
      : null;
  }

  summary() {
    const last = [...this.history].reverse().find((r) => r.outcome === 'aggregated') ?? null;
    return {
      federation: this.o.federation,
      kind: this.o.kind,
      session: this.session,
      phase: this.phase,
      round: this.round,
      rounds: this.o.rounds,
      participants: [...this.participants].sort(),
      aggregation: this.o.aggregation,
      mu: this.o.params.mu,
      privacy: this.o.params.privacy,
      lastRound: last,
      history: this.history.slice(-20),
      counters: this.counters.snapshot(),
    };
  }
}

/** Refusals recorded in one step's history (the counters count every one). */
const MAX_REFUSALS_KEPT = 50;

function weightedMetrics(parts: ReadonlyArray<{ samples: number; m: Update['metrics'] }>): NonNullable<Plan['metrics']> {
  const mean = (pick: (m: Update['metrics']) => number | null): number | null => {
    const known = parts.filter((p) => pick(p.m) !== null);
    const total = known.reduce((n, p) => n + p.samples, 0);
    return total > 0 ? known.reduce((s, p) => s + pick(p.m)! * p.samples, 0) / total : null;
  };
  return {
    trainLoss: mean((m) => m.trainLoss) ?? 0,
    validationRmse: mean((m) => m.validationRmse),
    validationPrAuc: mean((m) => m.validationPrAuc),
  };
}
