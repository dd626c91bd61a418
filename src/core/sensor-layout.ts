/**
 * The order in which a machine's sensors were first seen, interned: machines that send the same
 * sensors in the same order (every machine of a kind, in practice) share one layout, so per-machine
 * state is typed arrays indexed by sensor instead of a map of names per machine. A layout is
 * immutable; a machine that shows a new sensor moves to the layout one name longer, which is itself
 * shared. Like V8's hidden classes, and for the same reason: tens of thousands of machines.
 */
export class SensorLayout {
  private readonly children = new Map<string, SensorLayout>();
  private readonly index: ReadonlyMap<string, number>;

  private constructor(
    readonly names: readonly string[],
    parentIndex: ReadonlyMap<string, number> | null,
    private readonly family: LayoutFamily,
  ) {
    const index = new Map(parentIndex ?? []);
    if (names.length > 0) index.set(names[names.length - 1]!, names.length - 1);
    this.index = index;
  }

  /** The empty layout of a new family (one per stage that keeps per-machine state). */
  static root(maxLayouts = 10_000): SensorLayout {
    return new SensorLayout([], null, { layouts: 1, maxLayouts });
  }

  get width(): number {
    return this.names.length;
  }

  indexOf(name: string): number | undefined {
    return this.index.get(name);
  }

  /** This layout with `name` appended: shared while the family has room, a private copy after. */
  with(name: string): SensorLayout {
    const known = this.children.get(name);
    if (known) return known;
    const next = new SensorLayout([...this.names, name], this.index, this.family);
    // Beyond the bound (sensor names that differ per machine) layouts are no longer remembered:
    // each such machine pays for its own, which its sensor cap bounds.
    if (this.family.layouts < this.family.maxLayouts) {
      this.children.set(name, next);
      this.family.layouts++;
    }
    return next;
  }
}

interface LayoutFamily {
  layouts: number;
  readonly maxLayouts: number;
}

/** A Float64Array at least `width` long, grown by doubling and filled with `fill` past the old end. */
export function widen(a: Float64Array<ArrayBuffer>, width: number, fill: number): Float64Array<ArrayBuffer> {
  if (a.length >= width) return a;
  let n = Math.max(4, a.length);
  while (n < width) n *= 2;
  const b = new Float64Array(n).fill(fill);
  b.set(a);
  return b;
}
