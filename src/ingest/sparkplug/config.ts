import { Type } from '@sinclair/typebox';
import { Duration, strict } from '../../config/schema-parts.js';

/** A mapping template: literal text and the placeholders {group}, {node} and {device}. */
const Template = (def: string, description: string) =>
  Type.String({ minLength: 1, maxLength: 200, pattern: '^([^{}]|\\{(group|node|device)\\})+$', default: def, description });

/** Sparkplug B ingest (spBv1.0 topics): how edge nodes and devices map to machines, metrics to sensors. */
export const SparkplugSchema = Type.Object(
  {
    enabled: Type.Boolean({
      default: false,
      description: 'subscribe to spBv1.0/{group}/… as a Sparkplug B host application (also sends rebirth requests)',
    }),
    groups: Type.Array(Type.String({ minLength: 1, maxLength: 64, pattern: '^[^/#]+$' }), {
      minItems: 1,
      default: ['+'],
      description: "group ids to subscribe to; '+' is every group",
    }),
    site: Template('{group}', 'site of a machine'),
    line: Template('{node}', 'line of a machine'),
    machine: Template('{device}', 'machine of a device message (DBIRTH/DDATA/DDEATH)'),
    nodeMachine: Template('{node}', "machine of an edge node's own metrics (NBIRTH/NDATA)"),
    sensors: Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 1, maxLength: 64 }), {
      default: {},
      description: 'metric name → sensor name, for metrics the default rule would name badly',
    }),
    stripPrefixes: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description: "prefixes cut from metric names before the default rule (e.g. 'Sensors/')",
    }),
    ignore: Type.Array(Type.String({ minLength: 1 }), {
      default: ['Node Control/', 'Device Control/', 'Properties/', 'bdSeq'],
      description: 'metric-name prefixes that are not sensor readings (not stored, not refused)',
    }),
    rebirth: Type.Boolean({ default: true, description: 'send NCMD Node Control/Rebirth on a seq gap or DATA before BIRTH' }),
    rebirthMinInterval: Duration('10s', { description: 'at most one rebirth request per edge node this often' }),
    rebirthsPerSecond: Type.Number({
      exclusiveMinimum: 0,
      default: 20,
      description: 'rebirth requests to all edge nodes together, on average (bursts of 5 s worth); more wait for a later message',
    }),
    maxNodes: Type.Integer({ minimum: 1, default: 10_000, description: 'edge nodes whose session state is kept (least recent dropped)' }),
    maxNewNodesPerMinute: Type.Integer({
      minimum: 1,
      default: 1000,
      description:
        'sessions opened for edge nodes not seen before, per minute; messages of further new nodes are decoded without session state (named metrics kept, aliases refused) until there is room',
    }),
    maxAliases: Type.Integer({ minimum: 1, default: 100_000, description: 'metric aliases kept per edge node' }),
  },
  strict,
);
