import { ValueErrorType } from '@sinclair/typebox/errors';
import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import YAML from 'yaml';
import { DURATION_PATTERN, parseDuration } from '../../src/config/units.js';
import { KINDS } from './kinds.js';

const MachineGroup = Type.Object(
  {
    kind: Type.Union(KINDS.map((k) => Type.Literal(k))),
    count: Type.Integer({ minimum: 1, maximum: 10_000, default: 1 }),
    line: Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$', default: 'line1' }),
    onsetDays: Type.Number({
      exclusiveMinimum: 0,
      default: 6,
      description: 'mean time from a fresh start until a component begins to wear',
    }),
    wearDays: Type.Number({ exclusiveMinimum: 0, default: 3, description: 'median time from onset to failure at average load' }),
    wearSpread: Type.Number({ minimum: 0, maximum: 2, default: 0.3, description: 'sd of log(wearDays) between runs' }),
    faultsPerDay: Type.Number({ minimum: 0, default: 0.3, description: 'sensor faults (dropout, stuck, spike) per machine and day' }),
    maintenanceEveryDays: Type.Number({ minimum: 0, default: 0, description: 'preventive maintenance interval; 0 = none' }),
    regimeHours: Type.Number({ exclusiveMinimum: 0, default: 6, description: 'mean time between operating regime changes' }),
  },
  { additionalProperties: false },
);

export const ScenarioSchema = Type.Object(
  {
    seed: Type.Integer({ minimum: 0, maximum: 2 ** 32 - 1, default: 1 }),
    site: Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$', default: 'sim' }),
    start: Type.Optional(
      Type.String({
        pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2})$',
        description: 'simulated start time; default: chosen so the run ends at the wall clock',
      }),
    ),
    duration: Type.String({ pattern: DURATION_PATTERN, default: '14d' }),
    rate: Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.String({ pattern: '^\\s*\\d+(\\.\\d+)?\\s*(/\\s*(s|min|h))?\\s*$' })], {
      default: '1/min',
      description: 'messages per machine per simulated second: 1, 0.5, 1/min, 6/h',
    }),
    downtime: Type.String({ pattern: DURATION_PATTERN, default: '4h' }),
    maintenanceDowntime: Type.String({ pattern: DURATION_PATTERN, default: '1h' }),
    topicPrefix: Type.String({ minLength: 1, default: 'vigil' }),
    machines: Type.Array(MachineGroup, {
      minItems: 1,
      default: [
        { kind: 'pump', count: 4 },
        { kind: 'motor', count: 3 },
        { kind: 'gearbox', count: 3 },
      ],
    }),
  },
  { additionalProperties: false },
);

export type ScenarioInput = Static<typeof ScenarioSchema>;
export type MachineGroupSpec = Static<typeof MachineGroup>;

/** A validated scenario with units resolved. */
export interface Scenario {
  seed: number;
  site: string;
  startMs: number | null;
  durationMs: number;
  /** Simulated milliseconds between two messages of one machine. */
  intervalMs: number;
  downtimeMs: number;
  maintenanceDowntimeMs: number;
  topicPrefix: string;
  machines: MachineGroupSpec[];
}

/** Hz from `1`, `0.5`, `1/min`, `6/h`, `2/s`. */
export function parseRate(rate: number | string): number {
  if (typeof rate === 'number') return rate;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|min|h))?\s*$/.exec(rate);
  if (!m) throw new Error(`not a rate: ${JSON.stringify(rate)} (use e.g. 1, 0.5, 1/min, 6/h)`);
  const per = { s: 1, min: 60, h: 3600 }[(m[2] ?? 's') as 's' | 'min' | 'h'];
  return Number(m[1]) / per;
}

export function resolveScenario(input: unknown, origin: string): Scenario {
  const value = Value.Default(ScenarioSchema, structuredClone(input ?? {}));
  const errors = [...Value.Errors(ScenarioSchema, value)];
  if (errors.length > 0) {
    const seen = new Set<string>();
    const lines = errors
      .map(
        (e) =>
          `  - ${e.path.replace(/^\//, '').replaceAll('/', '.') || '(root)'}: ${e.type === ValueErrorType.ObjectAdditionalProperties ? 'unknown setting' : `${e.message}, got ${JSON.stringify(e.value)}`}`,
      )
      .filter((l) => {
        if (seen.has(l)) return false;
        seen.add(l);
        return true;
      });
    throw new Error(`invalid scenario (${origin}):\n${lines.join('\n')}`);
  }
  const s = value as ScenarioInput;
  const hz = parseRate(s.rate);
  if (!(hz > 0) || hz > 1000)
    throw new Error(`invalid scenario (${origin}): rate must be above 0 and at most 1000 messages per second per machine`);
  return {
    seed: s.seed,
    site: s.site,
    startMs: s.start ? Date.parse(s.start) : null,
    durationMs: parseDuration(s.duration),
    intervalMs: Math.max(1, Math.round(1000 / hz)),
    downtimeMs: parseDuration(s.downtime),
    maintenanceDowntimeMs: parseDuration(s.maintenanceDowntime),
    topicPrefix: s.topicPrefix,
    machines: s.machines,
  };
}

export function loadScenarioFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read scenario ${file}: ${(err as Error).message}`, { cause: err });
  }
  const doc = YAML.parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) throw new Error(`scenario ${file} is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  return doc.toJS() ?? {};
}

/** `--machines N` without a scenario: N machines spread over the kinds in turn. */
export function machinesOfEachKind(n: number): MachineGroupSpec[] {
  const counts = KINDS.map((_, i) => Math.floor(n / KINDS.length) + (i < n % KINDS.length ? 1 : 0));
  return KINDS.map((kind, i) => Value.Default(MachineGroup, { kind, count: counts[i] }) as MachineGroupSpec).filter((g) => g.count > 0);
}
