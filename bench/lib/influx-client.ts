/** The few InfluxDB 1.x queries the benchmarks need, over its HTTP API. */
export class Influx {
  constructor(private readonly url: string) {}

  private async query(db: string | null, q: string, timeoutMs = 5000): Promise<unknown> {
    const params = new URLSearchParams({ q, epoch: 'ms' });
    if (db) params.set('db', db);
    const res = await fetch(`${this.url}/query?${params.toString()}`, { method: 'POST', signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`InfluxDB ${res.status}: ${await res.text()}`);
    return res.json();
  }

  async create(db: string): Promise<void> {
    await this.query(null, `CREATE DATABASE "${db}"`);
  }

  /** Points of `telemetry` with field s0 (one per message in the benches), optionally from a time on. */
  async count(db: string, fromTs = 0): Promise<number> {
    const r = (await this.query(db, `SELECT count("s0") FROM "telemetry" WHERE time >= ${fromTs}ms`)) as {
      results: Array<{ series?: Array<{ values: number[][] }> }>;
    };
    return r.results[0]?.series?.[0]?.values[0]?.[1] ?? 0;
  }

  async times(db: string, fromTs: number): Promise<Float64Array> {
    const r = (await this.query(db, `SELECT "s0" FROM "telemetry" WHERE time >= ${fromTs}ms`)) as {
      results: Array<{ series?: Array<{ values: number[][] }> }>;
    };
    return Float64Array.from((r.results[0]?.series ?? []).flatMap((s) => s.values.map((v) => v[0]!))).sort();
  }

  /** Fields stored (readings), summed over every field of measurement telemetry (slow over many series: minutes allowed). */
  async readings(db: string): Promise<number> {
    const r = (await this.query(db, 'SELECT count(*) FROM "telemetry"', 600_000)) as {
      results: Array<{ series?: Array<{ values: number[][] }> }>;
    };
    return (r.results[0]?.series?.[0]?.values[0] ?? []).slice(1).reduce((a, b) => a + (b ?? 0), 0);
  }
}
