import type Database from 'better-sqlite3';
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { GpuSample } from '../sources/host.js';
import { meanOver, type SeriesPoint } from '../series.js';
import type { RunSummary } from '../../training/index.js';
import { GpuMeter, RaplMeter, type EnergyMethod } from './meters.js';

export interface RunEnergy {
  runId: number;
  /** e.g. "rapl+nvml-energy": every meter that contributed, CPU first. */
  method: string;
  joules: number;
  kWh: number;
  startedAt: number;
  endedAt: number;
  /** gCO2e/kWh during the run, and what it would have been had the run started when it was first due. */
  intensity: number | null;
  baselineIntensity: number | null;
  gCO2e: number;
  avoidedGCO2e: number | null;
  price: number | null;
  cost: number | null;
  detail: Record<string, unknown>;
}

export interface AccountantOptions {
  wattsPerCore: number;
  raplDir: string;
  gpu: 'auto' | 'off';
  fallbackIntensity: number;
  /** Series for pricing a finished run (read at the end, so forecasts have become history). */
  carbon: () => Promise<SeriesPoint[] | null>;
  price: (from: number, to: number) => SeriesPoint[] | null;
  /** When the run now ending was first due (for the avoided-emissions figure), if known. */
  dueSince: (runId: number) => number | null;
  gpuQuery?: () => Promise<GpuSample[] | null>;
}

interface Open {
  rapl: number[] | null;
  cpu: NodeJS.CpuUsage;
  gpu: GpuSample[] | null;
  power: Array<[number, number]>;
  timer: TimerHandle;
}

/**
 * Measures each training run's energy with the best meter the gateway offers: RAPL package counters
 * for the CPU (else CPU time × watts per core), plus NVML's energy counter for a GPU (else
 * integrated power samples). Prices it in gCO2e and money and keeps it in the state DB.
 */
export class EnergyAccountant {
  private readonly rapl: RaplMeter;
  private readonly gpu: GpuMeter | null;
  private readonly open = new Map<number, Open>();

  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly o: AccountantOptions,
  ) {
    this.rapl = new RaplMeter(o.raplDir);
    this.gpu = o.gpu === 'off' ? null : new GpuMeter(o.gpuQuery);
  }

  get cpuMethod(): EnergyMethod {
    return this.rapl.available ? 'rapl' : 'cpu-estimate';
  }

  runStarted(runId: number): void {
    const entry: Open = {
      rapl: this.rapl.available ? this.rapl.read() : null,
      cpu: process.cpuUsage(),
      gpu: null,
      power: [],
      timer: undefined,
    };
    this.open.set(runId, entry);
    if (!this.gpu) return;
    void this.gpu.sample().then((g) => {
      entry.gpu = g && g.length > 0 ? g : null;
      // Without an energy counter, sample power every 2 s and integrate.
      if (entry.gpu && GpuMeter.energyJoules(entry.gpu, entry.gpu) === null && this.open.has(runId)) {
        entry.timer = this.clock.setInterval(() => {
          void this.gpu!.sample().then((s) => s && entry.power.push([this.clock.now(), s.reduce((w, x) => w + (x.powerW ?? 0), 0)]));
        }, 2000);
      }
    });
  }

  async runFinished(runId: number, startedAt: number, endedAt: number, run?: RunSummary): Promise<RunEnergy | null> {
    const entry = this.open.get(runId);
    if (!entry) return null;
    this.open.delete(runId);
    this.clock.clearInterval(entry.timer);
    const methods: string[] = [];
    const detail: Record<string, unknown> = {};
    let joules = 0;
    if (entry.rapl) {
      const j = this.rapl.joules(entry.rapl, this.rapl.read());
      joules += j;
      methods.push('rapl');
      detail.cpuJoules = j;
    } else {
      const used = process.cpuUsage(entry.cpu);
      const cpuSeconds = (used.user + used.system) / 1e6;
      const j = cpuSeconds * this.o.wattsPerCore;
      joules += j;
      methods.push('cpu-estimate');
      Object.assign(detail, {
        cpuJoules: j,
        cpuSeconds,
        wattsPerCore: this.o.wattsPerCore,
        note: "process CPU time (the daemon's share included) × watts per core",
      });
    }
    if (entry.gpu && this.gpu) {
      const after = await this.gpu.sample();
      const counted = after ? GpuMeter.energyJoules(entry.gpu, after) : null;
      if (counted !== null) {
        joules += counted;
        methods.push('nvml-energy');
        detail.gpuJoules = counted;
      } else if (entry.power.length >= 2) {
        const j = GpuMeter.integratePower(entry.power);
        joules += j;
        methods.push('nvml-power');
        Object.assign(detail, { gpuJoules: j, powerSamples: entry.power.length });
      }
    }
    if (run) Object.assign(detail, savings(joules, run, this.lastColdEpochs()));
    const kWh = joules / 3.6e6;
    const span = Math.max(1, endedAt - startedAt);
    const carbon = await this.o.carbon().catch(() => null);
    const intensity = (carbon && meanOver(carbon, startedAt, span)) ?? null;
    const due = this.o.dueSince(runId);
    const baselineIntensity = due !== null && carbon ? meanOver(carbon, due, span) : null;
    const priceSeries = this.o.price(startedAt, endedAt);
    const price = priceSeries ? meanOver(priceSeries, startedAt, span) : null;
    const record: RunEnergy = {
      runId,
      method: methods.join('+'),
      joules,
      kWh,
      startedAt,
      endedAt,
      intensity,
      baselineIntensity,
      gCO2e: kWh * (intensity ?? this.o.fallbackIntensity),
      avoidedGCO2e: intensity !== null && baselineIntensity !== null ? kWh * (baselineIntensity - intensity) : null,
      price,
      cost: price === null ? null : kWh * price,
      detail: { ...detail, intensitySource: intensity === null ? 'fallback' : 'series' },
    };
    this.db
      .prepare(
        'INSERT OR REPLACE INTO run_energy (run_id, method, joules, started_at, ended_at, intensity, price, baseline_intensity, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(runId, record.method, joules, startedAt, endedAt, intensity, price, baselineIntensity, JSON.stringify(record.detail));
    this.log.info(
      { run: runId, method: record.method, joules: Math.round(joules), gCO2e: Number(record.gCO2e.toFixed(2)) },
      'training run energy',
    );
    return record;
  }

  list(limit: number): RunEnergy[] {
    const rows = this.db.prepare('SELECT * FROM run_energy ORDER BY run_id DESC LIMIT ?').all(limit) as Array<{
      run_id: number;
      method: string;
      joules: number;
      started_at: number;
      ended_at: number;
      intensity: number | null;
      price: number | null;
      baseline_intensity: number | null;
      detail: string;
    }>;
    return rows.map((r) => {
      const kWh = r.joules / 3.6e6;
      return {
        runId: r.run_id,
        method: r.method,
        joules: r.joules,
        kWh,
        startedAt: r.started_at,
        endedAt: r.ended_at,
        intensity: r.intensity,
        baselineIntensity: r.baseline_intensity,
        gCO2e: kWh * (r.intensity ?? this.o.fallbackIntensity),
        avoidedGCO2e: r.intensity !== null && r.baseline_intensity !== null ? kWh * (r.baseline_intensity - r.intensity) : null,
        price: r.price,
        cost: r.price === null ? null : kWh * r.price,
        detail: JSON.parse(r.detail) as Record<string, unknown>,
      };
    });
  }

  /** Epochs of the last run that did not start from a champion (for the warm-start saving). */
  private lastColdEpochs(): number | null {
    const rows = this.db.prepare('SELECT detail FROM run_energy ORDER BY run_id DESC LIMIT 50').all() as Array<{ detail: string }>;
    for (const r of rows) {
      const d = JSON.parse(r.detail) as { warmStartedFrom?: string | null; epochs?: number | null };
      if (d.warmStartedFrom === null && typeof d.epochs === 'number') return d.epochs;
    }
    return null;
  }

  /** Energy of runs that started in [from, now). */
  usedKWhSince(from: number): number {
    return (
      ((this.db.prepare('SELECT COALESCE(SUM(joules), 0) AS j FROM run_energy WHERE started_at >= ?').get(from) as { j: number }).j ?? 0) /
      3.6e6
    );
  }

  /** The typical energy of a run here (median of recent ones), for the budget check. */
  typicalRunKWh(): number | null {
    const rows = (this.db.prepare('SELECT joules FROM run_energy ORDER BY run_id DESC LIMIT 5').all() as Array<{ joules: number }>)
      .map((r) => r.joules)
      .sort((a, b) => a - b);
    return rows.length ? rows[Math.floor(rows.length / 2)]! / 3.6e6 : null;
  }
}

/**
 * What a run saved by stopping early (epochs not run, at this run's energy per epoch) and by starting
 * from the champion (epochs fewer than the last cold start took), in joules.
 */
export function savings(joules: number, run: RunSummary, lastColdEpochs: number | null): Record<string, unknown> {
  const out: Record<string, unknown> = { epochs: run.epochs, epochCap: run.epochCap, warmStartedFrom: run.warmStartedFrom };
  if (run.epochs && run.epochs > 0) {
    const perEpoch = joules / run.epochs;
    out.earlyStoppingSavedJoules = Math.max(0, run.epochCap - run.epochs) * perEpoch;
    if (run.warmStartedFrom && lastColdEpochs !== null) out.warmStartSavedJoules = Math.max(0, lastColdEpochs - run.epochs) * perEpoch;
  }
  return out;
}
