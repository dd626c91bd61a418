/**
 * One copy of each of a bounded number of strings: sites and lines repeat across tens of thousands
 * of machines, and each topic parsed would otherwise keep its own copy of them.
 */
export class StringInterner {
  private readonly known = new Map<string, string>();
  constructor(private readonly max = 10_000) {}

  intern(s: string): string {
    const known = this.known.get(s);
    if (known !== undefined) return known;
    if (this.known.size >= this.max) this.known.clear();
    this.known.set(s, s);
    return s;
  }
}
