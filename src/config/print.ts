import type { TSchema } from '@sinclair/typebox';
import { UNIT } from './schema-parts.js';
import { formatDuration, formatSize } from './units.js';

/**
 * A decoded config as people write one: durations and sizes back as `10s` and `256KiB`, found by
 * walking the schema beside the value (so a number that is not a duration stays a number).
 */
export function humanConfig(schema: TSchema, value: unknown): unknown {
  const unit = (schema as Record<string, unknown>)[UNIT];
  if (typeof value === 'number' && unit === 'duration') return formatDuration(value);
  if (typeof value === 'number' && unit === 'size') return formatSize(value);
  if (Array.isArray(value)) {
    const items = (schema as { items?: TSchema }).items;
    return items ? value.map((v) => humanConfig(items, v)) : value;
  }
  if (value !== null && typeof value === 'object') {
    const props = (schema as { properties?: Record<string, TSchema> }).properties;
    const pattern = (schema as { patternProperties?: Record<string, TSchema> }).patternProperties;
    const each = pattern ? Object.values(pattern)[0] : undefined;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const sub = props?.[k] ?? each;
      out[k] = sub ? humanConfig(sub, v) : v;
    }
    return out;
  }
  return value;
}
