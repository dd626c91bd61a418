import { Type } from '@sinclair/typebox';
import { DURATION_PATTERN, SIZE_PATTERN, parseDuration, parseSize } from './units.js';

/** Marks a schema whose decoded value is milliseconds or bytes, so `config print` can write it as people do. */
export const UNIT = 'x-vigil-unit';

/**
 * Marks a setting that holds a secret, once, in its schema: `config print` masks it, a problem
 * report never echoes it, and the logger redacts keys of its name (see config/secrets.ts).
 */
export const SECRET = 'x-vigil-secret';

/** A secret string (a password, a key, a header value). */
export const SecretString = (extra: { minLength?: number; description?: string } = {}) => Type.String({ ...extra, [SECRET]: true });

/** A duration: integer milliseconds, or a string such as "5s" or "10m". Decodes to milliseconds. */
export const Duration = (def: string, extra: { minimum?: number; description?: string } = {}) =>
  Type.Transform(
    Type.Union([Type.Integer({ minimum: extra.minimum ?? 0 }), Type.String({ pattern: DURATION_PATTERN })], {
      [UNIT]: 'duration',
      default: def,
      description: extra.description
        ? `${extra.description} (milliseconds, or a string like 250ms, 5s, 10m, 2h, 7d)`
        : 'milliseconds, or a string like 250ms, 5s, 10m, 2h, 7d',
    }),
  )
    .Decode((v) => parseDuration(v))
    .Encode((ms) => ms);

/** A duration with no default: absent means "derived from other settings" (say how in `description`). */
export const OptionalDuration = (description: string, extra: { minimum?: number } = {}) =>
  Type.Optional(
    Type.Transform(
      Type.Union([Type.Integer({ minimum: extra.minimum ?? 0 }), Type.String({ pattern: DURATION_PATTERN })], {
        [UNIT]: 'duration',
        description: `${description} (milliseconds, or a string like 5s, 10m, 2h)`,
      }),
    )
      .Decode((v) => parseDuration(v))
      .Encode((ms) => ms),
  );

/** A size: integer bytes, or a string such as "64KiB" or "512MB". Decodes to bytes. */
export const Size = (def: string, extra: { description?: string } = {}) =>
  Type.Transform(
    Type.Union([Type.Integer({ minimum: 1 }), Type.String({ pattern: SIZE_PATTERN })], {
      [UNIT]: 'size',
      default: def,
      description: extra.description
        ? `${extra.description} (bytes, or a string like 64KiB, 512MB)`
        : 'bytes, or a string like 64KiB, 512MB',
    }),
  )
    .Decode((v) => parseSize(v))
    .Encode((b) => b);

/** A size with no default: absent means "derived from other settings" (say how in `description`). */
export const OptionalSize = (description: string) =>
  Type.Optional(
    Type.Transform(
      Type.Union([Type.Integer({ minimum: 1 }), Type.String({ pattern: SIZE_PATTERN })], {
        [UNIT]: 'size',
        description: `${description} (bytes, or a string like 8MiB)`,
      }),
    )
      .Decode((v) => parseSize(v))
      .Encode((b) => b),
  );

export const Port = (def: number) => Type.Integer({ minimum: 0, maximum: 65535, default: def });
export const strict = { additionalProperties: false, default: {} } as const;

/** A topic pattern: MQTT levels, `{name}` for a named level (`{machine}` is required), `+`, or a trailing `#`. */
export const TopicPattern = Type.String({ minLength: 1, pattern: '\\{machine\\}' });
