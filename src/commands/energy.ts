import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { parseDuration } from '../config/units.js';
import { replayDecisions, weekSvg, FileCarbonSource } from '../scheduler/index.js';

export interface EnergySimulationOptions {
  files: string[];
  jobs: number[];
  errors: number[];
  deadlineMs: number;
  dueAtMinute: number;
  tolerance: number;
  seed: number;
  year: number;
  /** Write one week's plot per file here (SVG), starting on this date. */
  plotDir?: string;
  plotWeek: string;
  out: (line: string) => void;
}

const hm = (ms: number) => (ms >= 3_600_000 ? `${(ms / 3_600_000).toFixed(ms % 3_600_000 ? 1 : 0)} h` : `${Math.round(ms / 60_000)} min`);

/** Replays a year of daily retrain decisions over each carbon trace; prints avoided emissions. */
export async function simulateEnergy(
  o: EnergySimulationOptions,
): Promise<Array<{ file: string; jobMs: number; error: number; avoidedPercent: number }>> {
  const results: Array<{ file: string; jobMs: number; error: number; avoidedPercent: number }> = [];
  const from = Date.UTC(o.year, 0, 1);
  const to = Date.UTC(o.year + 1, 0, 1);
  for (const file of o.files) {
    const actual = await new FileCarbonSource(file).series();
    const name = path.basename(file);
    for (const jobMs of o.jobs) {
      for (const error of o.errors) {
        const r = replayDecisions({
          actual,
          jobMs,
          deadlineMs: o.deadlineMs,
          dueAtMinute: o.dueAtMinute,
          forecastError: error,
          tolerance: o.tolerance,
          seed: o.seed,
          from,
          to,
        });
        results.push({ file: name, jobMs, error, avoidedPercent: r.avoidedPercent });
        o.out(
          `${name.padEnd(10)} job ${hm(jobMs).padEnd(6)} forecast ${error === 0 ? 'perfect  ' : `±${(error * 100).toFixed(0)}% noise`}: ${r.runs.length} runs, ` +
            `baseline ${r.baselineIntensity.toFixed(1)} gCO2e/kWh, Vigil ${r.policyIntensity.toFixed(1)} gCO2e/kWh → ${r.avoidedPercent.toFixed(1)}% avoided; mean delay ${hm(r.meanDelayMs)}`,
        );
        if (o.plotDir && error === 0 && jobMs === o.jobs[0]) {
          mkdirSync(o.plotDir, { recursive: true });
          const week = Date.parse(`${o.plotWeek}T00:00:00Z`);
          const svg = weekSvg(
            actual,
            r.runs,
            week,
            jobMs,
            `${name}: daily ${hm(jobMs)} retrain due ${String(Math.floor(o.dueAtMinute / 60)).padStart(2, '0')}:${String(o.dueAtMinute % 60).padStart(2, '0')} UTC, deadline ${hm(o.deadlineMs)}, perfect forecast`,
          );
          const out = path.join(o.plotDir, `energy-week-${name.replace(/\.\w+$/, '')}.svg`);
          writeFileSync(out, svg);
          o.out(`  plot: ${out}`);
        }
      }
    }
  }
  return results;
}

export function registerEnergyCommands(program: Command): void {
  const energy = program.command('energy').description('energy-aware scheduling tools');
  energy
    .command('simulate')
    .description("replay a year of daily retrain decisions over carbon-intensity traces: Vigil's policy vs starting at the cron time")
    .argument('<files...>', 'CSV (Time,Carbon Intensity) or JSON series, one or more')
    .option('--jobs <list>', 'run lengths', '30m,2h')
    .option('--errors <list>', 'forecast error (relative standard deviation), 0 = perfect', '0,0.1,0.2')
    .option('--deadline <d>', 'a run must finish within this of falling due', '24h')
    .option('--due-at <HH:MM>', 'when the daily run falls due (UTC), the baseline start', '00:00')
    .option('--tolerance <x>', 'start when now is within this share of the best window', '0')
    .option('--year <y>', 'calendar year to replay', '2020')
    .option('--seed <n>', 'forecast noise seed', '1')
    .option('--plot <dir>', 'write an SVG of one week per trace here')
    .option('--plot-week <date>', 'first day of the plotted week', '2020-06-01')
    .action(
      async (
        files: string[],
        a: {
          jobs: string;
          errors: string;
          deadline: string;
          dueAt: string;
          tolerance: string;
          year: string;
          seed: string;
          plot?: string;
          plotWeek: string;
        },
      ) => {
        const m = /^(\d{2}):(\d{2})$/.exec(a.dueAt);
        if (!m) throw new Error(`--due-at must be HH:MM, got ${a.dueAt}`);
        const errors = a.errors.split(',').map(Number);
        if (errors.some((e) => !(e >= 0 && e < 1))) throw new Error(`--errors must be numbers in [0, 1), got ${a.errors}`);
        await simulateEnergy({
          files,
          jobs: a.jobs.split(',').map((j) => parseDuration(j.trim())),
          errors,
          deadlineMs: parseDuration(a.deadline),
          dueAtMinute: Number(m[1]) * 60 + Number(m[2]),
          tolerance: Number(a.tolerance),
          seed: Number(a.seed),
          year: Number(a.year),
          plotDir: a.plot,
          plotWeek: a.plotWeek,
          out: (l) => process.stdout.write(`${l}\n`),
        });
      },
    );
}
