/**
 * Each kind's learning recipe: the global `learning` and `health` settings, with what the kind's entry
 * in `kinds:` sets in their place. A valve that wears out in days and a bearing that wears out in
 * weeks need other steps, windows and horizons; every run, scoring grid and alert of a kind reads its
 * settings through here, so one kind's recipe never leaks into another's.
 */
import type { ProblemReport } from '../config/load.js';
import type { HealthConfig, KindRecipe, KindRecipes, LearningConfig } from './config.js';

export interface RecipeSections {
  learning: LearningConfig;
  health: HealthConfig;
  kinds: KindRecipes;
}

/** The kind's own entry (an own property only: a kind named `constructor` has none unless configured). */
export function recipeOf(c: Pick<RecipeSections, 'kinds'>, kind: string): KindRecipe | null {
  return Object.hasOwn(c.kinds, kind) ? c.kinds[kind]! : null;
}

const LEARNING_KEYS = ['step', 'window', 'stride', 'smoothing', 'horizon', 'rulCap', 'sensors', 'conditions'] as const;

/** The learning settings of a kind's failure predictor (and the grid both its roles learn on). */
export function learningFor(c: Pick<RecipeSections, 'learning' | 'kinds'>, kind: string): LearningConfig {
  const r = recipeOf(c, kind);
  if (!r) return c.learning;
  const out: LearningConfig = { ...c.learning, model: { ...c.learning.model, ...defined(r.model ?? {}) } };
  for (const key of LEARNING_KEYS) if (r[key] !== undefined) (out as unknown as Record<string, unknown>)[key] = r[key];
  return out;
}

/** The health model's settings of a kind, its window resolved (the kind's health window, else its window). */
export function healthFor(c: RecipeSections, kind: string): HealthConfig & { window: number } {
  const r = recipeOf(c, kind);
  const h = { ...c.health, ...defined(r?.health ?? {}) };
  const window = r?.health?.window ?? r?.window ?? c.health.window ?? c.learning.window;
  return { ...h, window };
}

/** The settings a kind's recipe sets, as paths (`step`, `model.units`, `health.window`): what a model of it says it was trained with. */
export function recipeOverrides(c: Pick<RecipeSections, 'kinds'>, kind: string): string[] {
  const r = recipeOf(c, kind);
  if (!r) return [];
  const out: string[] = LEARNING_KEYS.filter((k) => r[k] !== undefined);
  for (const [k, v] of Object.entries(r.model ?? {})) if (v !== undefined) out.push(`model.${k}`);
  for (const [k, v] of Object.entries(r.health ?? {})) if (v !== undefined) out.push(`health.${k}`);
  return out;
}

/** Where a kind's machines are kept for scoring before a model says otherwise: its step, and its longest window of either role. */
export function recipeGrid(c: RecipeSections, kind: string): { stepMs: number; windowSteps: number } {
  const l = learningFor(c, kind);
  return { stepMs: l.step, windowSteps: Math.max(l.window, healthFor(c, kind).window) };
}

/** Data time a failure may come after a risk alert closed and still be the one it warned of: the kind's horizon. */
export function horizonMs(c: Pick<RecipeSections, 'learning' | 'kinds'>, kind: string | null): number {
  const l = kind === null ? c.learning : learningFor(c, kind);
  return l.horizon * l.step;
}

/** The longest scoring window of any recipe, in time: what counts as live rather than backfill by default. */
export function longestWindowMs(c: RecipeSections): number {
  const kinds = Object.keys(c.kinds);
  const grid = (k: string | null) => (k === null ? { stepMs: c.learning.step, windowSteps: c.learning.window } : recipeGrid(c, k));
  return Math.max(...[null, ...kinds].map((k) => grid(k)).map((g) => g.stepMs * g.windowSteps));
}

/**
 * Each kind's recipe judged as a whole, as `checkLearning` judges the global one: RUL capped above the
 * horizon, and a kind some `machines:` entry names (a recipe of no kind applies to no machine).
 */
export function checkKinds(c: RecipeSections & { machines: ReadonlyArray<{ kind: string }> }, problem: ProblemReport): void {
  const named = new Set(c.machines.map((m) => m.kind));
  for (const kind of Object.keys(c.kinds)) {
    const at = `kinds.${kind}`;
    const l = learningFor(c, kind);
    if (!named.has(kind))
      problem(at, `no machines: entry is of kind ${kind}, so this recipe applies to no machine (kinds are named in machines:)`);
    if (!(l.step >= 1)) problem(`${at}.step`, 'must be at least 1 ms (e.g. 10m)');
    if (l.rulCap <= l.horizon)
      problem(
        `${at}.rulCap`,
        `must exceed the kind's horizon (${l.horizon} steps), or RUL can never say more than the horizon; e.g. ${Math.max(125, 2 * l.horizon)}`,
      );
    const h = healthFor(c, kind);
    if (h.window < 4) problem(`${at}.health.window`, `the kind's health window comes to ${h.window} steps; it needs at least 4`);
  }
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A kind's recipe as the API shows it: what its next run of either role learns with, and what its own entry set. */
export interface RecipeView {
  stepMs: number;
  window: number;
  /** Weight of the newest step in the inputs' smoothing (1 = none). */
  smoothing: number;
  horizon: number;
  rulCap: number;
  conditions: string[];
  units: number[];
  pooling: 'last' | 'attention';
  rulLateWeight: number;
  members: number;
  health: { window: number; units: number[] };
  overrides: string[];
}

export function recipeView(c: RecipeSections, kind: string): RecipeView {
  const l = learningFor(c, kind);
  const h = healthFor(c, kind);
  return {
    stepMs: l.step,
    window: l.window,
    smoothing: l.smoothing,
    horizon: l.horizon,
    rulCap: l.rulCap,
    conditions: l.conditions,
    units: l.model.units,
    pooling: l.model.pooling,
    rulLateWeight: l.model.rulLateWeight,
    members: l.model.members,
    health: { window: h.window, units: h.units },
    overrides: recipeOverrides(c, kind),
  };
}
