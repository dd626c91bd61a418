import type { MachineInfo, SensorStore } from '../core/sensor-store.js';
import { KindResolver, type KindPattern, type MachineKind } from '../core/kinds.js';

export interface KindGroup {
  kind: string;
  source: MachineKind['source'];
  /** Machine ids, sorted. */
  machines: string[];
  /** The sensors its machines send, sorted: a kind's model has only these as inputs. */
  sensors: string[];
}

/** The store's machines grouped by kind, sorted by kind name. */
export function groupByKind(machines: readonly MachineInfo[], resolver: KindResolver): KindGroup[] {
  const groups = new Map<string, { source: MachineKind['source']; machines: string[]; sensors: Set<string> }>();
  for (const m of machines) {
    const k = resolver.kindOf(m.ref.machine, m.sensors);
    let g = groups.get(k.kind);
    if (!g) groups.set(k.kind, (g = { source: k.source, machines: [], sensors: new Set() }));
    g.machines.push(m.ref.machine);
    for (const s of m.sensors) g.sensors.add(s);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([kind, g]) => ({ kind, source: g.source, machines: g.machines.sort(), sensors: [...g.sensors].sort() }));
}

export async function storeKinds(store: Pick<SensorStore, 'listMachines'>, patterns: readonly KindPattern[]): Promise<KindGroup[]> {
  return groupByKind(await store.listMachines(), new KindResolver(patterns));
}

/**
 * The store's machines grouped by kind, read at most every `ttlMs` (listing a large fleet's machines
 * is a heavy query, and the page polls kinds), or sooner when `machines()` says machines came since
 * (their kinds may be new). A failed read is not kept: the next call tries again.
 */
export class KindsOfStore {
  private copy: { at: number; machines: number; kinds: Promise<KindGroup[]> } | null = null;

  constructor(
    private readonly store: Pick<SensorStore, 'listMachines'>,
    private readonly patterns: readonly KindPattern[],
    private readonly now: () => number,
    private readonly machines: () => number,
    private readonly ttlMs = 30_000,
  ) {}

  /** From the copy, when it is recent enough. */
  get(): Promise<KindGroup[]> {
    const now = this.now();
    const machines = this.machines();
    if (!this.copy || now - this.copy.at > this.ttlMs || this.copy.machines !== machines) {
      const fresh = storeKinds(this.store, this.patterns);
      this.copy = { at: now, machines, kinds: fresh };
      fresh.catch(() => (this.copy = null));
    }
    return this.copy.kinds;
  }

  /** Read now: an operator asking for a new kind's first run must not be told it does not exist. */
  fresh(): Promise<KindGroup[]> {
    return storeKinds(this.store, this.patterns);
  }
}
