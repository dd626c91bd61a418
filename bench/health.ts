/**
 * npm run bench:health [-- --part fleet|cmapss|all --seeds 1,2,3 --subsets FD001,FD003,FD002 --validation-only
 *   --days N --machines N --kinds pump,motor,gearbox --backend auto|wasm|cpu --kernel auto|native|wasm|stock]
 *
 * The health model, learned without failure labels, judged two ways (docs/predictor.md, "Health
 * model"): on the fleet simulator never labelled (failures warned, lead as a share of the wear-out,
 * false alarms per machine-month; then with one and two labelled failures per kind, and with ten
 * false alarms called normal), and on C-MAPSS trained only on each training engine's first 60 cycles
 * (ROC-AUC of the index for "fails within 30 cycles" on the test engines, Spearman with the true
 * RUL; FD002 with its operating conditions as regimes). Settings are chosen with --validation-only
 * (held-out training engines; fleet seeds 101–103); the test files are read only without it. The
 * last lines are the means over the seeds.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadTf, quietTfWarnings, type BackendPreference } from '../src/model/backend.js';
import { loadFastLstm, type LstmKernelPreference } from '../src/model/fast-lstm/load.js';
import type { TrainingConfig } from '../src/training/worker-input.js';
import { validateConfig } from '../src/vigil-config.js';
import { CMAPSS_CONDITIONS, CMAPSS_SUBSETS, type CmapssSubset } from './lib/cmapss.js';
import { cmapssHealth } from './lib/health-cmapss.js';
import { fleetHealth, type FleetVariant, type FleetVariantResult } from './lib/health-fleet.js';
import { describe, meanSd, parseSeeds } from './lib/seeds.js';

const { values: a } = parseArgs({
  options: {
    part: { type: 'string', default: 'all' },
    seeds: { type: 'string' },
    subsets: { type: 'string', default: 'FD001,FD003,FD002' },
    data: { type: 'string', default: path.resolve('../shared/data/cmapss') },
    'validation-only': { type: 'boolean', default: false },
    days: { type: 'string', default: '40' },
    machines: { type: 'string', default: '4' },
    kinds: { type: 'string', default: 'pump,motor,gearbox' },
    backend: { type: 'string', default: 'auto' },
    kernel: { type: 'string', default: 'auto' },
    // For choosing settings on validation: the C-MAPSS window (cycles), smoothing (cycles), LSTM units.
    window: { type: 'string', default: '30' },
    smoothing: { type: 'string', default: '5' },
    units: { type: 'string', default: '32,16' },
    epochs: { type: 'string', default: '25' },
    variants: { type: 'string', default: 'unlabelled,labelled-1,labelled-2,verdicts-10' },
    // For choosing the fleet's settings on validation: `health:` overrides as JSON, e.g. '{"smoothing":10}'.
    'fleet-health': { type: 'string', default: '{}' },
  },
});
const validationOnly = a['validation-only'];
const seeds = parseSeeds(a.seeds ?? (validationOnly ? '101,102,103' : '1,2,3'));
const log = (line: string) => process.stdout.write(`${line}\n`);

/** The daemon's config as a run sees it, with the bench's grid: every default the same as a plant's. */
function trainingConfig(input: Record<string, unknown>): TrainingConfig {
  const c = validateConfig(input, { cwd: process.cwd(), origin: 'bench:health' });
  return { learning: c.learning, health: c.health, kinds: c.kinds, store: c.store, machines: c.machines };
}

/** The fleet: the demo's grid (ten-minute steps, six-hour windows), the health model's defaults. */
const fleetConfig = (modelsDir: string, seed: number) =>
  trainingConfig({
    learning: {
      modelsDir: modelsDir || '/tmp/vigil-unused',
      backend: a.backend,
      kernel: (a.kernel === 'fast' ? 'wasm' : a.kernel) as 'auto' | 'native' | 'wasm' | 'stock',
      step: '10m',
      window: 36,
      horizon: 36,
      rulCap: 144,
      maxGapSteps: 3,
      lookback: '365d',
      model: { seed },
    },
    health: { minNormal: '24h', ...(JSON.parse(a['fleet-health']) as Record<string, unknown>) },
  });

/** C-MAPSS: one step a cycle; windows of 30 cycles fit the 60 healthy ones of every engine. */
const cmapssConfig = (conditions: boolean) => (modelsDir: string, seed: number) =>
  trainingConfig({
    learning: {
      modelsDir,
      backend: a.backend,
      kernel: (a.kernel === 'fast' ? 'wasm' : a.kernel) as 'auto' | 'native' | 'wasm' | 'stock',
      step: 1,
      window: Number(a.window),
      horizon: 30,
      rulCap: 125,
      maxGapSteps: 0,
      lookback: 1e12,
      conditions: conditions ? CMAPSS_CONDITIONS : [],
      model: { seed },
    },
    health: {
      stride: 1,
      holdOut: 0.3,
      smoothing: Number(a.smoothing),
      units: a.units.split(',').map(Number),
      epochs: Number(a.epochs),
      maxWindows: 30_000,
    },
  });

const VARIANTS: FleetVariant[] = [
  { name: 'unlabelled', labelled: 0, verdicts: 0 },
  { name: 'labelled-1', labelled: 1, verdicts: 0 },
  { name: 'labelled-2', labelled: 2, verdicts: 0 },
  { name: 'verdicts-10', labelled: 0, verdicts: 10 },
].filter((v) => a.variants.split(',').includes(v.name));

quietTfWarnings();
const { tf, backend } = await loadTf(a.backend as BackendPreference);
const kernels = await loadFastLstm(tf, { preference: a.kernel as LstmKernelPreference });
log(
  `bench:health — ${backend} backend, LSTM ${kernels.describe}; seeds ${seeds.join(', ')}${validationOnly ? ' (validation: no test data read)' : ''}`,
);
const summary: string[] = [];

if (a.part === 'fleet' || a.part === 'all') {
  const kinds = a.kinds.split(',') as Array<'pump' | 'motor' | 'gearbox'>;
  const perSeed: FleetVariantResult[][] = [];
  for (const seed of seeds) {
    const t0 = performance.now();
    const results = await fleetHealth(tf, {
      seed,
      days: Number(a.days),
      machinesPerKind: Number(a.machines),
      kinds,
      retrainDays: [2, 8, 16, 26],
      config: fleetConfig,
      variants: VARIANTS,
      log,
    });
    perSeed.push(results);
    for (const r of results)
      log(
        `fleet seed ${seed} ${r.name}: ${r.warned} of ${r.failures} failures warned, median lead ${r.medianLeadShare?.toFixed(2) ?? '–'} of the wear-out, ` +
          `${r.falseAlarms} false alarms in ${r.machineMonths.toFixed(1)} machine-months (${r.falseAlarmsPerMachineMonth.toFixed(2)} per machine-month), ${r.trainings} trainings`,
      );
    log(`fleet seed ${seed}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  for (const v of VARIANTS) {
    const rs = perSeed.map((list) => list.find((r) => r.name === v.name)!);
    const warned = rs.map((r) => r.warned / Math.max(1, r.failures));
    const lead = rs.map((r) => r.medianLeadShare ?? 0);
    const fa = rs.map((r) => r.falseAlarmsPerMachineMonth);
    log(
      `fleet ${v.name}: warned ${describe(warned, 2)}, median lead ${describe(lead, 2)}, false alarms per machine-month ${describe(fa, 2)}`,
    );
    if (v.verdicts > 0) {
      // The same stretch (after the last verdict) without verdicts: did they lower the false alarms?
      const base = perSeed.map((list) => list.find((r) => r.name === 'unlabelled'));
      if (base.some((b) => !b)) continue;
      const after = rs.map((r) => (r.lastVerdictTs === null ? Number.NaN : r.falseAlarmsFrom(r.lastVerdictTs)));
      const without = rs.map((r, i) => (r.lastVerdictTs === null ? Number.NaN : base[i]!.falseAlarmsFrom(r.lastVerdictTs)));
      log(
        `fleet ${v.name}: after the last verdict, false alarms per machine-month ${describe(after, 2)} with verdicts, ${describe(without, 2)} without`,
      );
    }
    summary.push(
      `health fleet ${v.name} mean over seeds ${seeds.join(',')}: warned ${meanSd(warned).mean.toFixed(2)}, median lead ${meanSd(lead).mean.toFixed(2)}, false alarms per machine-month ${meanSd(fa).mean.toFixed(2)}`,
    );
  }
}

if (a.part === 'cmapss' || a.part === 'all') {
  const subsets = a.subsets.split(',').map((s) => s.trim().toUpperCase()) as CmapssSubset[];
  for (const subset of subsets) {
    if (!CMAPSS_SUBSETS.includes(subset)) throw new Error(`--subsets: ${subset} is not one of ${CMAPSS_SUBSETS.join(', ')}`);
    // FD002 runs in six operating conditions: its settings are the regimes; the others have one.
    const conditions = subset === 'FD002';
    const rs = [];
    for (const seed of seeds) {
      const t0 = performance.now();
      const r = await cmapssHealth(tf, {
        dataDir: a.data,
        subset,
        conditions,
        healthyCycles: 60,
        seed,
        config: cmapssConfig(conditions),
        validationOnly,
      });
      rs.push(r);
      log(
        `${subset} seed ${seed}: validation ROC-AUC ${r.validation.auc?.toFixed(3)}, Spearman ${r.validation.spearman?.toFixed(2)} (${r.validation.engines} held-out engines)` +
          (r.test
            ? `; test ROC-AUC ${r.test.auc?.toFixed(3)}, Spearman ${r.test.spearman?.toFixed(2)} (${r.test.engines} engines, ${r.test.positives} within 30 cycles)`
            : '') +
          ` — ${((performance.now() - t0) / 1000).toFixed(0)} s`,
      );
    }
    const part = validationOnly ? 'validation' : 'test';
    const auc = rs.map((r) => (validationOnly ? r.validation.auc : r.test!.auc) ?? Number.NaN);
    const rho = rs.map((r) => (validationOnly ? r.validation.spearman : r.test!.spearman) ?? Number.NaN);
    log(`${subset}${conditions ? ' --conditions' : ''} ${part}: ROC-AUC ${describe(auc, 3)}, Spearman ${describe(rho, 2)}`);
    summary.push(
      `health ${subset}${validationOnly ? ' validation' : ''} unlabelled mean over seeds ${seeds.join(',')}: ROC-AUC ${meanSd(auc).mean.toFixed(3)}, Spearman ${meanSd(rho).mean.toFixed(2)}`,
    );
  }
}

for (const line of summary) log(line);
