import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { queryGpus, type GpuSample } from '../sources/host.js';

export type EnergyMethod = 'rapl' | 'nvml-energy' | 'nvml-power' | 'cpu-estimate';

/** Counter delta with wrap-around: a counter that passed its maximum restarts from zero. */
export function counterDelta(before: number, after: number, max: number): number {
  return after >= before ? after - before : after + (max - before);
}

interface RaplZone {
  file: string;
  max: number;
}

/**
 * Intel/AMD RAPL package counters under /sys/class/powercap (top-level `intel-rapl:N` zones only:
 * their sub-zones are parts of them). Unreadable on many kernels without root (since 2020), in which
 * case this meter is not available.
 */
export class RaplMeter {
  private readonly zones: RaplZone[];

  constructor(root = '/sys/class/powercap') {
    let names: string[];
    try {
      names = readdirSync(root).filter((n) => /^intel-rapl:\d+$/.test(n));
    } catch {
      names = [];
    }
    this.zones = names
      .map((n) => ({ file: path.join(root, n, 'energy_uj'), max: Number(readOr(path.join(root, n, 'max_energy_range_uj'), 'NaN')) }))
      .filter((z) => Number.isFinite(z.max) && Number.isFinite(Number(readOr(z.file, 'NaN'))));
  }

  get available(): boolean {
    return this.zones.length > 0;
  }

  read(): number[] {
    return this.zones.map((z) => Number(readOr(z.file, 'NaN')));
  }

  /** Joules between two readings, summed over packages. */
  joules(before: number[], after: number[]): number {
    let uj = 0;
    this.zones.forEach((z, i) => {
      if (Number.isFinite(before[i]!) && Number.isFinite(after[i]!)) uj += counterDelta(before[i]!, after[i]!, z.max);
    });
    return uj / 1e6;
  }
}

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return fallback;
  }
}

/** GPU energy: NVML's total-energy counter where the GPU has one, else integrated power samples. */
export class GpuMeter {
  constructor(private readonly query: () => Promise<GpuSample[] | null> = () => queryGpus()) {}

  async sample(): Promise<GpuSample[] | null> {
    return this.query();
  }

  static energyJoules(before: GpuSample[], after: GpuSample[]): number | null {
    if (
      before.length === 0 ||
      before.length !== after.length ||
      before.some((g, i) => g.totalEnergyMj === null || after[i]!.totalEnergyMj === null)
    )
      return null;
    return before.reduce((sum, g, i) => sum + (after[i]!.totalEnergyMj! - g.totalEnergyMj!) / 1000, 0);
  }

  /** Trapezoid integral of summed power samples `[at ms, watts]`. */
  static integratePower(samples: Array<[number, number]>): number {
    let j = 0;
    for (let i = 1; i < samples.length; i++)
      j += ((samples[i]![1] + samples[i - 1]![1]) / 2) * ((samples[i]![0] - samples[i - 1]![0]) / 1000);
    return j;
  }
}
