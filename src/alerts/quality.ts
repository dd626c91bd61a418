import type { MachineRef, Sample } from '../core/types.js';
import type { AlertKind } from './types.js';

export interface QualityOptions {
  staleAfterMs: number;
  sensorStaleAfterMs: number;
  flatlineAfterMs: number;
  flatlineMinReadings: number;
  ranges: Array<{ sensor: string; min?: number; max?: number; machines?: string }>;
}

/** A data-quality condition of one machine (and sensor) as of a check: active or cleared. */
export interface QualityCondition {
  machine: MachineRef;
  kind: Exclude<AlertKind, 'failure_risk'>;
  subject: string;
  active: boolean;
  message: string;
  details: Record<string, unknown>;
}

interface SensorTrack {
  lastSeen: number;
  value: number;
  /** Since when (arrival time) the value has not changed, and how many readings repeated it. */
  unchangedSince: number;
  repeats: number;
}

interface MachineTrack {
  ref: MachineRef;
  lastSeen: number;
  sensors: Map<string, SensorTrack>;
}

/**
 * Tracks arrival times and values per machine and sensor; `check` turns them into conditions. Times
 * are arrival times on the daemon's clock, not the readings' own timestamps, so replayed or
 * back-filled data is judged by whether it is still arriving.
 */
export class QualityMonitor {
  private readonly machines = new Map<string, MachineTrack>();
  private readonly ranges: Array<{ sensor: string; min?: number; max?: number; machines?: RegExp }>;

  constructor(private readonly o: QualityOptions) {
    this.ranges = o.ranges.map((r) => ({ ...r, machines: r.machines ? new RegExp(r.machines) : undefined }));
  }

  observe(sample: Sample, receivedAt: number): void {
    let m = this.machines.get(sample.machine.machine);
    if (!m) {
      m = { ref: sample.machine, lastSeen: receivedAt, sensors: new Map() };
      this.machines.set(sample.machine.machine, m);
    }
    m.lastSeen = receivedAt;
    for (const name in sample.values) {
      const value = sample.values[name]!;
      const t = m.sensors.get(name);
      if (!t) {
        m.sensors.set(name, { lastSeen: receivedAt, value, unchangedSince: receivedAt, repeats: 0 });
      } else {
        t.lastSeen = receivedAt;
        if (value === t.value) t.repeats++;
        else {
          t.value = value;
          t.unchangedSince = receivedAt;
          t.repeats = 0;
        }
      }
    }
  }

  /** Machines whose history should not raise "stale" after a restart until they are seen again. */
  forget(machine: string): void {
    this.machines.delete(machine);
  }

  check(now: number): QualityCondition[] {
    const out: QualityCondition[] = [];
    const o = this.o;
    for (const m of this.machines.values()) {
      const machineSilentMs = now - m.lastSeen;
      const machineStale = machineSilentMs >= o.staleAfterMs;
      out.push({
        machine: m.ref,
        kind: 'machine_stale',
        subject: '',
        active: machineStale,
        message: machineStale ? `no data from ${m.ref.machine} for ${Math.round(machineSilentMs / 1000)} s` : `${m.ref.machine} is sending again`,
        details: { lastSeenAt: new Date(m.lastSeen).toISOString(), silentMs: machineSilentMs },
      });
      // A silent machine is one alert, not one per sensor; its sensor alerts stay as they were.
      if (machineStale) continue;
      for (const [sensor, t] of m.sensors) {
        const silentMs = now - t.lastSeen;
        const sensorStale = silentMs >= o.sensorStaleAfterMs;
        out.push({
          machine: m.ref,
          kind: 'sensor_stale',
          subject: sensor,
          active: sensorStale,
          message: sensorStale ? `sensor ${sensor} of ${m.ref.machine} silent for ${Math.round(silentMs / 1000)} s` : `sensor ${sensor} of ${m.ref.machine} reports again`,
          details: { sensor, lastSeenAt: new Date(t.lastSeen).toISOString(), silentMs },
        });
        // Likewise a silent sensor: whether it is stuck is unknown until it reports again.
        if (sensorStale) continue;
        const flatMs = t.lastSeen - t.unchangedSince;
        const flat = t.repeats + 1 >= o.flatlineMinReadings && flatMs >= o.flatlineAfterMs;
        out.push({
          machine: m.ref,
          kind: 'flatline',
          subject: sensor,
          active: flat,
          message: flat ? `sensor ${sensor} of ${m.ref.machine} stuck at ${t.value} for ${Math.round(flatMs / 1000)} s` : `sensor ${sensor} of ${m.ref.machine} varies again`,
          details: { sensor, value: t.value, readings: t.repeats + 1, sinceMs: flatMs },
        });
        for (const r of this.ranges) {
          if (r.sensor !== sensor || (r.machines && !r.machines.test(m.ref.machine))) continue;
          const low = r.min !== undefined && t.value < r.min;
          const high = r.max !== undefined && t.value > r.max;
          out.push({
            machine: m.ref,
            kind: 'out_of_range',
            subject: sensor,
            active: low || high,
            message:
              low || high
                ? `sensor ${sensor} of ${m.ref.machine} at ${t.value}, ${low ? `below ${r.min}` : `above ${r.max}`}`
                : `sensor ${sensor} of ${m.ref.machine} back in range`,
            details: { sensor, value: t.value, min: r.min ?? null, max: r.max ?? null },
          });
        }
      }
    }
    return out;
  }
}
