/** Direct InfluxDB HTTP queries, independent of the code under test, to count what really landed. */
export async function influxQuery(url: string, db: string, q: string): Promise<Array<{ columns: string[]; values: unknown[][] }>> {
  const res = await fetch(`${url}/query?db=${encodeURIComponent(db)}&epoch=ms&q=${encodeURIComponent(q)}`);
  const body = (await res.json()) as { results: Array<{ series?: Array<{ columns: string[]; values: unknown[][] }>; error?: string }> };
  if (body.results[0]?.error) throw new Error(body.results[0].error);
  return body.results[0]?.series ?? [];
}

/** Number of readings (field values) in measurement telemetry. */
export async function countInfluxReadings(url: string, db: string): Promise<number> {
  let series;
  try {
    series = await influxQuery(url, db, 'SELECT count(*) FROM telemetry');
  } catch (err) {
    if (/database not found/.test((err as Error).message)) return 0;
    throw err;
  }
  let total = 0;
  for (const s of series) for (const row of s.values) for (const v of row.slice(1)) total += typeof v === 'number' ? v : 0;
  return total;
}

export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string | (() => string),
  intervalMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Waits until a daemon on `port` answers /readyz with 200. */
export function waitForReady(port: number, timeoutMs = 20_000): Promise<void> {
  return waitUntil(
    async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
      } catch {
        return false;
      }
    },
    timeoutMs,
    `daemon on port ${port} ready`,
  );
}
