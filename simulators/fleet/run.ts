import { writeFileSync, renameSync } from 'node:fs';
import { Pacer } from '../core/pacer.js';
import type { MessageSink } from '../core/sink.js';
import { Fleet, type GroundTruth } from './fleet.js';
import type { Scenario } from './scenario.js';

export interface SimulationOptions {
  sink: MessageSink;
  speed: number | 'max';
  /** Wall-clock time now; the default simulated start is derived from it. */
  now: number;
  truthFile?: string;
  signal?: AbortSignal;
  onProgress?: (p: SimulationProgress) => void;
}

export interface SimulationProgress {
  simTs: number;
  fraction: number;
  messages: number;
  events: number;
}

export interface SimulationSummary {
  messages: number;
  readings: number;
  events: number;
  failures: number;
  startTs: number;
  endTs: number;
  truth: GroundTruth;
}

/** Steps the fleet through simulated time, publishing as it goes, and writes the ground truth. */
export async function runSimulation(scenario: Scenario, options: SimulationOptions): Promise<SimulationSummary> {
  // By default the run ends with simulated time reaching the wall clock, never ahead of it: live at
  // speed 1, all history at "max", in between otherwise (a daemon refuses readings from the future).
  const lag = options.speed === 'max' ? 1 : 1 - 1 / Math.max(1, options.speed);
  const startTs = scenario.startMs ?? Math.round(options.now - scenario.durationMs * lag);
  const fleet = new Fleet(scenario, startTs);
  const endTs = startTs + scenario.durationMs;
  const pacer = new Pacer(options.speed);
  pacer.start(startTs);
  const summary = { messages: 0, readings: 0, events: 0 };
  let lastProgress = 0;
  let t = startTs;
  for (; t < endTs; t += scenario.intervalMs) {
    if (options.signal?.aborted) break;
    for (const msg of fleet.step(t)) {
      const wait = options.sink.publish(msg.topic, JSON.stringify(msg.payload));
      if (wait) await wait;
      summary.messages++;
      if ('values' in msg.payload) summary.readings += Object.keys(msg.payload.values).length;
      else summary.events++;
    }
    await pacer.due(t);
    if (options.onProgress && summary.messages - lastProgress >= 1000) {
      lastProgress = summary.messages;
      options.onProgress({ simTs: t, fraction: (t - startTs) / scenario.durationMs, messages: summary.messages, events: summary.events });
    }
  }
  const truth = fleet.finish(Math.min(t, endTs));
  if (options.truthFile) writeJsonAtomically(options.truthFile, truth);
  return { ...summary, failures: truth.failures.length, startTs, endTs: truth.endTs, truth };
}

function writeJsonAtomically(file: string, value: unknown): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 1)}\n`);
  renameSync(tmp, file);
}
