import { isHealthMeta, type AnyModelMeta } from './meta.js';

/** A step as people write it in the config: 30s, 10m, 2h, 1d. */
export function stepText(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const)
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/**
 * The recipe a model was trained with, in one line: its grid, labels and size, the condition channels
 * of its regimes, and which of them its kind's own recipe set (the rest were the global settings).
 */
export function recipeText(m: AnyModelMeta): string {
  const parts = [`step ${stepText(m.stepMs)}`, `window ${m.window}`];
  if (m.normalisation.smoothing) parts.push(`inputs smoothed ${m.normalisation.smoothing.alpha}`);
  if (!isHealthMeta(m)) parts.push(`horizon ${m.horizon}`, `RUL cap ${m.rulCap}`);
  parts.push(`LSTM ${m.architecture.units.join('/')}${!isHealthMeta(m) && m.architecture.pooling === 'attention' ? ' + attention' : ''}`);
  if (!isHealthMeta(m) && m.architecture.rulLateWeight !== undefined && m.architecture.rulLateWeight !== 1)
    parts.push(`late RUL errors ×${m.architecture.rulLateWeight}`);
  const conditions = m.normalisation.regimes?.model.conditions;
  if (conditions) parts.push(`conditions ${conditions.join(', ')}`);
  const overrides = m.recipe?.overrides ?? [];
  const source = !m.recipe ? '' : overrides.length > 0 ? ` (kind's recipe: ${overrides.join(', ')})` : ' (global settings)';
  return parts.join(' · ') + source;
}
