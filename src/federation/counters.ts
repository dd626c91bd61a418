import type { RefusalReason } from './wire.js';

/** A federation role's own tallies, read by its stage report (status and /metrics). */
export class FederationCounters {
  rounds = { aggregated: 0, tooFew: 0, failed: 0 };
  accepted = 0;
  refused: Partial<Record<RefusalReason, number>> = {};
  bytesIn = 0;
  bytesOut = 0;

  refuse(reason: RefusalReason, n = 1): void {
    this.refused[reason] = (this.refused[reason] ?? 0) + n;
  }

  snapshot() {
    return {
      rounds: { ...this.rounds },
      accepted: this.accepted,
      refused: { ...this.refused } as Record<string, number>,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
    };
  }

  /** Adds another's tallies (several kinds' federations on one gateway, or the federations before). */
  add(c: FederationCounters): this {
    this.rounds.aggregated += c.rounds.aggregated;
    this.rounds.tooFew += c.rounds.tooFew;
    this.rounds.failed += c.rounds.failed;
    this.accepted += c.accepted;
    this.bytesIn += c.bytesIn;
    this.bytesOut += c.bytesOut;
    for (const [k, v] of Object.entries(c.refused)) this.refuse(k as RefusalReason, v);
    return this;
  }

  static sum(list: readonly FederationCounters[]): ReturnType<FederationCounters['snapshot']> {
    const out = new FederationCounters();
    for (const c of list) out.add(c);
    return out.snapshot();
  }
}
