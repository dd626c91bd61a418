import { labelled, type StageReport } from '../core/stage-report.js';
import type { EnergyAccountant } from './energy/accountant.js';
import type { EnergyScheduler } from './scheduler.js';

/** Energy and emissions of training runs, and the policy's decisions: metrics only (GET /api/v1/energy has the rest). */
export function energyReport(accountant: EnergyAccountant, scheduler: EnergyScheduler): StageReport<Record<never, never>> {
  const runs = () => accountant.list(100_000);
  const sum = (pick: (r: ReturnType<EnergyAccountant['list']>[number]) => number) => () => runs().reduce((s, r) => s + pick(r), 0);
  return {
    section: null,
    fields: {},
    read: () => ({}),
    metrics: [
      { name: 'vigil_energy_joules_total', help: 'energy measured for training runs', type: 'counter', read: sum((r) => r.joules) },
      {
        name: 'vigil_energy_gco2e_total',
        help: 'emissions of training runs at the grid intensity during each run',
        type: 'counter',
        read: sum((r) => r.gCO2e),
      },
      {
        name: 'vigil_energy_avoided_gco2e_total',
        help: 'emissions avoided by shifting runs, against starting when each was due',
        type: 'counter',
        read: sum((r) => r.avoidedGCO2e ?? 0),
      },
      { name: 'vigil_energy_runs_measured', help: 'training runs with an energy record', type: 'gauge', read: () => runs().length },
      {
        name: 'vigil_energy_decisions',
        help: 'energy policy decisions kept (90 days), by action',
        type: 'gauge',
        labelNames: ['action'],
        read: () => labelled('action', scheduler.decisionCounts()),
      },
    ],
  };
}
