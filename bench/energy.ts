/**
 * npm run bench:energy
 *
 * A year (2020) of daily retrains over the real German and British carbon-intensity traces, decided by
 * Vigil's energy policy with a 24 h deadline, against starting at the cron time; 30 min and 2 h runs;
 * perfect and noisy (±10 %, ±20 %) day-ahead forecasts. Writes one week's plot per trace as SVG.
 */
import path from 'node:path';
import { simulateEnergy } from '../src/commands/energy.js';

const data = path.resolve('../shared/data/carbon');
const t0 = performance.now();
const results = await simulateEnergy({
  files: [path.join(data, 'ger_ci.csv'), path.join(data, 'gb_ci.csv')],
  jobs: [30 * 60_000, 2 * 3_600_000],
  errors: [0, 0.1, 0.2],
  deadlineMs: 24 * 3_600_000,
  dueAtMinute: 0,
  tolerance: 0,
  seed: 1,
  year: 2020,
  plotDir: path.resolve('bench-artifacts'),
  plotWeek: '2020-06-01',
  out: (l) => console.log(l),
});
const perfect = results.filter((r) => r.error === 0).map((r) => r.avoidedPercent);
console.log(
  `avoided with perfect forecasts: ${Math.min(...perfect).toFixed(1)}–${Math.max(...perfect).toFixed(1)}% (Middleware 2021 reports about 6–9% for shiftable ML training in DE and GB); ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);
