import type { FleetMembership } from '../core/types.js';

export interface FleetCapStats {
  tracked: number;
  max: number;
  /** Messages of machines beyond the cap: stored, not tracked. */
  untrackedMessages: number;
}

/**
 * The tracked fleet: the first `max` machine ids seen since start (machines of the allow-list, when
 * there is one, are all there is). Only membership is kept here, one entry per machine; the stages
 * keep their own state for members only.
 */
export class FleetCap implements FleetMembership {
  private readonly members = new Set<string>();
  readonly stats: FleetCapStats;

  constructor(readonly max: number) {
    this.stats = { tracked: 0, max, untrackedMessages: 0 };
  }

  admit(machine: string): boolean {
    if (this.members.has(machine)) return true;
    if (this.members.size >= this.max) return false;
    this.members.add(machine);
    this.stats.tracked = this.members.size;
    return true;
  }

  has(machine: string): boolean {
    return this.members.has(machine);
  }
}
