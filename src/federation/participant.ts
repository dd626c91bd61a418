/**
 * A gateway's part in its kinds' federations: it follows the retained plan of each kind, answers a
 * statistics round with its moments, trains a round locally (starting in its own cheapest window
 * before the deadline) and returns the update, and offers the final model to its registry, which
 * adopts it only if it beats the local champion on this gateway's own held-out machines.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { FederationCounters } from './counters.js';
import type { LocalUpdate } from './local.js';
import { topics, type Plan, type Stats, type Update } from './messages.js';
import type { GatewayMoments } from './stats.js';
import type { FederationTransport } from './transport.js';
import { FrameVerifier } from './frame-verifier.js';
import { encodeFrame, FrameError, inspectFrame, layoutWeights, type RefusalReason } from './wire.js';

/** What the gateway's own learning does for the federation (the daemon's worker, or the benchmark's data). */
export interface Learner {
  /** Moments of its training split of `plan.kind`, or null when it has no such machines. */
  stats(plan: Plan): Promise<(GatewayMoments & { machines: number; failures: number }) | null>;
  /** One round of local training from `global`; null when it has nothing to train on. */
  train(plan: Plan, global: Float32Array): Promise<(LocalUpdate & { energyJ: number }) | null>;
  /** Offers the final model to the registry; says whether it became the champion and why. */
  adopt(plan: Plan, global: Float32Array): Promise<Adoption>;
}

export interface Adoption {
  version: string | null;
  promoted: boolean;
  reason: string;
}

export interface ParticipantOptions {
  federation: string;
  prefix: string;
  client: string;
  key: Buffer;
  /** Kinds to take part in; empty: every kind a plan arrives for that the learner has machines of. */
  kinds: readonly string[];
  maxMessageBytes: number;
  /** When to start a round that must finish by `deadline` (the energy policy's window); default now. */
  startAt?: (deadline: number, expectedMs: number) => Promise<number>;
}

export interface KindState {
  kind: string;
  session: string;
  task: Plan['task'];
  round: number;
  rounds: number;
  deadline: number;
  /** What this gateway did last, in words. */
  last: string;
  lastAt: number;
  updatesSent: number;
  lateOrMissed: number;
  adoption: (Adoption & { round: number; clients: string[] }) | null;
  metrics: Plan['metrics'] | null;
}

export class FederationParticipant {
  readonly counters = new FederationCounters();
  readonly kinds = new Map<string, KindState>();
  private readonly handled = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  private readonly waits = new Map<string, TimerHandle>();
  private lastRoundMs = 60_000;
  private lastRefusalLog = Number.NEGATIVE_INFINITY;
  private stopped = false;
  private readonly verifier: FrameVerifier;

  constructor(
    private readonly o: ParticipantOptions,
    private readonly learner: Learner,
    private readonly transport: FederationTransport,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.verifier = new FrameVerifier(o.key, 2 * o.maxMessageBytes);
  }

  /** Messages waiting for or under verification (off the event loop). */
  get verifying(): number {
    return this.verifier.pending;
  }

  /** Messages hashed so far: those the cheap checks refused never are. */
  get framesHashed(): number {
    return this.verifier.hashed;
  }

  async start(): Promise<void> {
    await this.transport.subscribe(`${this.o.prefix}/${this.o.federation}/+/plan`, (topic, payload) => this.onPlan(topic, payload));
  }

  /** Stops taking work; a task under way finishes (the daemon's shutdown ends its worker). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const h of this.waits.values()) this.clock.clearTimeout(h);
    this.waits.clear();
    await this.verifier.close();
  }

  /** Settles when the tasks queued so far are done (tests, shutdown). */
  idle(): Promise<void> {
    return this.queue;
  }

  /** A plan: what its header and size rule out is refused before the frame is hashed; the rest is verified off the event loop. */
  private onPlan(topic: string, payload: Buffer): void {
    this.counters.bytesIn += payload.length;
    const refuse = (reason: RefusalReason, detail: Record<string, unknown>, msg: string) => {
      this.counters.refuse(reason);
      this.warnRefused({ topic, reason, ...detail }, msg);
    };
    let inspected;
    try {
      inspected = inspectFrame(payload, this.o.maxMessageBytes);
    } catch (err) {
      return refuse(err instanceof FrameError ? err.reason : 'bad-header', { err }, 'federation plan refused');
    }
    const plan = inspected.header;
    // A header that is not one is refused once the checksum says whether it was damaged on the way.
    if (plan) {
      if (plan.type !== 'plan' || plan.federation !== this.o.federation || topic !== topics.plan(this.o.prefix, plan.federation, plan.kind))
        return refuse('bad-header', {}, 'federation plan refused: not a plan of this federation on its own topic');
      const weights = inspected.bodyBytes / 4;
      if (weights !== 0 && (!plan.layout || weights !== layoutWeights(plan.layout)))
        return refuse('wrong-shape', { weights }, 'federation plan refused: its weights do not match its layout');
      if (this.o.kinds.length > 0 && !this.o.kinds.includes(plan.kind)) return;
      if (this.handled.has(planKey(plan)) || this.stopped) return;
    }
    this.verifier.verify(payload, inspected).then(
      (frame) => this.follow(frame.header as Plan, frame.body),
      (err: unknown) => refuse(err instanceof FrameError ? err.reason : 'bad-header', { err }, 'federation plan refused'),
    );
  }

  /** A verified plan of this federation: the kind's state follows it, and its task is queued. */
  private follow(plan: Plan, body: Float32Array): void {
    const key = planKey(plan);
    if (this.handled.has(key) || this.stopped) return;
    this.handled.add(key);
    if (this.handled.size > 10_000) this.handled.delete(this.handled.values().next().value!);
    this.counters.accepted++;
    const state = this.state(plan);
    state.session = plan.session;
    state.task = plan.task;
    state.round = plan.round;
    state.rounds = plan.rounds;
    state.deadline = plan.deadline;
    state.metrics = plan.metrics ?? null;
    // A newer plan of the kind replaces a round still waiting for its window.
    const waiting = this.waits.get(plan.kind);
    if (waiting !== undefined) {
      this.clock.clearTimeout(waiting);
      this.waits.delete(plan.kind);
    }
    if (plan.task === 'round') void this.scheduleRound(plan, body);
    else this.enqueue(() => (plan.task === 'stats' ? this.sendStats(plan) : this.adopt(plan, body)));
  }

  /** At most one refusal a minute reaches the log (garbage needs only broker access); the counters count all. */
  private warnRefused(detail: Record<string, unknown>, msg: string): void {
    const now = this.clock.now();
    if (now - this.lastRefusalLog < 60_000) return;
    this.lastRefusalLog = now;
    this.log.warn({ ...detail, refused: this.counters.snapshot().refused }, msg);
  }

  private state(plan: Plan): KindState {
    let s = this.kinds.get(plan.kind);
    if (!s) {
      s = {
        kind: plan.kind,
        session: plan.session,
        task: plan.task,
        round: plan.round,
        rounds: plan.rounds,
        deadline: plan.deadline,
        last: 'joined',
        lastAt: this.clock.now(),
        updatesSent: 0,
        lateOrMissed: 0,
        adoption: null,
        metrics: null,
      };
      this.kinds.set(plan.kind, s);
    }
    return s;
  }

  private note(kind: string, last: string): void {
    const s = this.kinds.get(kind);
    if (s) {
      s.last = last;
      s.lastAt = this.clock.now();
    }
    this.log.info({ kind }, `federation: ${last}`);
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(task).catch((err: unknown) => this.log.error({ err }, 'federation task failed'));
  }

  /**
   * Starts the round when the energy policy says (asked again at each wake-up: a busy host or a
   * better window later), and at the latest start that still meets the deadline whatever it says.
   */
  private async scheduleRound(plan: Plan, global: Float32Array): Promise<void> {
    const now = this.clock.now();
    const latest = plan.deadline - this.lastRoundMs;
    const start = this.o.startAt && now < latest ? await this.o.startAt(plan.deadline, this.lastRoundMs).catch(() => now) : now;
    if (start <= this.clock.now() || this.clock.now() >= latest) return this.enqueue(() => this.trainRound(plan, global));
    const at = Math.min(start, latest);
    this.note(plan.kind, `round ${plan.round}: waiting for the energy window at ${new Date(at).toISOString()}`);
    this.wait(plan, global, at - this.clock.now());
  }

  private wait(plan: Plan, global: Float32Array, ms: number): void {
    const h = this.clock.setTimeout(() => {
      this.waits.delete(plan.kind);
      void this.scheduleRound(plan, global);
    }, ms);
    this.waits.set(plan.kind, h);
  }

  private async sendStats(plan: Plan): Promise<void> {
    const m = await this.learner.stats(plan);
    if (!m) return this.note(plan.kind, 'no machines of this kind here: not taking part');
    const header: Stats = {
      type: 'stats',
      federation: plan.federation,
      kind: plan.kind,
      session: plan.session,
      client: this.o.client,
      sensors: m.sensors,
      count: m.count,
      mean: m.mean,
      m2: m.m2,
      ...(m.smoothed ? { smoothed: m.smoothed } : {}),
      machines: m.machines,
      failures: m.failures,
    };
    await this.send(topics.stats(this.o.prefix, plan.federation, plan.kind, this.o.client), encodeFrame(header, null, this.o.key));
    this.note(plan.kind, `sent statistics of ${m.machines} machines (${m.failures} failures)`);
  }

  private async trainRound(plan: Plan, global: Float32Array): Promise<void> {
    const state = this.kinds.get(plan.kind)!;
    if (this.stopped) return;
    if (state.session !== plan.session || state.round !== plan.round || state.task !== 'round') return; // superseded
    if (this.clock.now() >= plan.deadline) {
      state.lateOrMissed++;
      return this.note(plan.kind, `round ${plan.round}: deadline passed before it could start`);
    }
    this.note(plan.kind, `round ${plan.round}: training locally`);
    const t0 = this.clock.now();
    let u;
    try {
      u = await this.learner.train(plan, global);
    } catch (err) {
      // The trainer is busy with a run of the daemon's own: try again while the deadline allows.
      if (err instanceof Error && err.name === 'TrainerBusy' && this.clock.now() + BUSY_RETRY_MS < plan.deadline) {
        this.note(plan.kind, `round ${plan.round}: ${err.message}; retrying in ${BUSY_RETRY_MS / 1000} s`);
        return this.wait(plan, global, BUSY_RETRY_MS);
      }
      if (err instanceof Error && err.name === 'RoundDeadline') {
        state.lateOrMissed++;
        return this.note(plan.kind, `round ${plan.round}: ${err.message}`);
      }
      throw err;
    }
    this.lastRoundMs = Math.max(1000, this.clock.now() - t0);
    if (!u) return this.note(plan.kind, `round ${plan.round}: nothing to train on`);
    if (this.clock.now() >= plan.deadline) {
      state.lateOrMissed++;
      return this.note(plan.kind, `round ${plan.round}: finished after the deadline, update not sent`);
    }
    const header: Update = {
      type: 'update',
      federation: plan.federation,
      kind: plan.kind,
      session: plan.session,
      client: this.o.client,
      round: plan.round,
      samples: u.samples,
      metrics: {
        trainLoss: finite(u.metrics.trainLoss),
        validationRmse: u.metrics.validationRmse === null ? null : finite(u.metrics.validationRmse),
        validationPrAuc: u.metrics.validationPrAuc === null ? null : finite(u.metrics.validationPrAuc),
        trainMs: u.metrics.trainMs,
        energyJ: u.energyJ,
      },
      norm: u.norm,
      clipped: u.clipped,
      noised: u.noised,
    };
    await this.send(topics.update(this.o.prefix, plan.federation, plan.kind, this.o.client), encodeFrame(header, u.delta, this.o.key));
    state.updatesSent++;
    this.note(plan.kind, `round ${plan.round}: update sent (${u.samples} windows, ${(u.metrics.trainMs / 1000).toFixed(1)} s)`);
  }

  private async adopt(plan: Plan, global: Float32Array): Promise<void> {
    const state = this.kinds.get(plan.kind)!;
    if (state.adoption && state.session === plan.session && state.adoption.round === plan.round) return;
    let a: Adoption;
    try {
      a = await this.learner.adopt(plan, global);
    } catch (err) {
      if (!(err instanceof Error && err.name === 'TrainerBusy') || this.stopped) throw err;
      this.note(plan.kind, `final model: ${err.message}; retrying in ${BUSY_RETRY_MS / 1000} s`);
      this.clock.setTimeout(() => this.enqueue(() => this.adopt(plan, global)), BUSY_RETRY_MS);
      return;
    }
    state.adoption = { ...a, round: plan.round, clients: plan.clients };
    this.note(
      plan.kind,
      `final model of round ${plan.round}: ${a.promoted ? 'adopted as champion' : 'kept the local champion'} (${a.reason})`,
    );
  }

  private async send(topic: string, frame: Buffer): Promise<void> {
    this.counters.bytesOut += frame.length;
    await this.transport.publish(topic, frame, { retain: false });
  }

  summary() {
    return { client: this.o.client, kinds: [...this.kinds.values()], counters: this.counters.snapshot() };
  }
}

const BUSY_RETRY_MS = 30_000;
const finite = (v: number) => (Number.isFinite(v) ? v : 0);

/** One plan's identity: a plan seen before (retained, sent again) is not followed twice. */
function planKey(plan: Plan): string {
  return `${plan.kind}|${plan.session}|${plan.task}|${plan.round}|${plan.issuedAt}`;
}
