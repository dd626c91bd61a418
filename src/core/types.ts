/** Where a machine sits in the plant; `machine` alone identifies it on this gateway. */
export interface MachineRef {
  site: string;
  line: string;
  machine: string;
}

/**
 * One timestamped set of sensor values of one machine. Each (machine, sensor, ts) is one
 * reading, and that triple is a reading's identity: storing it twice overwrites, never duplicates.
 */
export interface Sample {
  machine: MachineRef;
  /** Epoch milliseconds. */
  ts: number;
  values: Record<string, number>;
  /** The values' decimal text as received, when the decoder kept it (see ValueText). */
  valueText?: ValueText;
}

/**
 * Where each value's decimal text lies in the received payload, for stores that write numbers as
 * text (InfluxDB line protocol) and can copy it instead of formatting the double again: `spans` holds
 * start and end offsets into `bytes`, in the order of `names`. The text reads back as exactly the
 * double in `values`. Valid only while the message is being handled: the bytes may be reused after.
 */
export interface ValueText {
  bytes: Uint8Array;
  names: string[];
  spans: number[];
}

/**
 * New types go at the end: the store's binary batches carry a type as its index here. `normal` and
 * `abnormal` are technicians' verdicts on the machine's anomaly alert (e.g. from a CMMS bridge).
 */
export const MACHINE_EVENT_TYPES = ['failure', 'maintenance', 'repair', 'note', 'normal', 'abnormal'] as const;
export type MachineEventType = (typeof MACHINE_EVENT_TYPES)[number];

/** A failure ends a machine's run; a repair or maintenance starts a fresh one; a verdict settles an anomaly alert. */
export interface MachineEvent {
  machine: MachineRef;
  ts: number;
  type: MachineEventType;
  component?: string;
  note?: string;
}

/** What one accepted message (or one replayed journal record) carries to the store. */
export interface IngestBatch {
  samples: Sample[];
  events: MachineEvent[];
}

/**
 * Where accepted batches go. Returns nothing when the batch is durable at once (the fast path),
 * or a promise that resolves once it is — the caller acknowledges the message only then.
 */
/** The message a batch was decoded from, as it arrived: what the journal keeps instead of re-encoding the batch. */
export interface RawMessage {
  topic: string;
  payload: Uint8Array;
  receivedAt: number;
}

/** A stage that sees every accepted batch once it is durable (scoring, data quality, alerts). */
export interface BatchObserver {
  readonly name: string;
  observe(batch: IngestBatch, receivedAt: number): void;
}

export interface BatchSink {
  accept(batch: IngestBatch, source?: RawMessage): void | Promise<void>;
}

/**
 * The machines the per-machine stages (scoring, data quality, alerts) keep state for: at most
 * `ingest.maxMachines`, so that state is bounded however many machine ids arrive. Readings of other
 * machines are still stored; they are just not scored or watched.
 */
export interface FleetMembership {
  /** Whether the machine is tracked; a new machine is admitted while there is room. */
  admit(machine: string): boolean;
  has(machine: string): boolean;
}
