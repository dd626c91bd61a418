import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { VigilError, errorMessage } from '../../../core/errors.js';
import { INFERRED_KIND_RULE } from '../../../core/kinds.js';
import type { KindGroup } from '../../../features/index.js';
import { RegistryError, isHealthMeta, kindOf, recipeText, roleOf, type ModelMeta, type ModelRegistry } from '../../../registry/index.js';
import { liveRegimeWarnings, type RecipeView } from '../../../training/index.js';
import { Nullable, READ_ERRORS, WRITE_ERRORS, errors } from '../../schemas.js';
import { VersionParams, Summary, ReasonBody, RollbackBody, ListQuery, Kind, ChampionReply } from './schemas.js';

export interface ModelRouteDeps {
  /** Its promotions and rollbacks tell the registry's listeners (scoring switches at once). */
  registry: ModelRegistry;
  /** Share of recent readings per regime of a model (null without regimes or data). */
  liveRegimeShare?(norm: ModelMeta['normalisation'], kind: string): Promise<number[] | null>;
  /** The machines of the store grouped by kind. */
  kinds?(): Promise<KindGroup[]>;
  /** How far a kind without a health model is from its first (the energy policy's last look). */
  learningNormal?(kind: string): string | null;
  /** What a kind's next run learns with: the global settings and its own recipe's. */
  recipe?(kind: string): RecipeView;
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
  const whyNoHealthModel = (kind: string): string => {
    const newest = d.registry.newestVersion(kind, 'health');
    if (newest) return `${newest.version} was not promoted: ${newest.decision.reason}`;
    return d.learningNormal?.(kind) ?? 'no health model of this kind trained yet';
  };

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/models',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['models'],
        querystring: ListQuery,
        response: {
          200: Type.Object({
            champion: Nullable(Type.String({ description: 'the only champion; null with none, or with several kinds (see champions)' })),
            champions: Type.Record(Type.String(), Type.String(), { description: 'the failure champion of each kind' }),
            healthChampions: Type.Record(Type.String(), Type.String(), { description: 'the health champion of each kind' }),
            items: Type.Array(Summary),
          }),
          ...errors(...READ_ERRORS, 500),
        },
      },
    },
    async (req) =>
      guard(() => ({
        champion: d.registry.championVersion(),
        champions: d.registry.champions(),
        healthChampions: d.registry.champions('health'),
        items: d.registry
          .list(req.query.kind, req.query.role)
          .reverse()
          .map((m) => {
            const health = isHealthMeta(m) ? m : null;
            const failure = isHealthMeta(m) ? null : m;
            return {
              version: m.version,
              kind: kindOf(m),
              role: roleOf(m),
              champion: m.champion,
              transferredFrom: failure?.transferredFrom ?? null,
              createdAt: m.createdAt,
              parent: m.parent,
              decision: m.decision,
              prAuc: failure?.metrics.validation.classification.prAuc ?? null,
              f1: failure?.metrics.validation.classification.f1 ?? null,
              rulRmse: failure?.metrics.validation.rul.rmse ?? null,
              healthThreshold: health?.calibration.threshold ?? null,
              falseAlarmsPerMachineMonth: health?.calibration.estimate.falseAlarmsPerMachineMonth ?? null,
              recipe: recipeText(m),
              backend: m.training.backend,
            };
          }),
      })),
  );

  app.get(
    '/kinds',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['models'],
        description:
          'Machine kinds: a failure model and a health model each. A kind comes from a `machines:` pattern of the config, or is inferred by the rule given here.',
        response: { 200: Type.Object({ rule: Type.String(), items: Type.Array(Kind) }), ...errors(...READ_ERRORS, 500, 502) },
      },
    },
    async () => {
      let groups: KindGroup[];
      try {
        groups = d.kinds ? await d.kinds() : [];
      } catch (err) {
        throw new VigilError('VGL_STORE_QUERY', `cannot list machines: ${errorMessage(err)}`);
      }
      return guard(() => {
        const champions = d.registry.champions();
        const health = d.registry.champions('health');
        return {
          rule: INFERRED_KIND_RULE,
          items: groups.map((g) => {
            const servedBy = champions[g.kind] ?? d.registry.servingVersion(g.kind);
            const newest = servedBy ? null : d.registry.newestVersion(g.kind);
            return {
              name: g.kind,
              source: g.source,
              machines: g.machines.length,
              machineIds: g.machines.slice(0, 50),
              sensors: g.sensors,
              champion: champions[g.kind] ?? null,
              servedBy,
              whyNoModel: servedBy
                ? null
                : newest
                  ? `${newest.version} was not promoted: ${newest.decision.reason}`
                  : 'no model of this kind trained yet',
              health: { champion: health[g.kind] ?? null, whyNoModel: health[g.kind] ? null : whyNoHealthModel(g.kind) },
              recipe: d.recipe?.(g.kind) ?? null,
            };
          }),
        };
      });
    },
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
            recipe: Type.String({ description: "what it was trained with, and which of it its kind's own recipe set (meta.recipe)" }),
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
        regimeShare = meta.normalisation.regimes && d.liveRegimeShare ? await d.liveRegimeShare(meta.normalisation, kindOf(meta)) : null;
      } catch (err) {
        // The store being unavailable must not hide the model: the live part is left empty, and says so.
        req.log.warn({ err }, 'cannot read recent data for the regime mix');
        return {
          champion: d.registry.champions(roleOf(meta))[kindOf(meta)] === meta.version,
          recipe: recipeText(meta),
          meta,
          live: { regimeShare: null, warnings: ['recent data unreadable'] },
        };
      }
      const trainShare = meta.normalisation.regimes?.model.trainShare ?? [];
      return {
        champion: d.registry.champions(roleOf(meta))[kindOf(meta)] === meta.version,
        recipe: recipeText(meta),
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
      return { champion: req.params.version };
    },
  );

  app.post<{ Body: Static<typeof RollbackBody> }>(
    '/models/rollback',
    { config: admin, schema: { tags: ['models'], body: RollbackBody, response: { 200: ChampionReply, ...errors(...WRITE_ERRORS) } } },
    async (req) => {
      const champion = guard(() => d.registry.rollback(req.body?.version, req.body?.kind, req.body?.role));
      return { champion };
    },
  );
}
