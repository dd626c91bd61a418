/**
 * Machine kinds and the physics that ties their sensors to the operating point and to hidden wear.
 * Every sensor depends on load (and speed), several on the same component's wear, with noise; so a
 * raw threshold on one sensor cannot tell a worn machine at low load from a healthy one at full load.
 */
import type { Rng } from '../../src/core/random.js';

export const KINDS = ['pump', 'motor', 'gearbox'] as const;
export type KindName = (typeof KINDS)[number];

export interface OperatingPoint {
  /** 0..1 share of rated load. */
  load: number;
  /** Ambient temperature, °C. */
  ambient: number;
  /** Wear of each component, 0 (new) .. 1 (failed). */
  wear: Record<string, number>;
}

/** First-order thermal lag: a temperature follows its target with time constant tau. */
export class ThermalLag {
  private value: number | null = null;
  constructor(private readonly tauMinutes: number) {}
  step(target: number, dtSeconds: number): number {
    if (this.value === null) this.value = target;
    else this.value += (target - this.value) * (1 - Math.exp(-dtSeconds / 60 / this.tauMinutes));
    return this.value;
  }
  reset(): void {
    this.value = null;
  }
}

export interface KindModel {
  readonly components: readonly string[];
  readonly sensors: readonly string[];
  /** True sensor values (before sensor faults) at this operating point. */
  measure(op: OperatingPoint, dtSeconds: number, rng: Rng): Record<string, number>;
  /** Thermal state is physical: it restarts cold after a stop. */
  coolDown(): void;
}

const sq = (x: number) => x * x;
const cube = (x: number) => x * x * x;

class Pump implements KindModel {
  readonly components = ['bearing', 'impeller', 'seal'] as const;
  readonly sensors = [
    'speed_rpm',
    'flow_m3h',
    'discharge_bar',
    'suction_bar',
    'motor_current_a',
    'power_kw',
    'bearing_temp_c',
    'fluid_temp_c',
    'vib_rms_mms',
    'vib_kurtosis',
  ];
  private readonly bearingTemp = new ThermalLag(20);
  private readonly fluidTemp = new ThermalLag(60);

  measure({ load, ambient, wear }: OperatingPoint, dt: number, rng: Rng): Record<string, number> {
    const wb = wear.bearing ?? 0;
    const wi = wear.impeller ?? 0;
    const ws = wear.seal ?? 0;
    const speed = 2950 * (0.6 + 0.4 * load) + rng.normal(0, 5);
    const s = speed / 2950;
    const flow = 120 * s * (1 - 0.25 * wi - 0.12 * ws) * (0.9 + 0.1 * load) + rng.normal(0, 1.5);
    const power = 45 * cube(s) * (1 + 0.12 * wb + 0.08 * wi + 0.05 * ws) + rng.normal(0, 0.4);
    return {
      speed_rpm: speed,
      flow_m3h: flow,
      discharge_bar: 6 * sq(s) * (1 - 0.2 * wi) + rng.normal(0, 0.05),
      // Impeller erosion lets suction pressure fluctuate (incipient cavitation).
      suction_bar: 1.2 - 0.15 * sq(flow / 120) + rng.normal(0, 0.02 + 0.08 * sq(wi)),
      motor_current_a: (power * 1000) / (Math.sqrt(3) * 400 * 0.86) + rng.normal(0, 0.3),
      power_kw: power,
      bearing_temp_c: this.bearingTemp.step(ambient + 15 + 20 * load + 35 * sq(wb), dt) + rng.normal(0, 0.3),
      fluid_temp_c: this.fluidTemp.step(25 + 5 * load + 0.2 * ambient + 8 * ws, dt) + rng.normal(0, 0.2),
      vib_rms_mms: 1.8 * s * (1 + 2.5 * sq(wb) + 1.2 * wi) + rng.normal(0, 0.1 * (1 + wb)),
      vib_kurtosis: 3 + 7 * cube(wb) + Math.abs(rng.normal(0, 0.3)),
    };
  }

  coolDown(): void {
    this.bearingTemp.reset();
    this.fluidTemp.reset();
  }
}

class Motor implements KindModel {
  readonly components = ['bearing', 'winding'] as const;
  readonly sensors = [
    'speed_rpm',
    'current_a',
    'voltage_v',
    'power_factor',
    'current_imbalance_pct',
    'winding_temp_c',
    'bearing_temp_c',
    'vib_rms_mms',
    'vib_kurtosis',
  ];
  private readonly windingTemp = new ThermalLag(30);
  private readonly bearingTemp = new ThermalLag(20);

  measure({ load, ambient, wear }: OperatingPoint, dt: number, rng: Rng): Record<string, number> {
    const wb = wear.bearing ?? 0;
    const ww = wear.winding ?? 0;
    return {
      speed_rpm: 1480 - 20 * load - 8 * ww + rng.normal(0, 1),
      current_a: 75 * (0.3 + 0.7 * load) * (1 + 0.1 * ww + 0.06 * wb) + rng.normal(0, 0.5),
      voltage_v: 400 + rng.normal(0, 3),
      power_factor: 0.7 + 0.17 * load - 0.05 * ww + rng.normal(0, 0.005),
      // Insulation breakdown between turns unbalances the phase currents.
      current_imbalance_pct: Math.max(0, 0.8 + 6 * sq(ww) + rng.normal(0, 0.15)),
      winding_temp_c: this.windingTemp.step(ambient + 30 + 50 * sq(load) + 40 * sq(ww), dt) + rng.normal(0, 0.4),
      bearing_temp_c: this.bearingTemp.step(ambient + 10 + 15 * load + 30 * sq(wb), dt) + rng.normal(0, 0.3),
      vib_rms_mms: 1.2 * (1 + 0.2 * load) * (1 + 3 * sq(wb)) + rng.normal(0, 0.08 * (1 + wb)),
      vib_kurtosis: 3 + 8 * cube(wb) + Math.abs(rng.normal(0, 0.3)),
    };
  }

  coolDown(): void {
    this.windingTemp.reset();
    this.bearingTemp.reset();
  }
}

class Gearbox implements KindModel {
  readonly components = ['gear', 'bearing'] as const;
  readonly sensors = [
    'input_speed_rpm',
    'output_torque_nm',
    'oil_temp_c',
    'bearing_temp_c',
    'vib_rms_mms',
    'vib_peak_g',
    'vib_kurtosis',
    'oil_particles_ppm',
  ];
  private readonly oilTemp = new ThermalLag(90);
  private readonly bearingTemp = new ThermalLag(30);

  measure({ load, ambient, wear }: OperatingPoint, dt: number, rng: Rng): Record<string, number> {
    const wg = wear.gear ?? 0;
    const wb = wear.bearing ?? 0;
    return {
      input_speed_rpm: 1500 * (0.5 + 0.5 * load) + rng.normal(0, 4),
      output_torque_nm: 900 * load * (1 - 0.05 * wg) + rng.normal(0, 8),
      oil_temp_c: this.oilTemp.step(ambient + 20 + 30 * load + 25 * sq(wg) + 10 * sq(wb), dt) + rng.normal(0, 0.3),
      bearing_temp_c: this.bearingTemp.step(ambient + 12 + 18 * load + 30 * sq(wb), dt) + rng.normal(0, 0.3),
      vib_rms_mms: 2.2 * (0.6 + 0.4 * load) * (1 + 2 * sq(wg) + 1.5 * sq(wb)) + rng.normal(0, 0.12),
      vib_peak_g: 0.8 * (1 + 4 * sq(wg) + 2 * wb) + rng.normal(0, 0.05),
      vib_kurtosis: 3 + 5 * cube(wb) + 3 * cube(wg) + Math.abs(rng.normal(0, 0.3)),
      // Wear debris from tooth pitting shows up in the oil.
      oil_particles_ppm: Math.max(0, 15 + 200 * sq(wg) + 40 * sq(wb) + rng.normal(0, 3)),
    };
  }

  coolDown(): void {
    this.oilTemp.reset();
    this.bearingTemp.reset();
  }
}

export function createKind(kind: KindName): KindModel {
  switch (kind) {
    case 'pump':
      return new Pump();
    case 'motor':
      return new Motor();
    case 'gearbox':
      return new Gearbox();
  }
}
