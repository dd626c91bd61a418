import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** One nvidia-smi line per GPU: utilisation %, power W, total energy since driver load in mJ (null where unsupported). */
export interface GpuSample {
  utilisation: number | null;
  powerW: number | null;
  totalEnergyMj: number | null;
}

const num = (s: string | undefined) => {
  const v = Number((s ?? '').trim());
  // "[N/A]", "[Not Supported]" and empty fields mean the GPU does not report it.
  return (s ?? '').includes('[') || (s ?? '').trim() === '' || !Number.isFinite(v) ? null : v;
};

/** Parses `nvidia-smi --query-gpu=utilization.gpu,power.draw,total_energy_consumption --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(text: string): GpuSample[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => {
      const [u, p, e] = l.split(',');
      return { utilisation: num(u), powerW: num(p), totalEnergyMj: num(e) };
    });
}

export const NVIDIA_SMI_QUERY = ['--query-gpu=utilization.gpu,power.draw,total_energy_consumption', '--format=csv,noheader,nounits'];

/** Runs nvidia-smi; null when it is not installed or fails (a gateway without a GPU). */
export function queryGpus(bin = 'nvidia-smi', timeoutMs = 3000): Promise<GpuSample[] | null> {
  return new Promise((resolve) => {
    execFile(bin, NVIDIA_SMI_QUERY, { timeout: timeoutMs }, (err, stdout) => resolve(err ? null : parseNvidiaSmi(stdout)));
  });
}

/** CPU utilisation between two calls (all cores), and the 1-minute load average per core. */
export class CpuLoad {
  private last = os.cpus().map((c) => c.times);

  sample(): { utilisation: number; loadPerCore: number } {
    const now = os.cpus().map((c) => c.times);
    let busy = 0;
    let total = 0;
    now.forEach((t, i) => {
      const p = this.last[i] ?? t;
      const d = (k: keyof typeof t) => t[k] - p[k];
      const b = d('user') + d('nice') + d('sys') + d('irq');
      busy += b;
      total += b + d('idle');
    });
    this.last = now;
    return { utilisation: total > 0 ? busy / total : 0, loadPerCore: os.loadavg()[0]! / Math.max(1, now.length) };
  }
}

/**
 * On battery (or a UPS) when a battery/UPS reports "Discharging", or when mains adapters exist and
 * none is online. Reads /sys/class/power_supply (absent on most servers: then never on battery).
 */
export function onBattery(root = '/sys/class/power_supply'): boolean {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return false;
  }
  const read = (n: string, f: string) => {
    try {
      return readFileSync(path.join(root, n, f), 'utf8').trim();
    } catch {
      return '';
    }
  };
  let mains = 0;
  let mainsOnline = 0;
  for (const n of names) {
    const type = read(n, 'type');
    if ((type === 'Battery' || type === 'UPS') && read(n, 'status') === 'Discharging') return true;
    if (type === 'Mains') {
      mains++;
      if (read(n, 'online') === '1') mainsOnline++;
    }
  }
  return mains > 0 && mainsOnline === 0;
}

/** The plant's own "busy" flag from MQTT: `1`/`0`, `true`/`false`, `busy`/`idle`, or `{"busy": bool}`; stale after `ttlMs`. */
export class PlantBusySignal {
  private state: { busy: boolean; at: number } | null = null;
  invalid = 0;

  constructor(private readonly ttlMs: number) {}

  update(payload: string, at: number): void {
    const t = payload.trim().toLowerCase();
    let busy: boolean | null = ['1', 'true', 'busy', 'on'].includes(t) ? true : ['0', 'false', 'idle', 'off'].includes(t) ? false : null;
    if (busy === null) {
      try {
        const v = (JSON.parse(payload) as { busy?: unknown }).busy;
        if (typeof v === 'boolean') busy = v;
      } catch {
        // counted below
      }
    }
    if (busy === null) {
      this.invalid++;
      return;
    }
    this.state = { busy, at };
  }

  busy(now: number): boolean | null {
    if (!this.state || now - this.state.at > this.ttlMs) return null;
    return this.state.busy;
  }
}
