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
