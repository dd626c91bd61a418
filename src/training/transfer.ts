import type { LayersModel } from '@tensorflow/tfjs';
import { inputNames, type Normalisation } from '../features/index.js';
import { type TF, type LstmSpec, transferMember } from '../model/index.js';
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
