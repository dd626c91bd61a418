import { Type, type StaticDecode } from '@sinclair/typebox';
import { Port, strict } from '../config/schema-parts.js';

const Role = Type.Union([Type.Literal('viewer'), Type.Literal('operator'), Type.Literal('admin')]);

export const ApiSchema = Type.Object(
  {
    anonymousRead: Type.Optional(
      Type.Boolean({ description: 'reads without a token; default: on when http.host is a loopback address, off otherwise' }),
    ),
    tokens: Type.Array(
      Type.Object(
        {
          name: Type.String({ minLength: 1, maxLength: 64, description: 'who holds the token (shown in audit fields, never the token)' }),
          role: Role,
          sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'hex SHA-256 of the token (`vigil token create` prints both)' }),
        },
        { additionalProperties: false },
      ),
      { default: [] },
    ),
    writesPerMinute: Type.Integer({ minimum: 1, default: 120, description: 'rate limit per client on write routes' }),
    bodyLimit: Type.Integer({ minimum: 1024, default: 65_536, description: 'bytes' }),
    heavyReads: Type.Object(
      {
        concurrency: Type.Integer({
          minimum: 1,
          maximum: 32,
          default: 2,
          description: "store queries of the API (a machine's readings or events over a range) running at once",
        }),
        maxQueued: Type.Integer({ minimum: 0, default: 8, description: 'such queries waiting; beyond, 503 with Retry-After' }),
      },
      strict,
    ),
  },
  { ...strict, description: 'the HTTP API: who may read and write, write rate, body size, expensive reads' },
);

export const HttpSchema = Type.Object(
  { host: Type.String({ default: '127.0.0.1' }), port: Port(8080) },
  { ...strict, description: 'where the HTTP API and the status page listen' },
);

export type HttpConfig = StaticDecode<typeof HttpSchema>;
export type ApiConfig = Omit<StaticDecode<typeof ApiSchema>, 'anonymousRead'> & { anonymousRead: boolean };

/** Open reads are a convenience for a gateway's own console, never for a plant-wide address. */
export function resolveApi(api: StaticDecode<typeof ApiSchema>, http: HttpConfig): ApiConfig {
  return { ...api, anonymousRead: api.anonymousRead ?? isLoopback(http.host) };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
