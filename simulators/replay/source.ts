import type { MachineEventType, MachineRef } from '../../src/core/types.js';

export interface ReplayReading {
  kind: 'reading';
  machine: MachineRef;
  ts: number;
  values: Record<string, number>;
}

export interface ReplayEvent {
  kind: 'event';
  machine: MachineRef;
  ts: number;
  type: MachineEventType;
  component?: string;
  note?: string;
}

export type ReplayItem = ReplayReading | ReplayEvent;

/** A refused input row: which file and line, and why. */
export interface RowError {
  file: string;
  line: number;
  reason: string;
}

export class StrictModeError extends Error {
  constructor(readonly row: RowError) {
    super(`${row.file}:${row.line}: ${row.reason}`);
    this.name = 'StrictModeError';
  }
}

/** A dataset to replay, in time order. Items carry timestamps already shifted to the replay's start. */
export interface ReplaySource {
  readonly description: string;
  /** Messages expected per pass, when known (for progress). */
  readonly total: number | null;
  /** Time span of one pass, for `--loop` shifting. */
  readonly spanMs: number;
  readonly errors: RowError[];
  /** One pass; `shiftMs` is added to every timestamp (0 on the first pass). */
  items(shiftMs: number): AsyncIterable<ReplayItem>;
}
