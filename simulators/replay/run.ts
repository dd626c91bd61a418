import { Pacer } from '../core/pacer.js';
import type { MessageSink } from '../core/sink.js';
import type { ReplaySource, RowError } from './source.js';

export interface ReplayOptions {
  sink: MessageSink;
  speed: number | 'max';
  /** Messages per second at most. */
  rateLimit: number | null;
  /** Passes over the data: 1, a number, or Infinity for `--loop` until stopped. */
  passes: number;
  topicPrefix: string;
  signal?: AbortSignal;
  onProgress?: (p: { messages: number; pass: number }) => void;
}

export interface ReplaySummary {
  messages: number;
  readings: number;
  events: number;
  passes: number;
  errors: RowError[];
  seconds: number;
}

/**
 * Publishes a source in time order, paced by its timestamps. Each further pass is shifted by the
 * data's span so that no (machine, sensor, timestamp) repeats.
 */
export async function runReplay(source: ReplaySource, o: ReplayOptions): Promise<ReplaySummary> {
  const pacer = new Pacer(o.speed, o.rateLimit);
  const summary: ReplaySummary = { messages: 0, readings: 0, events: 0, passes: 0, errors: source.errors, seconds: 0 };
  const t0 = performance.now();
  let started = false;
  for (let pass = 0; pass < o.passes && !o.signal?.aborted; pass++) {
    const before = summary.messages;
    for await (const item of source.items(pass * source.spanMs)) {
      if (o.signal?.aborted) break;
      if (!started) {
        pacer.start(item.ts);
        started = true;
      }
      await pacer.due(item.ts);
      const m = item.machine;
      const base = `${o.topicPrefix}/${m.site}/${m.line}/${m.machine}`;
      let wait;
      if (item.kind === 'reading') {
        wait = o.sink.publish(`${base}/telemetry`, JSON.stringify({ ts: item.ts, values: item.values }));
        summary.readings += Object.keys(item.values).length;
      } else {
        const { kind: _k, machine: _m, ...event } = item;
        wait = o.sink.publish(`${base}/events`, JSON.stringify(event));
        summary.events++;
      }
      if (wait) await wait;
      summary.messages++;
      if (o.onProgress && summary.messages % 500 === 0) o.onProgress({ messages: summary.messages, pass });
    }
    summary.passes = pass + 1;
    // A pass that published nothing (no valid rows) would make `--loop` spin forever.
    if (summary.messages === before) break;
  }
  summary.seconds = (performance.now() - t0) / 1000;
  return summary;
}
