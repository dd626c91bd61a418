import type { KindGroup } from '../features/index.js';
import type { ModelRegistry } from '../registry/index.js';
import type { Validation } from './pipeline.js';
import { NotEnoughDataError } from './types.js';

/**
 * The kind a run trains: the one asked for, else the kind most in need — kinds with labelled
 * failures before those without, then kinds without a champion, then the most failures, then by name.
 */
export function chooseKind(
  kinds: KindGroup[],
  asked: string | undefined,
  registry: Pick<ModelRegistry, 'championVersion'>,
  failedMachines: readonly string[] = [],
): KindGroup {
  if (kinds.length === 0) throw new NotEnoughDataError('no failure events: no machines in the store yet, nothing to learn from');
  if (asked !== undefined) {
    const k = kinds.find((g) => g.kind === asked);
    if (!k) throw new NotEnoughDataError(`no machine of kind ${asked} in the store (kinds: ${kinds.map((g) => g.kind).join(', ')})`);
    return k;
  }
  const failures = new Map(kinds.map((g) => [g.kind, 0]));
  const kindOfMachine = new Map(kinds.flatMap((g) => g.machines.map((m) => [m, g.kind] as const)));
  for (const m of failedMachines) {
    const k = kindOfMachine.get(m);
    if (k !== undefined) failures.set(k, failures.get(k)! + 1);
  }
  const rank = (g: KindGroup) => (failures.get(g.kind)! > 0 ? 0 : 2) + (registry.championVersion(g.kind) === null ? 0 : 1);
  return [...kinds].sort((a, b) => rank(a) - rank(b) || failures.get(b.kind)! - failures.get(a.kind)! || (a.kind < b.kind ? -1 : 1))[0]!;
}

/**
 * A kind's first model, transferred from another kind's champion: promoted on fewer validation
 * failures than a model from scratch, but only when it beats its source unchanged on them (PR-AUC no
 * lower, RUL RMSE no higher, one strictly better), so it is measured, and better than what it came from.
 */
export function decideTransfer(
  challenger: Validation,
  source: (Validation & { version: string }) | null,
  o: { minValidationFailures: number; kind: string },
): { promoted: boolean; reason: string } {
  const failures = challenger.lead.detected + challenger.lead.missed;
  if (failures < o.minValidationFailures)
    return {
      promoted: false,
      reason: `transferred model: validation holds ${failures} failure${failures === 1 ? '' : 's'}, fewer than learning.transfer.minValidationFailures (${o.minValidationFailures})`,
    };
  if (!source) return { promoted: false, reason: 'transferred model: its source could not be scored on the same data' };
  const c = challenger.classification.prAuc;
  const k = source.classification.prAuc;
  const cr = challenger.rul.rmse;
  const kr = source.rul.rmse;
  const fmt = `PR-AUC ${c.toFixed(3)} vs ${k.toFixed(3)}, RUL RMSE ${cr.toFixed(2)} vs ${kr.toFixed(2)} for ${source.version} unchanged`;
  if (c >= k && cr <= kr && (c > k || cr < kr))
    return {
      promoted: true,
      reason: `first model of ${o.kind}, transferred from ${source.version}: validated on ${failures} failure${failures === 1 ? '' : 's'}; ${fmt}`,
    };
  return { promoted: false, reason: `transferred model does not beat its source: ${fmt}` };
}

/**
 * Champion/challenger on the same held-out data: the challenger wins when its failure head ranks
 * at least as well (PR-AUC) and its RUL error is no worse (RMSE), and one of them is strictly better.
 */
export function decide(
  challenger: Validation,
  champion: (Validation & { version: string }) | null,
  o: { minValidationFailures: number; kind?: string } = { minValidationFailures: 1 },
): { promoted: boolean; reason: string } {
  // Failures the held-out machines hold (each counted once, however many windows lead up to it).
  const failures = challenger.lead.detected + challenger.lead.missed;
  if (failures < o.minValidationFailures)
    return {
      promoted: false,
      reason: `validation holds ${failures} failure${failures === 1 ? '' : 's'}, fewer than learning.minValidationFailures (${o.minValidationFailures}): its metrics would be unmeasured`,
    };
  if (!champion)
    return {
      promoted: true,
      reason: `first model${o.kind ? ` of ${o.kind}` : ''}: no champion yet; validated on ${failures} failures`,
    };
  const c = challenger.classification.prAuc;
  const k = champion.classification.prAuc;
  const cr = challenger.rul.rmse;
  const kr = champion.rul.rmse;
  const fmt = `PR-AUC ${c.toFixed(3)} vs ${k.toFixed(3)}, RUL RMSE ${cr.toFixed(2)} vs ${kr.toFixed(2)} (champion ${champion.version})`;
  if (c >= k && cr <= kr && (c > k || cr < kr)) return { promoted: true, reason: `beats the champion: ${fmt}` };
  return { promoted: false, reason: `does not beat the champion: ${fmt}` };
}
