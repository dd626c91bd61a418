import type { RefusalReason } from './wire.js';

/** A federation role's own tallies, read by its stage report (status and /metrics). */
export class FederationCounters {
  rounds = { aggregated: 0, tooFew: 0, failed: 0 };
  accepted = 0;
  refused: Partial<Record<RefusalReason, number>> = {};
  bytesIn = 0;
  bytesOut = 0;

  refuse(reason: RefusalReason): void {
    this.refused[reason] = (this.refused[reason] ?? 0) + 1;
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

  /** Adds another's tallies (several kinds' federations on one gateway). */
  static sum(list: readonly FederationCounters[]): ReturnType<FederationCounters['snapshot']> {
    const out = new FederationCounters();
    for (const c of list) {
      out.rounds.aggregated += c.rounds.aggregated;
      out.rounds.tooFew += c.rounds.tooFew;
      out.rounds.failed += c.rounds.failed;
      out.accepted += c.accepted;
      out.bytesIn += c.bytesIn;
      out.bytesOut += c.bytesOut;
      for (const [k, v] of Object.entries(c.refused)) out.refused[k as RefusalReason] = (out.refused[k as RefusalReason] ?? 0) + v;
    }
    return out.snapshot();
  }
}
