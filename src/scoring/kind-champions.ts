import { ANY_KIND, type KindResolver } from '../core/kinds.js';
import type { SensorLayout } from '../core/sensor-layout.js';
import { smoothingWarmupSteps, type Normalisation } from '../features/index.js';

/**
 * Which model of one role scores which machine: each kind's champion (ANY_KIND: a model from before
 * kinds, for kinds without their own), why a kind has none, and each machine's kind (from the config,
 * or inferred from its sensors and cached per sensor layout, which machines with the same sensors share).
 */
export class KindChampions<C extends Champion> {
  private champions = new Map<string, C>();
  private reasons = new Map<string, string>();
  private defaultReason = 'no model trained yet';
  private readonly inferred = new WeakMap<SensorLayout, string>();

  constructor(private readonly kinds?: KindResolver) {}

  configured(machine: string): string | null {
    return this.kinds?.configured(machine) ?? null;
  }

  /** A machine's kind from its id and the sensors it sends, before it has a window (a restart's seed, a first reading). */
  kindOfSensors(machine: string, sensors: Iterable<string>): string {
    return this.configured(machine) ?? (this.kinds ? this.kinds.inferredKind(sensors) : ANY_KIND);
  }

  kindOf(configured: string | null, layout: SensorLayout): string {
    if (configured !== null) return configured;
    if (!this.kinds) return ANY_KIND;
    let kind = this.inferred.get(layout);
    if (kind === undefined) this.inferred.set(layout, (kind = this.kinds.inferredKind(layout.names)));
    return kind;
  }

  /** Replaces the champions and the reasons of `kinds` without one; false when nothing changed. */
  set(champions: ReadonlyMap<string, C>, whyNone: (kind: string) => string, kinds: Iterable<string>): boolean {
    const same = champions.size === this.champions.size && [...champions].every(([k, c]) => this.champions.get(k)?.version === c.version);
    const all = new Set([...this.reasons.keys(), ...kinds]);
    const reasons = new Map([...all].filter((k) => !serving(champions, k)).map((k) => [k, whyNone(k)]));
    const defaultReason = whyNone(ANY_KIND);
    if (same && defaultReason === this.defaultReason && [...reasons].every(([k, r]) => this.reasons.get(k) === r)) return false;
    this.champions = new Map(champions);
    this.reasons = reasons;
    this.defaultReason = defaultReason;
    return true;
  }

  servingFor(kind: string): C | null {
    return serving(this.champions, kind);
  }

  whyNone(kind: string): string {
    return this.reasons.get(kind) ?? this.defaultReason;
  }

  get size(): number {
    return this.champions.size;
  }

  get defaultWhyNone(): string {
    return this.defaultReason;
  }

  /** Every champion's version, once: what the inference worker keeps loaded. */
  versions(): string[] {
    return [...new Set([...this.champions.values()].map((c) => c.version))];
  }

  byKind(): Record<string, string> {
    return Object.fromEntries([...this.champions].map(([k, c]) => [k, c.version]));
  }

  /** One version when one model serves every kind; else each kind's, as `version (kind)`. */
  describe(): string | null {
    if (this.champions.size === 0) return null;
    if (this.champions.size === 1) return [...this.champions.values()][0]!.version;
    return [...this.champions]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, c]) => `${c.version} (${k})`)
      .join(', ');
  }
}

/** What a champion of either role must say for its machines' windows to be kept. */
interface Champion {
  version: string;
  meta: { stepMs: number; window: number };
}

function serving<C>(champions: ReadonlyMap<string, C>, kind: string): C | null {
  return champions.get(kind) ?? champions.get(ANY_KIND) ?? null;
}

/** What a champion needs of a machine's history: its step, its window, and its inputs' smoothing. */
export interface GridNeeds {
  stepMs: number;
  window: number;
  normalisation?: Pick<Normalisation, 'smoothing'>;
}

/** The grid a machine's window is kept on: the step it is scored at, and the steps it keeps. */
export interface Grid {
  stepMs: number;
  keep: number;
}

/**
 * A kind's grid: its champions' step (the failure model's first, of either role), with room for the
 * longest of their windows on that step (and the history a model's smoothed inputs settle over
 * before its window); before its first model, its recipe's step and window.
 */
export function kindGrid(
  champions: ReadonlyArray<GridNeeds | undefined>,
  recipe: { stepMs: number; windowSteps: number },
  maxGapSteps: number,
): Grid {
  const grids = champions.filter((c): c is GridNeeds => c !== undefined);
  const stepMs = grids[0]?.stepMs ?? recipe.stepMs;
  const windows = grids
    .filter((g) => g.stepMs === stepMs)
    .map((g) => g.window + (g.normalisation ? smoothingWarmupSteps(g.normalisation) : 0));
  // The recipe's window counts only on its own step (a recipe changed since the models were trained may not be).
  if (recipe.stepMs === stepMs) windows.push(recipe.windowSteps);
  return { stepMs, keep: Math.max(...windows) + maxGapSteps + 2 };
}
