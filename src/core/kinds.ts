import { createHash } from 'node:crypto';

/** `machines:` in the config: machine ids matching `match` (a glob: `*` any run of characters, `?` one) are of `kind`. */
export interface KindPattern {
  match: string;
  kind: string;
}

export interface MachineKind {
  kind: string;
  /** Named by a `machines:` pattern, or inferred from the sensors the machine sends. */
  source: 'config' | 'inferred';
}

/** Kind names: what a registry directory, a URL segment and a Prometheus label can all hold. */
export const KIND_NAME = '^(?!auto-)[a-z0-9][a-z0-9_-]{0,39}$';

/** Models from before kinds existed (no `kind` in meta.json) serve every machine whose kind has no champion. */
export const ANY_KIND = '*';

export const INFERRED_KIND_RULE =
  'a machine no `machines:` pattern matches is of the kind of every machine that sends the same set of sensors; ' +
  "that kind is named 'auto-' followed by the first 8 hex digits of the SHA-1 of the sorted sensor names joined by commas";

/**
 * A machine's kind: the first `machines:` pattern its id matches, else inferred from its sensor set
 * (machines that send the same sensors are the same kind of machine). A machine whose sensor set
 * changes is inferred anew, so give the kind in the config where sensors come and go.
 */
export class KindResolver {
  private readonly patterns: Array<{ re: RegExp; kind: string }>;
  /** Sensor signature → inferred name; bounded by the number of distinct sensor sets, not machines. */
  private readonly inferred = new Map<string, string>();

  constructor(patterns: readonly KindPattern[]) {
    this.patterns = patterns.map((p) => ({ re: globToRegExp(p.match), kind: p.kind }));
  }

  /** The kind a pattern gives this machine, or null when none matches. */
  configured(machine: string): string | null {
    for (const p of this.patterns) if (p.re.test(machine)) return p.kind;
    return null;
  }

  kindOf(machine: string, sensors: Iterable<string>): MachineKind {
    const kind = this.configured(machine);
    return kind !== null ? { kind, source: 'config' } : { kind: this.inferredKind(sensors), source: 'inferred' };
  }

  inferredKind(sensors: Iterable<string>): string {
    const signature = [...new Set(sensors)].sort().join(',');
    let name = this.inferred.get(signature);
    if (name === undefined) {
      name = `auto-${createHash('sha1').update(signature).digest('hex').slice(0, 8)}`;
      if (this.inferred.size >= 10_000) this.inferred.clear();
      this.inferred.set(signature, name);
    }
    return name;
  }
}

export function globToRegExp(glob: string): RegExp {
  // A run of * is one: more would only make the pattern backtrack longer on a long id.
  const body = glob
    .replace(/\*+/g, '*')
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}
