import type { LayersModel } from '@tensorflow/tfjs';
import { Rng } from '../core/random.js';
import {
  applyNormalisation,
  buildWindows,
  concatWindows,
  inputNames,
  oversamplePositives,
  type LabelledSegment,
  type Normalisation,
  type WindowSet,
} from '../features/index.js';
import { type TF, type LstmSpec, transferMember } from '../model/index.js';
import type { PreparedData } from './pipeline.js';
import { kindOf, poolingOf, type ModelMeta, type ModelRegistry } from '../registry/index.js';

/**
 * The champion a new kind starts from: of another kind, on the same step, window and architecture,
 * sharing the most sensors with it (at least `minShared` of its sensors); null when none does.
 */
export function transferSource(
  registry: Pick<ModelRegistry, 'champions' | 'failureMeta'>,
  kind: string,
  sensors: readonly string[],
  o: {
    stepMs: number;
    window: number;
    horizon: number;
    rulCap: number;
    units: readonly number[];
    pooling: 'last' | 'attention';
    minShared: number;
  },
): ModelMeta | null {
  let best: { meta: ModelMeta; shared: number } | null = null;
  for (const [k, version] of Object.entries(registry.champions())) {
    if (k === kind) continue;
    const meta = registry.failureMeta(version);
    const compatible =
      meta.stepMs === o.stepMs &&
      meta.window === o.window &&
      meta.horizon === o.horizon &&
      meta.rulCap === o.rulCap &&
      JSON.stringify(meta.architecture.units) === JSON.stringify(o.units) &&
      poolingOf(meta) === o.pooling;
    if (!compatible) continue;
    const shared = sensors.filter((s) => meta.normalisation.sensors.includes(s)).length;
    if (shared / Math.max(1, sensors.length) < o.minShared) continue;
    if (!best || shared > best.shared || (shared === best.shared && kindOf(meta) < kindOf(best.meta))) best = { meta, shared };
  }
  return best?.meta ?? null;
}

/**
 * The source's members as starting points on the new kind's inputs. Regime inputs are never shared:
 * "regime 2" of one kind's clustering is not "regime 2" of another's.
 */
export function transferredMembers(
  tf: TF,
  source: LayersModel,
  sourceNorm: Normalisation,
  targetNorm: Normalisation,
  spec: LstmSpec,
  members: number,
): LayersModel[] {
  const sensorsOnly = (norm: Normalisation, side: string) =>
    inputNames(norm).map((n, i) => (i < norm.sensors.length ? n : `\u0000${side} ${n}`));
  const out: LayersModel[] = [];
  for (let k = 0; k < members; k++) {
    const t = transferMember(tf, source, sensorsOnly(sourceNorm, 'source'), sensorsOnly(targetNorm, 'target'), k, {
      ...spec,
      seed: spec.seed + 1000 * k,
    });
    if (t) out.push(t.model);
  }
  return out;
}

/**
 * Rehearsal: the source kind's labelled machines, whole and in a seeded order, until their windows
 * number `ratio` × the new kind's (`target`, before oversampling), on the new kind's scaling and
 * inputs (a sensor the source lacks reads as its mean), failures oversampled as the new kind's are.
 * Fine-tuned beside the few new failures, the model keeps the failure mode the source knows while it
 * learns the new kind's (chosen on C-MAPSS validation, docs/predictor.md). The new kind's windows come
 * first; validation stays the new kind's own.
 */
export function withRehearsal(
  target: { train: WindowSet; trainWindows: number },
  source: readonly LabelledSegment[],
  norm: Normalisation,
  o: { ratio: number; windowSteps: number; stride: number; positiveShare: number; seed: number },
): { train: WindowSet; windows: number; machines: number } {
  const want = Math.round(o.ratio * target.trainWindows);
  if (want <= 0 || source.length === 0) return { train: target.train, windows: 0, machines: 0 };
  const rng = new Rng(o.seed ^ 0x4e4ea5);
  const byMachine = new Map<string, LabelledSegment[]>();
  for (const item of source) {
    const list = byMachine.get(item.seg.machine);
    if (list) list.push(item);
    else byMachine.set(item.seg.machine, [item]);
  }
  const machines = [...byMachine.keys()].sort();
  rng.shuffle(machines);
  const chosen: LabelledSegment[] = [];
  let windows = 0;
  let used = 0;
  for (const m of machines) {
    if (windows >= want) break;
    for (const item of byMachine.get(m)!) {
      chosen.push({ seg: applyNormalisation(item.seg, norm), labels: item.labels });
      windows += countWindows(item, o.windowSteps, o.stride);
    }
    used++;
  }
  const built = buildWindows(chosen, o.windowSteps, o.stride);
  if (built.n === 0) return { train: target.train, windows: 0, machines: 0 };
  const rehearsed = oversamplePositives(built, o.positiveShare, () => rng.next());
  return { train: concatWindows(target.train, rehearsed), windows: built.n, machines: used };
}

/** How many windows buildWindows takes from an item (its usable steps, stride apart from the newest). */
function countWindows(item: LabelledSegment, windowSteps: number, stride: number): number {
  let n = 0;
  for (let k = item.seg.steps - 1; k >= windowSteps - 1; k -= stride) if (item.labels.usable[k]) n++;
  return n;
}

/**
 * Rehearsal on a run's training part, or on each fold's as its member trains (members on folds).
 * Returns what it added (the most any member trained beside, with folds), updated as folds are
 * built; null when it adds nothing.
 */
export function rehearseData(
  data: PreparedData,
  source: readonly LabelledSegment[],
  o: { ratio: number; windowSteps: number; stride: number; positiveShare: number; seed: number },
): { windows: number; machines: number } | null {
  if (o.ratio <= 0 || source.length === 0) return null;
  const added = { windows: 0, machines: 0 };
  const note = (r: { windows: number; machines: number }) => {
    added.windows = Math.max(added.windows, r.windows);
    added.machines = Math.max(added.machines, r.machines);
  };
  if (data.folds) {
    const folds = data.folds;
    data.folds = {
      count: folds.count,
      build: (k) => {
        const fold = folds.build(k);
        const r = withRehearsal(fold, source, data.norm, { ...o, seed: o.seed + k });
        note(r);
        data.report.trainWindowsBalanced = Math.max(data.report.trainWindowsBalanced, r.train.n);
        return { ...fold, train: r.train };
      },
    };
    return added;
  }
  const r = withRehearsal({ train: data.train, trainWindows: data.report.trainWindows }, source, data.norm, o);
  if (r.windows === 0) return null;
  note(r);
  data.train = r.train;
  data.report.trainWindowsBalanced = r.train.n;
  return added;
}
