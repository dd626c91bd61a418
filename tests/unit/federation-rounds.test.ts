import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { FederationCoordinator, type CoordinatorOptions } from '../../src/federation/coordinator.js';
import type { LocalUpdate } from '../../src/federation/local.js';
import type { Plan, Update } from '../../src/federation/messages.js';
import { FederationParticipant, type Adoption, type Learner } from '../../src/federation/participant.js';
import { matches, type FederationTransport } from '../../src/federation/transport.js';
import { encodeFrame } from '../../src/federation/wire.js';
import { ManualClock } from '../support/manual-clock.js';

const KEY = Buffer.from('unit-federation-key-0123456789abcdef');
const HOUR = 3_600_000;
const WEIGHTS = 6;

/** A broker in memory: retained messages, topic filters, delivery on the next turn as over a socket. */
class MemoryBroker {
  private readonly retained = new Map<string, Buffer>();
  private readonly subs: Array<{ filter: string; handler: (t: string, p: Buffer) => void }> = [];
  published: string[] = [];

  transport(): FederationTransport {
    return {
      connected: true,
      publish: async (topic, payload, o) => {
        this.published.push(topic);
        if (o.retain) this.retained.set(topic, payload);
        for (const s of [...this.subs]) if (matches(s.filter, topic)) queueMicrotask(() => s.handler(topic, payload));
      },
      subscribe: async (filter, handler) => {
        const entry = { filter, handler };
        this.subs.push(entry);
        for (const [t, p] of this.retained) if (matches(filter, t)) queueMicrotask(() => handler(t, p));
        return () => void this.subs.splice(this.subs.indexOf(entry), 1);
      },
      close: async () => undefined,
    };
  }
}

/** A gateway's learning reduced to what the rounds need: each update moves every weight by its own step. */
class FakeLearner implements Learner {
  adopted: Float32Array | null = null;
  trained: number[] = [];
  constructor(
    readonly step: number,
    readonly samples: number,
    /** Rounds this gateway never answers (a dead or stuck gateway). */
    readonly silentIn: number[] = [],
    /** Its smoothed readings' moments, as a gateway sends them when the model smooths its inputs. */
    readonly smoothed?: { count: number[]; mean: number[]; m2: number[] },
  ) {}
  async stats() {
    const plain = { sensors: ['t', 'p'], count: [10, 10], mean: [1, 2], m2: [9, 9], machines: 2, failures: 3 };
    return this.smoothed ? { ...plain, smoothed: this.smoothed } : plain;
  }
  async train(plan: Plan, global: Float32Array): Promise<(LocalUpdate & { energyJ: number }) | null> {
    this.trained.push(plan.round);
    if (this.silentIn.includes(plan.round)) return new Promise(() => undefined);
    expect(global).toHaveLength(WEIGHTS);
    return {
      delta: new Float32Array(WEIGHTS).fill(this.step),
      samples: this.samples,
      norm: Math.abs(this.step) * Math.sqrt(WEIGHTS),
      clipped: false,
      noised: false,
      metrics: { trainLoss: 1, validationRmse: 10 + this.step, validationPrAuc: 0.5, trainMs: 5 },
      energyJ: 1,
    };
  }
  async adopt(_plan: Plan, global: Float32Array): Promise<Adoption> {
    this.adopted = Float32Array.from(global);
    return { version: 'v0001', promoted: true, reason: 'test' };
  }
}

function options(o: Partial<CoordinatorOptions> = {}): CoordinatorOptions {
  return {
    federation: 'plant',
    kind: 'pump',
    prefix: 'vigil/_federation',
    key: KEY,
    rounds: 2,
    minClients: 2,
    expectedClients: 0,
    statsWindowMs: 60_000,
    roundWindowMs: HOUR,
    maxAttempts: 2,
    params: { epochs: 1, batchSize: 32, learningRate: 0.01, mu: 0, seed: 1, privacy: null },
    shape: {
      window: 5,
      stride: 1,
      stepMs: 60_000,
      horizon: 3,
      rulCap: 10,
      units: [4],
      dropout: 0,
      validationFraction: 0.2,
      positiveShare: 0.3,
    },
    aggregation: 'fedavg',
    trim: 0.2,
    normFactor: 10,
    maxMessageBytes: 1 << 20,
    privacyDelta: 1e-5,
    initialModel: async () => ({ layout: [{ name: 'w', shape: [WEIGHTS] }], values: new Float32Array(WEIGHTS) }),
    ...o,
  };
}

/** Parties whose frames are verified off the event loop (WebCrypto on libuv's pool): settled once none is pending. */
const parties: Array<{ verifying: number }> = [];
const settle = async () => {
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setImmediate(r));
    // A verification under way ends on the thread pool: wait for it, then go on turning the loop.
    while (parties.some((p) => p.verifying > 0)) await new Promise((r) => setTimeout(r, 1));
  }
};

async function federation(learners: Record<string, FakeLearner>, o: Partial<CoordinatorOptions> = {}) {
  const clock = new ManualClock();
  const broker = new MemoryBroker();
  const participants = Object.entries(learners).map(
    ([client, l]) =>
      new FederationParticipant(
        { federation: 'plant', prefix: 'vigil/_federation', client, key: KEY, kinds: [], maxMessageBytes: 1 << 20 },
        l,
        broker.transport(),
        clock,
        silentLogger(),
      ),
  );
  for (const p of participants) await p.start();
  const coordinator = new FederationCoordinator(options(o), broker.transport(), clock, silentLogger());
  parties.splice(0, parties.length, coordinator, ...participants);
  await coordinator.start();
  await settle();
  return { clock, broker, participants, coordinator };
}

describe('federated rounds (coordinator and participants, in memory, on a fake clock)', () => {
  it('closes a round at its deadline without a dead gateway, weights FedAvg by samples, and every gateway gets the final model', async () => {
    const learners = { a: new FakeLearner(1, 100), b: new FakeLearner(3, 300), c: new FakeLearner(9, 100, [2]) };
    const { clock, coordinator, participants } = await federation(learners);
    clock.advance(60_000); // the statistics window
    await settle();
    expect(coordinator.history[0]).toMatchObject({ outcome: 'statistics', clients: ['a', 'b', 'c'] });
    // Round 1: everyone answered, so it closed without waiting for the deadline.
    expect(coordinator.history[1]).toMatchObject({ round: 1, outcome: 'aggregated', clients: ['a', 'b', 'c'], stragglers: [] });
    expect(coordinator.round).toBe(2);
    // Round 2: c never answers; the round waits for its deadline, then closes with a and b.
    clock.advance(HOUR - 1);
    await settle();
    expect(coordinator.phase).toBe('round');
    clock.advance(1);
    await settle();
    expect(coordinator.history[2]).toMatchObject({ round: 2, outcome: 'aggregated', clients: ['a', 'b'], stragglers: ['c'] });
    expect(await coordinator.done).toBe('done');
    // Round 1 moved each weight by (1·100 + 3·300 + 9·100)/500 = 3.8; round 2 by (1·100 + 3·300)/400 = 2.5.
    for (const l of [learners.a, learners.b]) for (const w of l.adopted!) expect(w).toBeCloseTo(3.8 + 2.5, 5);
    // c is still stuck in round 2 (its tasks run in order): it adopts nothing until that ends.
    expect(learners.c.adopted).toBeNull();
    expect(coordinator.history[2]!.metrics!.validationRmse).toBeCloseTo((11 * 100 + 13 * 300) / 400, 6);
    expect(participants[0]!.summary().kinds[0]).toMatchObject({ kind: 'pump', updatesSent: 2, adoption: { promoted: true, round: 2 } });
  });

  it("a model that smooths its inputs gets the smoothed readings' statistics; a gateway that sends none is refused", async () => {
    const smoothed = { count: [10, 10], mean: [1.5, 2], m2: [2.25, 9] };
    const learners = { a: new FakeLearner(1, 100, [], smoothed), b: new FakeLearner(1, 100, [], smoothed), c: new FakeLearner(1, 100) };
    const { clock, coordinator } = await federation(learners, { rounds: 1, shape: { ...options().shape, smoothing: 0.3 } });
    clock.advance(60_000);
    await settle();
    expect(coordinator.counters.refused['bad-header']).toBe(1);
    expect(coordinator.history[0]).toMatchObject({ outcome: 'statistics', clients: ['a', 'b'] });
    // Sensors p, t; t's readings: mean 1, sd √(18/19) over both gateways; smoothed, mean 1.5 and sd
    // √(4.5/19): in t's z-scores a mean of 0.5/√(18/19) and a spread of exactly half.
    const { normalisation } = coordinator.model()!;
    expect(normalisation.sensors).toEqual(['p', 't']);
    expect(normalisation.smoothing!.alpha).toBe(0.3);
    expect(normalisation.smoothing!.mean[0]).toBeCloseTo(0, 12);
    expect(normalisation.smoothing!.mean[1]).toBeCloseTo(0.5 / Math.sqrt(18 / 19), 12);
    expect(normalisation.smoothing!.std[0]).toBeCloseTo(1, 12);
    expect(normalisation.smoothing!.std[1]).toBeCloseTo(0.5, 12);
  });

  it('opens a round again when too few gateways answered, and gives up after maxAttempts', async () => {
    const learners = { a: new FakeLearner(1, 100), b: new FakeLearner(1, 100, [1]) };
    const { clock, coordinator } = await federation(learners, { maxAttempts: 2 });
    clock.advance(60_000);
    await settle();
    clock.advance(HOUR);
    await settle();
    expect(coordinator.history[1]).toMatchObject({ round: 1, attempt: 1, outcome: 'too-few', clients: ['a'], stragglers: ['b'] });
    clock.advance(HOUR);
    await settle();
    expect(coordinator.history[2]).toMatchObject({ round: 1, attempt: 2, outcome: 'too-few' });
    expect(await coordinator.done).toBe('failed');
    expect(coordinator.counters.rounds).toEqual({ aggregated: 0, tooFew: 2, failed: 1 });
  });

  it('refuses forged, misaddressed, repeated, stale and wrongly shaped updates, each with its reason, and carries on', async () => {
    const learners = { a: new FakeLearner(1, 100, [1]), b: new FakeLearner(1, 100, [1]) };
    const { clock, broker, coordinator } = await federation(learners, { rounds: 1 });
    clock.advance(60_000);
    await settle();
    const t = broker.transport();
    const topic = (client: string) => `vigil/_federation/plant/pump/update/${client}`;
    const update = (client: string, round = 1): Update => ({
      type: 'update',
      federation: 'plant',
      kind: 'pump',
      session: coordinator.session,
      client,
      round,
      samples: 50,
      metrics: { trainLoss: 1, validationRmse: null, validationPrAuc: null, trainMs: 1, energyJ: 0 },
      norm: 1,
      clipped: false,
      noised: false,
    });
    const weights = new Float32Array(WEIGHTS).fill(0.5);
    await t.publish(topic('a'), encodeFrame(update('a'), weights, Buffer.from('the wrong key, but long enough to pass')), {
      retain: false,
    });
    await t.publish(topic('b'), encodeFrame(update('a'), weights, KEY), { retain: false });
    await t.publish(topic('a'), encodeFrame(update('a', 7), weights, KEY), { retain: false });
    await t.publish(topic('a'), encodeFrame({ ...update('a'), session: 'old' }, weights, KEY), { retain: false });
    await t.publish(topic('a'), encodeFrame(update('a'), new Float32Array(3), KEY), { retain: false });
    await t.publish(topic('a'), Buffer.from('garbage'), { retain: false });
    await t.publish(topic('a'), encodeFrame(update('a'), weights, KEY), { retain: false });
    await t.publish(topic('a'), encodeFrame(update('a'), weights, KEY), { retain: false });
    await t.publish(topic('b'), encodeFrame(update('b'), weights, KEY), { retain: false });
    await settle();
    expect(coordinator.counters.refused).toEqual({
      'bad-signature': 1,
      'wrong-client': 1,
      'stale-round': 1,
      'unknown-session': 1,
      'wrong-shape': 1,
      truncated: 1,
      duplicate: 1,
    });
    expect(await coordinator.done).toBe('done');
    expect(coordinator.history[1]).toMatchObject({ outcome: 'aggregated', clients: ['a', 'b'] });
    expect(coordinator.history[1]!.refused).toHaveLength(7);
    expect(coordinator.model()!.values).toEqual(weights);
  });

  it('counts a flood of garbage on the update topics, keeping only the first refusals in the round', async () => {
    const { clock, broker, coordinator } = await federation({ a: new FakeLearner(1, 100, [1]), b: new FakeLearner(1, 100, [1]) });
    clock.advance(60_000);
    await settle();
    const t = broker.transport();
    for (let i = 0; i < 500; i++) await t.publish(`vigil/_federation/plant/pump/update/x${i}`, Buffer.alloc(20, i), { retain: false });
    await settle();
    clock.advance(HOUR);
    await settle();
    expect(coordinator.counters.refused.truncated).toBe(500);
    expect(coordinator.history[1]!.refused).toHaveLength(50);
    expect(coordinator.history[1]!.outcome).toBe('too-few');
  });

  it('does not send an update that finished after the deadline', async () => {
    let finish: (() => void) | null = null;
    const slow = new FakeLearner(1, 100);
    const fast = new FakeLearner(1, 100);
    const clock = new ManualClock();
    slow.train = (plan, global) =>
      new Promise((resolve) => (finish = () => void FakeLearner.prototype.train.call(slow, plan, global).then(resolve)));
    const broker = new MemoryBroker();
    const p = new FederationParticipant(
      { federation: 'plant', prefix: 'vigil/_federation', client: 'slow', key: KEY, kinds: [], maxMessageBytes: 1 << 20 },
      slow,
      broker.transport(),
      clock,
      silentLogger(),
    );
    const q = new FederationParticipant(
      { federation: 'plant', prefix: 'vigil/_federation', client: 'fast', key: KEY, kinds: [], maxMessageBytes: 1 << 20 },
      fast,
      broker.transport(),
      clock,
      silentLogger(),
    );
    await p.start();
    await q.start();
    const coordinator = new FederationCoordinator(options({ rounds: 1, minClients: 1 }), broker.transport(), clock, silentLogger());
    parties.splice(0, parties.length, coordinator, p, q);
    await coordinator.start();
    await settle();
    clock.advance(60_000);
    await settle();
    clock.advance(HOUR);
    await settle();
    finish!();
    await settle();
    expect(p.summary().kinds[0]).toMatchObject({ updatesSent: 0, lateOrMissed: 1 });
    expect(coordinator.history[1]).toMatchObject({ outcome: 'aggregated', clients: ['fast'], stragglers: ['slow'] });
  });
});

describe('federation under a flood of large frames', () => {
  it('refuses what the header and size rule out before hashing, and bounds the frames waiting to be verified', async () => {
    const { clock, broker, coordinator, participants } = await federation({
      a: new FakeLearner(1, 100, [1]),
      b: new FakeLearner(1, 100, [1]),
    });
    clock.advance(60_000);
    await settle();
    const hashed = () => coordinator.framesHashed + participants.reduce((n, p) => n + p.framesHashed, 0);
    const before = hashed();
    const t = broker.transport();
    const huge = new Float32Array(200_000).fill(0.1);
    // Updates of the open round, signed or not, but not the model's size: refused on their length alone.
    for (let i = 0; i < 40; i++) {
      const update: Update = {
        type: 'update',
        federation: 'plant',
        kind: 'pump',
        session: coordinator.session,
        client: `x${i}`,
        round: 1,
        samples: 1,
        metrics: { trainLoss: 1, validationRmse: null, validationPrAuc: null, trainMs: 1, energyJ: 0 },
        norm: 1,
        clipped: false,
        noised: false,
      };
      await t.publish(`vigil/_federation/plant/pump/update/x${i}`, encodeFrame(update, huge, KEY), { retain: false });
    }
    await settle();
    expect(coordinator.counters.refused['wrong-shape']).toBe(40);
    expect(hashed()).toBe(before);

    // Forged plans whose layout matches their body pass the cheap checks: 800 kB each, at most 2 MiB may wait.
    const forged = Buffer.from('not the federation key, but long enough');
    const plan: Plan = {
      type: 'plan',
      federation: 'plant',
      kind: 'pump',
      session: 'forged',
      task: 'round',
      round: 1,
      rounds: 1,
      issuedAt: 0,
      deadline: HOUR,
      params: options().params,
      shape: options().shape,
      sensors: ['t'],
      layout: [{ name: 'w', shape: [huge.length] }],
      clients: [],
    };
    const p = participants[0]!;
    for (let i = 0; i < 20; i++)
      await t.publish('vigil/_federation/plant/pump/plan', encodeFrame({ ...plan, issuedAt: i }, huge, forged), { retain: false });
    await settle();
    // Two (1.6 MB) were queued before the first finished; the others were refused at once as busy.
    expect(p.counters.refused).toMatchObject({ busy: 18, 'bad-signature': 2 });
    expect(hashed() - before).toBe(2 * participants.length);
  });
});
