import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { EnergyAccountant, DecisionRecord, EnergyScheduler } from '../../scheduler/index.js';
import { Nullable, READ_ERRORS, errors, iso } from '../schemas.js';

const Query = Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }) }, { additionalProperties: false });
const WindowSchema = Type.Object({ start: Type.String(), end: Type.String(), cost: Type.Number() });
const DecisionSchema = Type.Object({
  id: Type.Integer(),
  at: Type.String(),
  action: Type.String(),
  reason: Type.String(),
  deadline: Nullable(Type.String()),
  window: Nullable(WindowSchema),
  nowCost: Nullable(Type.Number()),
  runId: Nullable(Type.Integer()),
});
const RunEnergySchema = Type.Object({
  runId: Type.Integer(),
  method: Type.String({ description: 'rapl, cpu-estimate, nvml-energy, nvml-power, joined with + when several meters contributed' }),
  joules: Type.Number(),
  kWh: Type.Number(),
  startedAt: Type.String(),
  endedAt: Type.String(),
  intensity: Nullable(Type.Number({ description: 'gCO2e/kWh during the run' })),
  gCO2e: Type.Number(),
  avoidedGCO2e: Nullable(Type.Number({ description: 'against starting when the run was first due' })),
  price: Nullable(Type.Number()),
  cost: Nullable(Type.Number()),
  detail: Type.Record(Type.String(), Type.Unknown()),
});
const Energy = Type.Object({
  policy: Type.Object({
    enabled: Type.Boolean(),
    cron: Type.String(),
    timezone: Type.String(),
    objective: Type.String(),
    nextTick: Nullable(Type.String()),
    lastDecision: Nullable(DecisionSchema),
    upcomingWindow: Nullable(WindowSchema),
    cpuMeter: Type.String(),
    lastError: Nullable(Type.String()),
  }),
  budget: Type.Object({ period: Type.String(), limitKWh: Nullable(Type.Number()), usedKWh: Type.Number() }),
  totals: Type.Object({
    runs: Type.Integer(),
    kWh: Type.Number(),
    gCO2e: Type.Number(),
    avoidedGCO2e: Type.Number(),
    cost: Type.Number(),
    currency: Type.String(),
    savedByEarlyStoppingKWh: Type.Number(),
    savedByWarmStartKWh: Type.Number(),
  }),
  perDay: Type.Array(
    Type.Object({
      day: Type.String(),
      runs: Type.Integer(),
      kWh: Type.Number(),
      gCO2e: Type.Number(),
      avoidedGCO2e: Type.Number(),
      cost: Type.Number(),
    }),
  ),
  decisions: Type.Array(DecisionSchema),
  runs: Type.Array(RunEnergySchema),
});

export interface EnergyRouteDeps {
  scheduler: Pick<EnergyScheduler, 'decisions' | 'nextTick' | 'lastError'>;
  accountant: Pick<EnergyAccountant, 'list' | 'usedKWhSince' | 'cpuMethod'>;
  config: {
    enabled: boolean;
    cron: string;
    timezone: string;
    objective: string;
    budget: { period: 'day' | 'week'; limitKWh?: number };
    currency: string;
  };
  now: () => number;
}

const decisionJson = (d: DecisionRecord) => ({
  ...d,
  at: iso(d.at)!,
  deadline: iso(d.deadline),
  window: d.window && { start: iso(d.window.start)!, end: iso(d.window.end)!, cost: d.window.cost },
});

/** The energy policy's state, its decisions with reasons, and each run's measured energy and emissions. */
export function energyRoutes(app: FastifyInstance, d: EnergyRouteDeps): void {
  app.get<{ Querystring: Static<typeof Query> }>(
    '/energy',
    { config: { role: 'viewer' }, schema: { tags: ['energy'], querystring: Query, response: { 200: Energy, ...errors(...READ_ERRORS) } } },
    async (req) => {
      const decisions = d.scheduler.decisions(req.query.limit);
      const runs = d.accountant.list(1000);
      const last = decisions[0] ?? null;
      const now = d.now();
      const periodMs = d.config.budget.period === 'day' ? 86_400_000 : 7 * 86_400_000;
      return {
        policy: {
          enabled: d.config.enabled,
          cron: d.config.cron,
          timezone: d.config.timezone,
          objective: d.config.objective,
          nextTick: iso(d.scheduler.nextTick()),
          lastDecision: last && decisionJson(last),
          upcomingWindow:
            last?.action === 'defer' && last.window
              ? { start: iso(last.window.start)!, end: iso(last.window.end)!, cost: last.window.cost }
              : null,
          cpuMeter: d.accountant.cpuMethod,
          lastError: d.scheduler.lastError,
        },
        budget: {
          period: d.config.budget.period,
          limitKWh: d.config.budget.limitKWh ?? null,
          usedKWh: d.accountant.usedKWhSince(now - periodMs),
        },
        totals: {
          runs: runs.length,
          kWh: runs.reduce((s, r) => s + r.kWh, 0),
          gCO2e: runs.reduce((s, r) => s + r.gCO2e, 0),
          avoidedGCO2e: runs.reduce((s, r) => s + (r.avoidedGCO2e ?? 0), 0),
          cost: runs.reduce((s, r) => s + (r.cost ?? 0), 0),
          currency: d.config.currency,
          savedByEarlyStoppingKWh: runs.reduce((s, r) => s + Number(r.detail.earlyStoppingSavedJoules ?? 0), 0) / 3.6e6,
          savedByWarmStartKWh: runs.reduce((s, r) => s + Number(r.detail.warmStartSavedJoules ?? 0), 0) / 3.6e6,
        },
        perDay: perDay(runs),
        decisions: decisions.map(decisionJson),
        runs: runs.slice(0, req.query.limit).map((r) => ({ ...r, startedAt: iso(r.startedAt)!, endedAt: iso(r.endedAt)! })),
      };
    },
  );
}

/** Runs grouped by the UTC day they started, newest first (the last 31 days with runs). */
function perDay(runs: ReturnType<EnergyRouteDeps['accountant']['list']>) {
  const days = new Map<string, { day: string; runs: number; kWh: number; gCO2e: number; avoidedGCO2e: number; cost: number }>();
  for (const r of runs) {
    const day = new Date(r.startedAt).toISOString().slice(0, 10);
    const d = days.get(day) ?? { day, runs: 0, kWh: 0, gCO2e: 0, avoidedGCO2e: 0, cost: 0 };
    d.runs++;
    d.kWh += r.kWh;
    d.gCO2e += r.gCO2e;
    d.avoidedGCO2e += r.avoidedGCO2e ?? 0;
    d.cost += r.cost ?? 0;
    days.set(day, d);
  }
  return [...days.values()].sort((a, b) => b.day.localeCompare(a.day)).slice(0, 31);
}
