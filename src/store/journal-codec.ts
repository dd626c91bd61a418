import type { IngestBatch, MachineEvent, MachineEventType } from '../core/types.js';

/**
 * Compact JSON for journal records: positional arrays instead of keyed objects, because every
 * accepted message is encoded once on the hot path.
 */
type EncodedSample = [site: string, line: string, machine: string, ts: number, values: Record<string, number>];
type EncodedEvent = [site: string, line: string, machine: string, ts: number, type: MachineEventType, component: string | null, note: string | null];
interface EncodedBatch {
  s?: EncodedSample[];
  e?: EncodedEvent[];
}

export function encodeBatch(batch: IngestBatch): Buffer {
  const out: EncodedBatch = {};
  if (batch.samples.length > 0) out.s = batch.samples.map((s) => [s.machine.site, s.machine.line, s.machine.machine, s.ts, s.values]);
  if (batch.events.length > 0) {
    out.e = batch.events.map((e) => [e.machine.site, e.machine.line, e.machine.machine, e.ts, e.type, e.component ?? null, e.note ?? null]);
  }
  return Buffer.from(JSON.stringify(out), 'utf8');
}

export function decodeBatch(buf: Buffer): IngestBatch {
  const raw = JSON.parse(buf.toString('utf8')) as EncodedBatch;
  return {
    samples: (raw.s ?? []).map(([site, line, machine, ts, values]) => ({ machine: { site, line, machine }, ts, values })),
    events: (raw.e ?? []).map(([site, line, machine, ts, type, component, note]) => {
      const e: MachineEvent = { machine: { site, line, machine }, ts, type };
      if (component !== null) e.component = component;
      if (note !== null) e.note = note;
      return e;
    }),
  };
}
