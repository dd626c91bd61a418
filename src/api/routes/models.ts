import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { VigilError, errorMessage } from '../../core/errors.js';
import { RegistryError, type ModelMeta, type ModelRegistry } from '../../registry/registry.js';
import { liveRegimeWarnings } from '../../training/bias-report.js';
import { Nullable, READ_ERRORS, WRITE_ERRORS, errors } from '../schemas.js';

const VersionParams = Type.Object({ version: Type.String({ pattern: '^v\\d{4,}$' }) }, { additionalProperties: false });
const Summary = Type.Object({
  version: Type.String(),
  champion: Type.Boolean(),
  createdAt: Type.String(),
  parent: Nullable(Type.String()),
  decision: Type.Object({ promoted: Type.Boolean(), reason: Type.String() }),
  prAuc: Type.Number(),
  f1: Type.Number(),
  rulRmse: Type.Number(),
  backend: Type.String(),
});
const ReasonBody = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false });
const RollbackBody = Type.Object(
  { version: Type.Optional(Type.String({ pattern: '^v\\d{4,}$' })), reason: Type.Optional(Type.String({ maxLength: 500 })) },
  { additionalProperties: false },
);
const ChampionReply = Type.Object({ champion: Type.String() });

export interface ModelRouteDeps {
  registry: ModelRegistry;
  /** Called after a promotion or rollback so scoring switches at once. */
  championChanged(): void;
  /** Share of recent readings per regime of a model (null without regimes or data). */
  liveRegimeShare?(norm: ModelMeta['normalisation']): Promise<number[] | null>;
  writesPerMinute: number;
}

/** The registry over HTTP: versions with their metrics, promotion and rollback (admin). */
export function modelRoutes(app: FastifyInstance, d: ModelRouteDeps): void {
  const guard = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      // The registry names files; the API names versions (no paths of the gateway's disk in answers).
      if (err instanceof RegistryError && err.notFound) throw new VigilError('VGL_NOT_FOUND', err.notFound);
      if (err instanceof RegistryError) throw new VigilError('VGL_MODEL', errorMessage(err).replaceAll(d.registry.dir, 'models'));
      throw err;
    }
  };
  const admin = { role: 'admin' as const, rateLimit: { max: d.writesPerMinute, timeWindow: 60_000 } };

  app.get(
    '/models',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['models'],
        response: { 200: Type.Object({ champion: Nullable(Type.String()), items: Type.Array(Summary) }), ...errors(...READ_ERRORS, 500) },
      },
    },
    async () =>
      guard(() => ({
        champion: d.registry.championVersion(),
        items: d.registry
          .list()
          .reverse()
          .map((m) => ({
            version: m.version,
            champion: m.champion,
            createdAt: m.createdAt,
            parent: m.parent,
            decision: m.decision,
            prAuc: m.metrics.validation.classification.prAuc,
            f1: m.metrics.validation.classification.f1,
            rulRmse: m.metrics.validation.rul.rmse,
            backend: m.training.backend,
          })),
      })),
  );

  app.get<{ Params: Static<typeof VersionParams> }>(
    '/models/:version',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['models'],
        params: VersionParams,
        response: {
          200: Type.Object({
            champion: Type.Boolean(),
            meta: Type.Unknown(),
            // Regime mix now against training: what only live data can say about a model.
            live: Type.Object({ regimeShare: Nullable(Type.Array(Type.Number())), warnings: Type.Array(Type.String()) }),
          }),
          ...errors(...READ_ERRORS, 404),
        },
      },
    },
    async (req) => {
      const meta = guard(() => d.registry.meta(req.params.version));
      let regimeShare: number[] | null;
      try {
        regimeShare = meta.normalisation.regimes && d.liveRegimeShare ? await d.liveRegimeShare(meta.normalisation) : null;
      } catch (err) {
        // The store being unavailable must not hide the model: the live part is left empty, and says so.
        req.log.warn({ err }, 'cannot read recent data for the regime mix');
        return {
          champion: d.registry.championVersion() === meta.version,
          meta,
          live: { regimeShare: null, warnings: ['recent data unreadable'] },
        };
      }
      const trainShare = meta.normalisation.regimes?.model.trainShare ?? [];
      return {
        champion: d.registry.championVersion() === meta.version,
        meta,
        live: { regimeShare, warnings: regimeShare ? liveRegimeWarnings(trainShare, regimeShare) : [] },
      };
    },
  );

  app.post<{ Params: Static<typeof VersionParams>; Body: Static<typeof ReasonBody> }>(
    '/models/:version/promote',
    {
      config: admin,
      schema: { tags: ['models'], params: VersionParams, body: ReasonBody, response: { 200: ChampionReply, ...errors(...WRITE_ERRORS) } },
    },
    async (req) => {
      guard(() => d.registry.promote(req.params.version, req.body?.reason ?? `promoted by ${req.principal.name}`));
      d.championChanged();
      return { champion: req.params.version };
    },
  );

  app.post<{ Body: Static<typeof RollbackBody> }>(
    '/models/rollback',
    { config: admin, schema: { tags: ['models'], body: RollbackBody, response: { 200: ChampionReply, ...errors(...WRITE_ERRORS) } } },
    async (req) => {
      const champion = guard(() => d.registry.rollback(req.body?.version));
      d.championChanged();
      return { champion };
    },
  );
}
