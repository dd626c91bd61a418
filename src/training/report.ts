import { Type } from '@sinclair/typebox';
import { labelled, stageReport, type StageReport } from '../core/stage-report.js';
import type { TrainingManager } from './manager.js';

const NullableString = Type.Union([Type.String(), Type.Null()]);
const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

export const trainingFields = {
  running: Type.Union([
    Type.Object({
      id: Type.Integer(),
      kind: Type.Union([Type.String(), Type.Null()]),
      role: Type.Union([Type.Literal('failure'), Type.Literal('health')]),
      startedAt: Type.String(),
      progress: Type.Unknown(),
    }),
    Type.Null(),
  ]),
  lastRun: Type.Union([
    Type.Object({
      id: Type.Integer(),
      state: Type.String(),
      finishedAt: NullableString,
      version: NullableString,
      promoted: Type.Union([Type.Boolean(), Type.Null()]),
      error: NullableString,
    }),
    Type.Null(),
  ]),
  scheduled: Type.Boolean({ description: 'the energy-aware scheduler starts runs by itself' }),
  kernels: Type.Object(
    {
      configured: Type.String({ description: 'learning.kernel' }),
      native: Type.Union([Type.String(), Type.Null()], {
        description: "the native kernels' instruction set where they built and passed their start-up check, else null",
      }),
      uses: Type.Union([Type.Literal('native'), Type.Literal('wasm'), Type.Literal('stock'), Type.Null()], {
        description:
          'what training uses (null while it is checked at start, or when learning.kernel is native and they are missing: see reason); meta.json says which trained each model',
      }),
      reason: Type.Union([Type.String(), Type.Null()], { description: 'why not native, when not' }),
    },
    { description: 'the LSTM kernels' },
  ),
};

/** What the daemon found at start about the LSTM kernels; null while it is still checking. */
export interface KernelProbe {
  configured: string;
  native: string | null;
  reason: string | null;
}

/**
 * What `learning.kernel` comes to for training on this machine, given the probe (auto: native, else wasm);
 * null where native is required and missing: training then fails, saying why.
 */
export function kernelInUse(p: KernelProbe): 'native' | 'wasm' | 'stock' | null {
  if (p.configured === 'stock') return 'stock';
  if (p.configured === 'wasm') return 'wasm';
  if (p.native) return 'native';
  return p.configured === 'native' ? null : 'wasm';
}

export function trainingReport(
  training: TrainingManager,
  scheduled: boolean,
  kernels: () => KernelProbe & { checked: boolean },
): StageReport<typeof trainingFields> {
  return stageReport({
    section: 'training',
    fields: trainingFields,
    read: () => {
      const running = training.running;
      const last = training.list(2).find((r) => r.state !== 'running') ?? null;
      return {
        running: running && {
          id: running.id,
          kind: running.kind,
          role: running.role,
          startedAt: iso(running.startedAt)!,
          progress: running.progress,
        },
        lastRun: last && {
          id: last.id,
          state: last.state,
          finishedAt: iso(last.finishedAt),
          version: last.version,
          promoted: last.promoted,
          error: last.error,
        },
        scheduled,
        kernels: (() => {
          const k = kernels();
          return { configured: k.configured, native: k.native, uses: k.checked ? kernelInUse(k) : null, reason: k.reason };
        })(),
      };
    },
    metrics: [
      {
        name: 'vigil_training_runs',
        help: 'training runs by final state',
        type: 'gauge',
        labelNames: ['state'],
        read: () => {
          const byState: Record<string, number> = {};
          for (const r of training.list(1000)) byState[r.state] = (byState[r.state] ?? 0) + 1;
          return labelled('state', byState);
        },
      },
    ],
  });
}
