import { inputNames } from '../features/index.js';
import type { MachineRef } from '../core/types.js';
import type { InferenceClient } from './inference-client.js';
import type { ScoreHistory } from './score-history.js';
import type { ChampionView, MachineScore, ScoreListener } from './types.js';

/** A machine's window, ready for a model: its inputs, the end of its data, the inputs it lacked. */
export interface ReadyWindow {
  machine: string;
  ref: MachineRef;
  x: Float32Array;
  endTs: number;
  missing: string[];
}

/** What one batch of the inference worker cost, for the service's figures. */
export interface BatchCost {
  ms: number;
  scored: number;
}

/**
 * The failure role: a kind's failure champion turns a batch of windows into p(failure) within the
 * horizon, RUL and the sensors that raised the risk (occlusion), kept in the score history and
 * handed to the listeners (the alert engine). A second model role is a second object of this shape
 * in the service's map of roles.
 */
export class FailureRole {
  readonly name = 'failure' as const;
  private readonly listeners: ScoreListener[] = [];

  constructor(
    private readonly inference: InferenceClient,
    private readonly history: ScoreHistory,
    private readonly topSensors: number,
  ) {}

  onScore(listener: ScoreListener): void {
    this.listeners.push(listener);
  }

  /** Scores the windows with the champion; returns each machine's score in their order. */
  async score(champion: ChampionView, ready: readonly ReadyWindow[], now: number): Promise<{ scores: MachineScore[]; cost: BatchCost }> {
    const meta = champion.meta;
    const F = inputNames(meta.normalisation).length;
    const S = meta.normalisation.sensors.length;
    const size = meta.window * F;
    const x = new Float32Array(ready.length * size);
    ready.forEach((r, i) => x.set(r.x, i * size));
    const reply = await this.inference.request({
      type: 'score',
      version: champion.version,
      x,
      n: ready.length,
      windowSteps: meta.window,
      features: F,
      // The sensors only: they come first; the regime inputs after them are not a reason a technician can act on.
      occlude: this.topSensors > 0 ? S : 0,
    });
    if (reply.type !== 'scores') throw new Error(reply.type === 'error' ? reply.message : 'unexpected reply from the inference worker');
    const scores = ready.map(({ endTs, missing }, i): MachineScore => {
      const p = reply.p[i]!;
      const rulSteps = Math.min(meta.rulCap, Math.max(0, reply.rul[i]! * meta.rulCap));
      return {
        at: now,
        dataTs: endTs,
        probability: p,
        rulSteps,
        rulMs: rulSteps * meta.stepMs,
        model: champion.version,
        topSensors: reply.occludedP
          ? topContributions(p, reply.occludedP.subarray(i * S, (i + 1) * S), meta.normalisation.sensors, this.topSensors)
          : [],
        missingInputs: missing,
      };
    });
    this.history.record(
      scores.map((s, i) => ({
        machine: ready[i]!.machine,
        dataTs: s.dataTs,
        at: now,
        probability: s.probability,
        rulSteps: s.rulSteps,
        model: s.model,
      })),
    );
    return { scores, cost: { ms: reply.ms, scored: scores.length } };
  }

  /** Tells the listeners, once the service has recorded the scores. */
  announce(scored: ReadonlyArray<{ ref: MachineRef; score: MachineScore }>, threshold: number): void {
    for (const { ref, score } of scored) for (const l of this.listeners) l(ref, score, threshold);
  }
}

/** Sensors whose removal lowers p(failure) most: they pushed the score up. */
export function topContributions(
  p: number,
  occluded: Float32Array,
  sensors: readonly string[],
  n: number,
): Array<{ sensor: string; contribution: number }> {
  // The sensors that raise the risk, most first: one that lowers it does not explain an alert.
  return sensors
    .map((sensor, f) => ({ sensor, contribution: p - occluded[f]! }))
    .filter((t) => t.contribution > 0)
    .sort((a, b) => b.contribution - a.contribution)
    .slice(0, n);
}
