/** Human-friendly durations and sizes in config files: `250ms`, `5s`, `10m`, `2h`, `7d`; `64KiB`, `512MB`. */

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

export const DURATION_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)\\s*$';
export const SIZE_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*([kKmMgG]i?[bB]|[bB])\\s*$';

/** Milliseconds from a number (already ms) or a duration string; throws on anything else. */
export function parseDuration(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(value);
  if (!m) throw new Error(`not a duration: ${JSON.stringify(value)} (use e.g. 250ms, 5s, 10m, 2h, 7d)`);
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2]!]!);
}

/** Bytes from a number (already bytes) or a size string; throws on anything else. */
export function parseSize(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]i?[bB]|[bB])\s*$/.exec(value);
  if (!m) throw new Error(`not a size: ${JSON.stringify(value)} (use e.g. 64KiB, 512MB)`);
  return Math.round(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!);
}

/** Milliseconds as the config writes them: the largest unit that divides exactly (`90m`, `7d`, `250ms`). */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0 || !Number.isInteger(ms)) return String(ms);
  if (ms === 0) return '0s';
  for (const [unit, n] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const)
    if (ms % n === 0) return `${ms / n}${unit}`;
  return `${ms}ms`;
}

/** Bytes as the config writes them: `256KiB`, `1MiB`, `500MB`, or plain bytes. */
export function formatSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes <= 0 || !Number.isInteger(bytes)) return String(bytes);
  for (const [unit, n] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
    ['GB', 1000 ** 3],
    ['MB', 1000 ** 2],
    ['kB', 1000],
  ] as const)
    if (bytes % n === 0) return `${bytes / n}${unit}`;
  return `${bytes}B`;
}
