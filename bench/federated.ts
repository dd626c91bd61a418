/**
 * npm run bench:federated [-- --seeds 1,2,3 --gateways 4,8 --splits iid,non-iid --rounds 24
 *   --local-epochs 2 --mu 1 --arms local-only,fedavg,fedprox,pooled --server-opt none|momentum|adam|yogi[,η]
 *   --validation-only]
 *
 * C-MAPSS split across simulated gateways that learn together through a real Mosquitto (started
 * here) with the daemon's own coordinator, participants, wire format and local training
 * (src/federation/). IID: FD001's engines dealt at random. Non-IID: FD001's engines on half the
 * gateways, FD003's (a second fault mode) on the other half, scored on both test sets. For each:
 * local-only (each gateway alone, mean over gateways), federated with FedAvg and FedProx, and pooled
 * (every engine on one gateway), on the published test protocol; mean ± sd over seeds.
 * `--privacy C,z` clips each update to norm C and adds Gaussian noise of sd z·C (ε is printed).
 * `--validation-only` scores on training engines that no gateway holds, where settings are chosen.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { LayersModel } from '@tensorflow/tfjs';
import { systemClock } from '../src/core/clock.js';
import { createLogger } from '../src/core/logger.js';
import { Rng } from '../src/core/random.js';
import { applyNormalisation, type Normalisation } from '../src/features/normalize.js';
import type { LabelledSegment } from '../src/features/split.js';
import { buildWindows, type WindowSet } from '../src/features/windows.js';
import { loadTf, quietTfWarnings, type BackendPreference } from '../src/model/backend.js';
import { loadFastLstm } from '../src/model/fast-lstm/load.js';
import { buildLstm, predict } from '../src/model/lstm.js';
import { bestF1Threshold } from '../src/model/metrics.js';
import { FederationCoordinator } from '../src/federation/coordinator.js';
import { privacyLoss } from '../src/federation/privacy.js';
import type { ServerOptimizerOptions } from '../src/federation/server-optimizer.js';
import { flatWeights, globalModel, localMoments, planSpec, prepareLocal, trainRound, type LocalData } from '../src/federation/local.js';
import type { Plan } from '../src/federation/messages.js';
import { FederationParticipant, type Learner } from '../src/federation/participant.js';
import { MqttFederationTransport } from '../src/federation/transport.js';
import { prepareData, trainAndValidate, validate } from '../src/training/pipeline.js';
import { CMAPSS_INPUTS, cmapssFiles, evaluateCmapssTest, labelledTrainingUnits, type CmapssSubset } from './lib/cmapss.js';
import { describe, meanPlusMinus, parseSeeds } from './lib/seeds.js';
import { startMosquitto } from './lib/services.js';

const { values: a } = parseArgs({
  options: {
    data: { type: 'string', default: path.resolve('../shared/data/cmapss') },
    seeds: { type: 'string', default: '1,2,3' },
    gateways: { type: 'string', default: '4,8' },
    splits: { type: 'string', default: 'iid,non-iid' },
    // 24 chosen on validation (non-IID, 4 gateways, seeds 1–3: FedAvg 15.52 ± 0.77 against 17.07 ± 0.87 at 8; pooled 14.35).
    rounds: { type: 'string', default: '24' },
    'local-epochs': { type: 'string', default: '2' },
    mu: { type: 'string', default: '1' },
    // The coordinator's server optimiser for the federated arms, and its learning rate: 'adam,0.01'.
    'server-opt': { type: 'string', default: 'none' },
    epochs: { type: 'string', default: '30' },
    patience: { type: 'string', default: '6' },
    // Windows every 4 cycles (2 in bench:cmapss) for every arm alike: 3 seeds × 4 settings × 4 arms fit in about an hour here.
    stride: { type: 'string', default: '4' },
    arms: { type: 'string', default: 'local-only,fedavg,fedprox,pooled' },
    'watts-per-core': { type: 'string', default: '12' },
    backend: { type: 'string', default: 'auto' },
    'validation-only': { type: 'boolean', default: false },
    // Update clipping and noise on every gateway: 'C,z' (clip norm, noise multiplier); off by default.
    privacy: { type: 'string', default: '' },
  },
});
const [serverKind, serverLr] = a['server-opt'].split(',');
if (!['none', 'momentum', 'adam', 'yogi'].includes(serverKind!))
  throw new Error(`--server-opt: none, momentum, adam or yogi, got "${serverKind}"`);
const SERVER_OPTIMIZER: ServerOptimizerOptions = {
  kind: serverKind as ServerOptimizerOptions['kind'],
  learningRate: serverLr === undefined ? 1 : Number(serverLr),
  beta1: 0.9,
  beta2: 0.99,
  tau: 1e-3,
};
const WINDOW = 50;
const HORIZON = 30;
const RUL_CAP = 125;
const LR = 0.002;
const STRIDE = Number(a.stride);
const PRIVACY = a.privacy ? { clipNorm: Number(a.privacy.split(',')[0]), noiseMultiplier: Number(a.privacy.split(',')[1] ?? 1) } : null;
const SHAPE = {
  window: WINDOW,
  stride: STRIDE,
  stepMs: 1,
  horizon: HORIZON,
  rulCap: RUL_CAP,
  units: [64, 32],
  dropout: 0.2,
  validationFraction: 0.2,
  positiveShare: 0.3,
};
const seeds = parseSeeds(a.seeds);
const gatewayCounts = a.gateways.split(',').map(Number);
const splits = a.splits.split(',') as Array<'iid' | 'non-iid'>;
const rounds = Number(a.rounds);
const validationOnly = a['validation-only'];
const wattsPerCore = Number(a['watts-per-core']);

quietTfWarnings();
const { tf, backend } = await loadTf(a.backend as BackendPreference);
const lstm = await loadFastLstm(tf, { preference: 'auto' });
const log = createLogger({ level: 'warn' });
const mosquitto = await startMosquitto();
const key = Buffer.from('bench-federation-key-0123456789ab');
const units = { window: WINDOW, horizon: HORIZON, rulCap: RUL_CAP, inputs: CMAPSS_INPUTS };
const subsets: Record<'FD001' | 'FD003', LabelledSegment[]> = {
  FD001: rename(labelledTrainingUnits(cmapssFiles(a.data, 'FD001').train, units), 'FD001'),
  FD003: rename(labelledTrainingUnits(cmapssFiles(a.data, 'FD003').train, units), 'FD003'),
};

function rename(items: LabelledSegment[], subset: string): LabelledSegment[] {
  return items.map((i) => ({ seg: { ...i.seg, machine: `${subset}-${i.seg.machine}` }, labels: i.labels }));
}

function shuffled<T>(list: readonly T[], rng: Rng): T[] {
  const out = [...list];
  rng.shuffle(out);
  return out;
}

/** Engines of a subset by machine, shuffled by seed; the first fifth is held out in --validation-only. */
function engines(subset: 'FD001' | 'FD003', seed: number): { pool: string[]; heldOut: string[] } {
  const names = shuffled([...new Set(subsets[subset].map((i) => i.seg.machine))], new Rng(seed * 104_729 + subset.length));
  const cut = validationOnly ? Math.round(names.length / 5) : 0;
  return { heldOut: names.slice(0, cut), pool: names.slice(cut) };
}

interface Setting {
  split: 'iid' | 'non-iid';
  gateways: LabelledSegment[][];
  testSets: Array<'FD001' | 'FD003'>;
  heldOut: LabelledSegment[];
}

function setting(split: 'iid' | 'non-iid', g: number, seed: number): Setting {
  const used: Array<'FD001' | 'FD003'> = split === 'iid' ? ['FD001'] : ['FD001', 'FD003'];
  const gateways: LabelledSegment[][] = Array.from({ length: g }, () => []);
  const heldOut: LabelledSegment[] = [];
  used.forEach((subset, s) => {
    const { pool, heldOut: held } = engines(subset, seed);
    // IID: all gateways share one subset; non-IID: each subset on its own half of the gateways.
    const targets = split === 'iid' ? gateways.map((_, i) => i) : gateways.map((_, i) => i).filter((i) => i % 2 === s);
    const at = new Map(pool.map((m, i) => [m, targets[i % targets.length]!]));
    for (const item of subsets[subset]) {
      const gw = at.get(item.seg.machine);
      if (gw !== undefined) gateways[gw]!.push(item);
      else if (held.includes(item.seg.machine)) heldOut.push(item);
    }
  });
  return { split, gateways, testSets: used, heldOut };
}

const prepare = (items: readonly LabelledSegment[], seed: number, normalisation?: Normalisation) =>
  prepareData(items, CMAPSS_INPUTS, {
    windowSteps: WINDOW,
    stride: STRIDE,
    validationFraction: 0.2,
    positiveShare: 0.3,
    seed,
    ...(normalisation ? { normalisation } : {}),
  });
const spec = (seed: number) => ({
  units: [64, 32],
  dropout: 0.2,
  learningRate: LR,
  seed,
  recurrentActivation: 'sigmoid' as const,
  kernel: lstm.kernel,
});
const fit = {
  epochs: Number(a.epochs),
  batchSize: 128,
  patience: Number(a.patience),
  reduceLrAfter: 3,
  monitor: 'metrics' as const,
  members: 1,
  rulCap: RUL_CAP,
  horizon: HORIZON,
  stepMs: 1,
};

interface Score {
  rmse: number;
  f1: number;
}

/** The test protocol of every subset in the setting (RMSE and F1 over all their engines together), or the held-out engines. */
function score(model: LayersModel, norm: Normalisation, threshold: number, s: Setting): Score {
  if (validationOnly) {
    const ws = buildWindows(
      s.heldOut.map((i) => ({ seg: applyNormalisation(i.seg, norm), labels: i.labels })),
      WINDOW,
      STRIDE,
    );
    const v = validate(tf, model, ws, { rulCap: RUL_CAP, horizon: HORIZON, stepMs: 1, threshold });
    return { rmse: v.rul.rmse, f1: v.classification.f1 };
  }
  let se = 0;
  let n = 0;
  const c = { tp: 0, fp: 0, fn: 0 };
  for (const subset of s.testSets as CmapssSubset[]) {
    const f = cmapssFiles(a.data, subset);
    const t = evaluateCmapssTest(tf, model, norm, f.test, f.rul, { window: WINDOW, horizon: HORIZON, rulCap: RUL_CAP, threshold });
    se += t.rul.rmse ** 2 * t.rul.n;
    n += t.rul.n;
    c.tp += t.classification.confusion.tp;
    c.fp += t.classification.confusion.fp;
    c.fn += t.classification.confusion.fn;
  }
  const precision = c.tp + c.fp > 0 ? c.tp / (c.tp + c.fp) : 0;
  const recall = c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : 0;
  return { rmse: Math.sqrt(se / n), f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0 };
}

/** Gateways take turns on the CPU, so each one's CPU time (and energy estimate) is its own. */
let cpuTurn: Promise<unknown> = Promise.resolve();
function serial<T>(task: () => Promise<T>): Promise<T> {
  const next = cpuTurn.then(task);
  cpuTurn = next.catch(() => undefined);
  return next;
}

class BenchLearner implements Learner {
  energyJ = 0;
  final: Float32Array | null = null;
  private prepared: { session: string; data: ReturnType<typeof prepareLocal> } | null = null;
  constructor(
    readonly name: string,
    private readonly data: LocalData,
  ) {}
  async stats(plan: Plan) {
    return { ...localMoments(this.data, plan), machines: this.data.machines, failures: this.data.failures };
  }
  train(plan: Plan, global: Float32Array) {
    return serial(async () => {
      if (this.prepared?.session !== plan.session) this.prepared = { session: plan.session, data: prepareLocal(this.data, plan) };
      const cpu = process.cpuUsage();
      const u = await trainRound(tf, this.prepared.data, plan, global, { kernel: lstm.kernel, client: this.name });
      const used = process.cpuUsage(cpu);
      const energyJ = ((used.user + used.system) / 1e6) * wattsPerCore;
      this.energyJ += energyJ;
      return u ? { ...u, energyJ } : null;
    });
  }
  async adopt(_plan: Plan, global: Float32Array) {
    this.final = Float32Array.from(global);
    return { version: null, promoted: true, reason: 'benchmark' };
  }
  validation(plan: Plan): WindowSet {
    return this.prepared?.session === plan.session ? this.prepared.data.validation : prepareLocal(this.data, plan).validation;
  }
}

interface FedResult extends Score {
  rounds: number;
  /** RUL RMSE of the global model after each round. */
  curve: number[];
  bytesPerRound: number;
  energyPerGatewayJ: number;
  seconds: number;
}

async function federate(s: Setting, seed: number, mu: number): Promise<FedResult> {
  const t0 = performance.now();
  const perRound: Float32Array[] = [];
  const federation = `bench-${s.split}-${s.gateways.length}-${seed}-${mu}`.replace(/\./g, '_');
  const g = s.gateways.length;
  const learners = s.gateways.map(
    (items, i) =>
      new BenchLearner(`gw${i + 1}`, {
        items,
        sensors: CMAPSS_INPUTS,
        machines: new Set(items.map((x) => x.seg.machine)).size,
        failures: new Set(items.map((x) => x.seg.machine)).size,
      }),
  );
  const transports: MqttFederationTransport[] = [];
  const connect = async (clientId: string) => {
    const t = await MqttFederationTransport.connect({ url: mosquitto.url, clientId, maxMessageBytes: 64 << 20 });
    transports.push(t);
    return t;
  };
  const common = { federation, prefix: 'vigil/_federation', key, maxMessageBytes: 64 << 20 };
  const participants = await Promise.all(
    learners.map(
      async (l) =>
        new FederationParticipant({ ...common, client: l.name, kinds: [] }, l, await connect(`${federation}-${l.name}`), systemClock, log),
    ),
  );
  for (const p of participants) await p.start();
  const coordinator = new FederationCoordinator(
    {
      ...common,
      kind: 'turbofan',
      rounds,
      minClients: g,
      expectedClients: g,
      statsWindowMs: 600_000,
      roundWindowMs: 3_600_000,
      maxAttempts: 1,
      params: { epochs: Number(a['local-epochs']), batchSize: 128, learningRate: LR, mu, seed, privacy: PRIVACY },
      shape: SHAPE,
      aggregation: 'fedavg',
      serverOptimizer: SERVER_OPTIMIZER,
      // Each round's global model, scored after the federation: how many rounds reach what.
      onAggregated: (_round, global) => perRound.push(global.slice()),
      trim: 0.2,
      normFactor: 10,
      privacyDelta: 1e-5,
      initialModel: async (plan) => {
        const m = buildLstm(tf, planSpec(plan, lstm.kernel));
        const w = flatWeights(m);
        m.dispose();
        return w;
      },
    },
    await connect(`${federation}-coordinator`),
    systemClock,
    log,
  );
  await coordinator.start();
  const phase = await coordinator.done;
  if (phase !== 'done') throw new Error(`federation ended ${phase}`);
  await Promise.all(participants.map((p) => p.idle()));
  // The final plan reaches every participant shortly after the coordinator publishes it.
  for (let i = 0; i < 200 && learners.some((l) => !l.final); i++) await new Promise((r) => setTimeout(r, 50));
  await Promise.all(participants.map((p) => p.idle()));
  const m = coordinator.model()!;
  const plan = { ...finalPlan(coordinator, m), params: { epochs: 1, batchSize: 128, learningRate: LR, mu, seed, privacy: null } } as Plan;
  const model = globalModel(tf, plan, m.values, lstm.kernel);
  // The threshold is chosen on the gateways' own held-out machines, as each would.
  const parts = learners.map((l) => l.validation(plan));
  const ps: number[] = [];
  const ys: number[] = [];
  for (const ws of parts) {
    const { p } = predict(tf, model, ws.x, ws.n, ws.windowSteps, ws.features);
    ps.push(...p);
    ys.push(...ws.failure);
  }
  const threshold = bestF1Threshold(ps, ys);
  const result = score(model, m.normalisation, threshold, s);
  model.dispose();
  const curve = perRound.map((values) => {
    const r = globalModel(tf, plan, values, lstm.kernel);
    const rmse = score(r, m.normalisation, threshold, s).rmse;
    r.dispose();
    return rmse;
  });
  const aggregated = coordinator.history.filter((r) => r.outcome === 'aggregated');
  // Each plan goes from the broker to every gateway; each update comes in once.
  const bytes = aggregated.reduce((n, r) => n + r.bytesOut * g + r.bytesIn, 0) / Math.max(1, aggregated.length);
  await coordinator.stop();
  for (const p of participants) await p.stop();
  await Promise.all(transports.map((t) => t.close()));
  return {
    ...result,
    rounds: aggregated.length,
    curve,
    bytesPerRound: bytes,
    energyPerGatewayJ: learners.reduce((n, l) => n + l.energyJ, 0) / g,
    seconds: (performance.now() - t0) / 1000,
  };
}

function finalPlan(c: FederationCoordinator, m: NonNullable<ReturnType<FederationCoordinator['model']>>): Partial<Plan> {
  return {
    shape: SHAPE,
    normalisation: m.normalisation,
    sensors: m.sensors,
    layout: m.layout,
    session: c.session,
    round: c.round,
  };
}

async function trained(items: readonly LabelledSegment[], seed: number, s: Setting): Promise<Score & { energyJ: number }> {
  const cpu = process.cpuUsage();
  const data = prepare(items, seed);
  const out = await trainAndValidate(tf, data, spec(seed), fit);
  const used = process.cpuUsage(cpu);
  const r = score(out.model, data.norm, out.validation.threshold, s);
  out.model.dispose();
  return { ...r, energyJ: ((used.user + used.system) / 1e6) * wattsPerCore };
}

type Arm = 'local-only' | 'fedavg' | 'fedprox' | 'pooled';
/** Each federated run's RMSE after every round, by setting and seed. */
const curves = new Map<string, number[]>();
const results = new Map<string, Array<Score & { rounds?: number; bytes?: number; energyJ?: number }>>();
const keep = (name: string, r: Score & { rounds?: number; bytes?: number; energyJ?: number }) =>
  results.set(name, [...(results.get(name) ?? []), r]);
const label = (split: string, g: number, arm: Arm) => `${split}|${g}|${arm}`;
const mu = Number(a.mu);
const arms = new Set(a.arms.split(',') as Arm[]);

console.log(
  `bench:federated — ${backend} backend, LSTM ${lstm.describe}, broker ${mosquitto.url}; ${rounds} rounds × ${a['local-epochs']} local epochs, FedProx μ ${mu}, server optimiser ${a['server-opt']}${PRIVACY ? `; updates clipped to ${PRIVACY.clipNorm}, noise ×${PRIVACY.noiseMultiplier}: (ε ${privacyLoss(PRIVACY.noiseMultiplier, rounds, 1e-5).epsilon.toFixed(1)}, δ 1e-5) per gateway` : ''}`,
);
try {
  for (const seed of seeds) {
    for (const split of splits) {
      let pooled: (Score & { energyJ: number }) | null = null;
      for (const g of gatewayCounts) {
        const s = setting(split, g, seed);
        const t1 = performance.now();
        const line: string[] = [];
        const show = (arm: Arm, r: Score, extra = '') => line.push(`${arm} RMSE ${r.rmse.toFixed(2)} F1 ${r.f1.toFixed(3)}${extra}`);
        if (arms.has('pooled')) {
          // Pooled is the same data whatever the number of gateways: trained once per split and seed.
          pooled ??= await trained(s.gateways.flat(), seed, s);
          keep(label(split, g, 'pooled'), pooled);
          show('pooled', pooled);
        }
        if (arms.has('local-only')) {
          const locals: Array<Score & { energyJ: number }> = [];
          for (const items of s.gateways) locals.push(await trained(items, seed, s));
          const local = {
            rmse: locals.reduce((n, l) => n + l.rmse, 0) / g,
            f1: locals.reduce((n, l) => n + l.f1, 0) / g,
            energyJ: locals.reduce((n, l) => n + l.energyJ, 0) / g,
          };
          keep(label(split, g, 'local-only'), local);
          show('local-only', local);
        }
        for (const arm of ['fedavg', 'fedprox'] as const) {
          if (!arms.has(arm)) continue;
          const r = await federate(s, seed, arm === 'fedavg' ? 0 : mu);
          keep(label(split, g, arm), { ...r, bytes: r.bytesPerRound, energyJ: r.energyPerGatewayJ });
          curves.set(`${label(split, g, arm)}|${seed}`, r.curve);
          show(arm, r, ` (${r.seconds.toFixed(0)} s; RMSE by round ${r.curve.map((x) => x.toFixed(1)).join(' ')})`);
        }
        console.log(`  seed ${seed} ${split} ${g} gateways: ${line.join('; ')} — ${((performance.now() - t1) / 1000).toFixed(0)} s`);
      }
    }
  }
} finally {
  await mosquitto.dispose();
}

const where = validationOnly ? 'held-out training engines (validation)' : 'test protocol';
console.log(`on the ${where}, mean ± sd over seeds ${seeds.join(',')} (per seed in brackets):`);
console.log('| split | gateways | arm | RUL RMSE | F1 | rounds | bytes/round | energy/gateway (J) |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const split of splits)
  for (const g of gatewayCounts)
    for (const arm of ['local-only', 'fedavg', 'fedprox', 'pooled'] as const) {
      const r = results.get(label(split, g, arm));
      if (!r) continue;
      const kb = r[0]!.bytes !== undefined ? `${(r.reduce((n, x) => n + x.bytes!, 0) / r.length / 1024).toFixed(0)} kB` : '–';
      const rd = r[0]!.rounds !== undefined ? String(r[0]!.rounds) : '–';
      const e = r.reduce((n, x) => n + (x.energyJ ?? 0), 0) / r.length;
      console.log(
        `| ${split} | ${g} | ${arm} | ${describe(
          r.map((x) => x.rmse),
          2,
        )} | ${describe(
          r.map((x) => x.f1),
          3,
        )} | ${rd} | ${kb} | ${e.toFixed(0)} |`,
      );
    }
const pick = (arm: Arm) => results.get(label('non-iid', 4, arm));
const fed = pick('fedavg');
const pool = pick('pooled');
const loc = pick('local-only');
const m = (r: Score[] | undefined) =>
  r
    ? meanPlusMinus(
        r.map((x) => x.rmse),
        2,
      )
    : 'not run';
const mean = (r: Score[]) => r.reduce((n, x) => n + x.rmse, 0) / r.length;
// The first round whose global model (mean over seeds) is within 10 % of pooled, if any.
const within = (arm: Arm, p: Score[] | undefined): string => {
  const runs = seeds.map((seed) => curves.get(`${label('non-iid', 4, arm)}|${seed}`)).filter((c): c is number[] => !!c);
  if (!p || runs.length === 0) return '';
  const n = Math.min(...runs.map((c) => c.length));
  const avg = Array.from({ length: n }, (_, r) => runs.reduce((t, c) => t + c[r]!, 0) / runs.length);
  const first = avg.findIndex((x) => x <= 1.1 * mean(p));
  return `; mean RMSE by round ${avg.map((x) => x.toFixed(2)).join(' ')}, ${first >= 0 ? `within 1.10 × pooled from round ${first + 1}` : 'never within 1.10 × pooled'}`;
};
const ratio = (f: Score[] | undefined, p: Score[] | undefined) => (f && p ? `, ${(mean(f) / mean(p)).toFixed(2)} × pooled` : '');
if (fed || pick('fedprox'))
  console.log(
    `federated non-iid 4 gateways: RMSE ${m(fed ?? pick('fedprox'))} (pooled ${m(pool)}, local ${m(loc)})${ratio(fed ?? pick('fedprox'), pool)}${within(fed ? 'fedavg' : 'fedprox', pool)}; ${rounds} rounds, server optimiser ${a['server-opt']}${validationOnly ? ' (validation)' : ''}`,
  );
