import { healthIndex, smoothScore } from '../model/index.js';
import type { MachineRef } from '../core/types.js';
import type { InferenceClient } from './inference-client.js';
import type { BatchCost, ReadyWindow } from './failure-role.js';
import type { HealthHistory } from './health-history.js';
import type { HealthChampionView, HealthListener, MachineHealth } from './types.js';

interface Smoothing {
  version: string;
  smoothed: number;
  lastDataTs: number;
}

/** Deviations smaller than this (in the sensor's normal spread) explain nothing. */
const NOTABLE_SIGMAS = 2;

/**
 * The health role: a kind's health champion reconstructs each machine's window, the inference worker
 * turns the residuals into an anomaly score, and here it is smoothed over data time per machine into
 * a health index (100 = like its normal), with the sensors that depart most and by how much. Kept in
 * the health history and handed to the listeners (the anomaly alerts).
 */
export class HealthRole {
  readonly name = 'health' as const;
  private readonly listeners: HealthListener[] = [];
  /** Per machine: one number and a time, bounded like the fleet it scores. */
  private readonly smoothing = new Map<string, Smoothing>();

  constructor(
    private readonly inference: InferenceClient,
    private readonly history: HealthHistory,
    private readonly topSensors: number,
  ) {}

  onHealth(listener: HealthListener): void {
    this.listeners.push(listener);
  }

  /** A repair or a failure starts the machine afresh: its smoothing starts from normal again. */
  reset(machine: string): void {
    this.smoothing.delete(machine);
  }

  async score(
    champion: HealthChampionView,
    ready: readonly ReadyWindow[],
    now: number,
  ): Promise<{ healths: MachineHealth[]; cost: BatchCost }> {
    const meta = champion.meta;
    const sensors = meta.normalisation.sensors;
    const S = sensors.length;
    const F = ready[0]!.x.length / meta.window;
    const x = new Float32Array(ready.length * meta.window * F);
    const known = new Uint8Array(ready.length * S).fill(1);
    ready.forEach((r, i) => {
      x.set(r.x, i * meta.window * F);
      for (const name of r.missing) {
        const s = sensors.indexOf(name);
        if (s >= 0) known[i * S + s] = 0;
      }
    });
    const reply = await this.inference.request({
      type: 'health',
      version: champion.version,
      x,
      n: ready.length,
      windowSteps: meta.window,
      features: F,
      sensors: S,
      known,
    });
    if (reply.type !== 'health') throw new Error(reply.type === 'error' ? reply.message : 'unexpected reply from the inference worker');
    const c = meta.calibration;
    const healths = ready.map((r, i): MachineHealth => {
      const before = this.smoothing.get(r.machine);
      // A gap longer than a window, or another model, starts the smoothing afresh from normal.
      const fresh = !before || before.version !== champion.version || r.endTs - before.lastDataTs > meta.window * meta.stepMs;
      const previous = fresh ? c.scale.median : before.smoothed;
      const dtSteps = fresh ? 1 : (r.endTs - before.lastDataTs) / meta.stepMs;
      const smoothed =
        r.endTs <= (before?.lastDataTs ?? -Infinity) && !fresh
          ? before.smoothed
          : smoothScore(previous, reply.score[i]!, dtSteps, c.smoothingSteps);
      this.smoothing.set(r.machine, {
        version: champion.version,
        smoothed,
        lastDataTs: Math.max(r.endTs, before?.lastDataTs ?? -Infinity),
      });
      return {
        at: now,
        dataTs: r.endTs,
        windowStartTs: r.endTs - meta.window * meta.stepMs,
        index: healthIndex(smoothed, c.scale),
        threshold: c.threshold,
        score: smoothed,
        model: champion.version,
        deviations: this.deviations(reply.features.subarray(i * 2 * S, (i + 1) * 2 * S), champion),
        missingInputs: r.missing,
      };
    });
    this.history.record(
      healths.map((h, i) => ({ machine: ready[i]!.machine, dataTs: h.dataTs, at: now, index: h.index, score: h.score, model: h.model })),
    );
    return { healths, cost: { ms: reply.ms, scored: healths.length } };
  }

  /** The sensors whose mean residual departs most from normal, in their spread and in their own unit. */
  private deviations(features: Float32Array, champion: HealthChampionView): MachineHealth['deviations'] {
    const { calibration: c, normalisation: norm } = champion.meta;
    const out: MachineHealth['deviations'] = [];
    norm.sensors.forEach((sensor, s) => {
      const f = features[s]!;
      if (Number.isNaN(f)) return;
      const sigmas = (f - c.mean[s]!) / c.sd[s]!;
      if (Math.abs(sigmas) >= NOTABLE_SIGMAS)
        out.push({ sensor, sigmas: Math.round(sigmas * 10) / 10, delta: round3((f - c.mean[s]!) * norm.std[s]!) });
    });
    return out.sort((a, b) => Math.abs(b.sigmas) - Math.abs(a.sigmas)).slice(0, this.topSensors);
  }

  announce(scored: ReadonlyArray<{ ref: MachineRef; health: MachineHealth; kind: string }>): void {
    for (const { ref, health, kind } of scored) for (const l of this.listeners) l(ref, health, kind);
  }
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;
