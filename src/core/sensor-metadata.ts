/** What is known about a sensor beyond its readings: the unit on the page's axes, an engineering range. */
export interface SensorDescription {
  unit?: string;
  low?: number;
  high?: number;
}

const MAX_MACHINES = 20_000;

/**
 * Sensor descriptions by machine (from Sparkplug BIRTH properties) over a config fallback by sensor
 * name (`sensors.units`). Bounded: at most 20,000 machines, the least recently described dropped.
 */
export class SensorMetadata {
  private readonly byMachine = new Map<string, Map<string, SensorDescription>>();
  /** `sensors.units` as a Map: sensor names come from the wire and may be any own or inherited key of an object. */
  private readonly units: Map<string, string>;

  constructor(units: Record<string, string> = {}) {
    this.units = new Map(Object.entries(units));
  }

  set(machine: string, sensor: string, d: SensorDescription): void {
    let m = this.byMachine.get(machine);
    if (!m) {
      if (this.byMachine.size >= MAX_MACHINES) this.byMachine.delete(this.byMachine.keys().next().value!);
      this.byMachine.set(machine, (m = new Map<string, SensorDescription>()));
    }
    if (m.size < 10_000 || m.has(sensor)) m.set(sensor, d);
  }

  describe(machine: string, sensor: string): SensorDescription | undefined {
    const own = this.byMachine.get(machine)?.get(sensor);
    const unit = this.units.get(sensor);
    if (!own) return unit === undefined ? undefined : { unit };
    return own.unit === undefined && unit !== undefined ? { ...own, unit } : own;
  }

  /** The described sensors of a machine, for the page (config units for its given sensors too). */
  forMachine(machine: string, sensors: string[]): Record<string, SensorDescription> {
    const out: Record<string, SensorDescription> = {};
    for (const s of sensors) {
      const d = this.describe(machine, s);
      if (d) out[s] = d;
    }
    return out;
  }
}
