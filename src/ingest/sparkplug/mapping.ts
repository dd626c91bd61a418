import type { MachineRef } from '../../core/types.js';
import { ID_PATTERN, checkSensorName } from '../validate.js';

export const SPARKPLUG_NAMESPACE = 'spBv1.0';
export const MESSAGE_TYPES = ['NBIRTH', 'NDATA', 'NDEATH', 'DBIRTH', 'DDATA', 'DDEATH'] as const;
export type SparkplugMessageType = (typeof MESSAGE_TYPES)[number];

export interface SparkplugTopic {
  group: string;
  type: SparkplugMessageType;
  node: string;
  /** The device id of D* messages; null for the edge node's own. */
  device: string | null;
}

/** `spBv1.0/{group}/{type}/{node}[/{device}]`, or null when the topic is not a Sparkplug data topic. */
export function parseSparkplugTopic(topic: string): SparkplugTopic | null {
  const parts = topic.split('/');
  if (parts[0] !== SPARKPLUG_NAMESPACE || parts.length < 4 || parts.length > 5) return null;
  const [, group, type, node, device] = parts as [string, string, string, string, string | undefined];
  if (!(MESSAGE_TYPES as readonly string[]).includes(type) || !group || !node) return null;
  const isDevice = type[0] === 'D';
  if (isDevice !== (device !== undefined) || device === '') return null;
  return { group, type: type as SparkplugMessageType, node, device: device ?? null };
}

/** The subscriptions of a host application for the configured groups: the six data/state message types. */
export function sparkplugFilters(groups: string[]): string[] {
  const out: string[] = [];
  for (const g of groups) for (const t of MESSAGE_TYPES) out.push(`${SPARKPLUG_NAMESPACE}/${g}/${t}/+${t[0] === 'D' ? '/+' : ''}`);
  return out;
}

export interface MappingOptions {
  site: string;
  line: string;
  machine: string;
  nodeMachine: string;
  sensors: Record<string, string>;
  stripPrefixes: string[];
  ignore: string[];
}

const fill = (template: string, t: SparkplugTopic) =>
  template.replace(/\{(group|node|device)\}/g, (_, k: 'group' | 'node' | 'device') => (k === 'device' ? (t.device ?? t.node) : t[k]));

/**
 * The documented rule: device (or edge node) → machine by the site/line/machine templates; metric
 * name → sensor by the explicit map, else the name without a stripped prefix, `/` read as `.` and
 * every other run of characters outside [A-Za-z0-9_.:-] as one `_`, and
 * no `_` or `.` at either end. Results are remembered (bounded).
 */
export class SparkplugMapping {
  private readonly sensorNames = new Map<string, string | null>();

  /** The configured names, as a Map: metric names come from the wire and may be `constructor` or `__proto__`. */
  private readonly explicit: Map<string, string>;

  constructor(private readonly o: MappingOptions) {
    this.explicit = new Map(Object.entries(o.sensors));
  }

  /** The machine a topic's metrics belong to, or a text saying why its ids are not valid machine ids. */
  machine(t: SparkplugTopic): MachineRef | string {
    const ref = {
      site: fill(this.o.site, t),
      line: fill(this.o.line, t),
      machine: fill(t.device === null ? this.o.nodeMachine : this.o.machine, t),
    };
    for (const level of ['site', 'line', 'machine'] as const)
      if (!ID_PATTERN.test(ref[level]))
        return `${level} ${JSON.stringify(ref[level].slice(0, 80))} (from the Sparkplug ids) has characters outside [A-Za-z0-9_.:-] or is longer than 64`;
    return ref;
  }

  /** The sensor a metric is stored as; null: a metric that is not a reading (ignored); a text: why it cannot be named. */
  sensor(metric: string): string | null | { refused: string } {
    const known = this.sensorNames.get(metric);
    if (known !== undefined) return known;
    const named = this.name(metric);
    if (typeof named === 'object') return named;
    if (this.sensorNames.size >= 10_000) this.sensorNames.clear();
    this.sensorNames.set(metric, named);
    return named;
  }

  private name(metric: string): string | null | { refused: string } {
    const explicit = this.explicit.get(metric);
    if (explicit !== undefined) return explicit;
    if (this.o.ignore.some((p) => metric.startsWith(p))) return null;
    let name = metric;
    for (const p of this.o.stripPrefixes)
      if (name.startsWith(p)) {
        name = name.slice(p.length);
        break;
      }
    name = name
      .replace(/\//g, '.')
      .replace(/[^A-Za-z0-9_.:-]+/g, '_')
      .replace(/^[_.]+|[_.]+$/g, '');
    const bad = checkSensorName(name, `metric ${JSON.stringify(metric.slice(0, 80))}`);
    return bad ? { refused: bad.detail } : name;
  }
}
