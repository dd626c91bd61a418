import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { VigilError } from '../../core/errors.js';
import { TrainingBusyError, type TrainingManager, type TrainingRunRecord } from '../../training/index.js';
import { IdParams, Nullable, READ_ERRORS, WRITE_ERRORS, errors, iso } from '../schemas.js';
import type { ModelRole } from '../../core/model-roles.js';

const Run = Type.Object({
  id: Type.Integer(),
  trigger: Type.String(),
  requestedBy: Nullable(Type.String()),
  kind: Nullable(Type.String()),
  role: Type.Union([Type.Literal('failure'), Type.Literal('health')]),
  state: Type.String(),
  startedAt: Type.String(),
  finishedAt: Nullable(Type.String()),
  version: Nullable(Type.String()),
  promoted: Nullable(Type.Boolean()),
  reason: Nullable(Type.String()),
  error: Nullable(Type.String()),
  progress: Nullable(Type.Unknown()),
  bypassedEnergyPolicy: Type.Boolean(),
});
const TriggerBody = Type.Object(
  {
    kind: Type.Optional(
      Type.String({ minLength: 1, maxLength: 40, description: 'the machine kind to train; absent: the kind most in need' }),
    ),
    role: Type.Optional(
      Type.Union([Type.Literal('failure'), Type.Literal('health')], {
        description: 'the failure predictor (default) or the health model, learned from readings alone',
      }),
    ),
    warmStart: Type.Optional(Type.Boolean({ description: 'fine-tune from the champion (default from config)' })),
    epochs: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    bypassEnergyPolicy: Type.Optional(Type.Boolean({ description: 'start now even outside a cheap/clean power window' })),
  },
  { additionalProperties: false },
);
const ListQuery = Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 200, default: 20 }) }, { additionalProperties: false });

export interface TrainingRouteDeps {
  training: Pick<TrainingManager, 'list' | 'get' | 'trigger' | 'cancel'>;
  /** Asks the energy policy for a run (it starts now, or at the best time before the deadline). */
  request(by: string, kind?: string, role?: ModelRole): Promise<{ action: string; reason: string; runId: number | null } | null>;
  /** The machine kinds in the store, to refuse a run of a kind there is no machine of. */
  kinds?(): Promise<string[]>;
  writesPerMinute: number;
}

const Queued = Type.Object({
  queued: Type.Literal(true),
  decision: Type.Union([Type.Object({ action: Type.String(), reason: Type.String() }), Type.Null()]),
});

export function runJson(r: TrainingRunRecord) {
  return { ...r, startedAt: iso(r.startedAt)!, finishedAt: iso(r.finishedAt) };
}

/** Training runs: history with progress, a manual trigger (operator), cancel. */
export function trainingRoutes(app: FastifyInstance, d: TrainingRouteDeps): void {
  const write = { role: 'operator' as const, rateLimit: { max: d.writesPerMinute, timeWindow: 60_000 } };
  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/training/runs',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['training'],
        querystring: ListQuery,
        response: { 200: Type.Object({ items: Type.Array(Run) }), ...errors(...READ_ERRORS) },
      },
    },
    async (req) => ({ items: d.training.list(req.query.limit).map(runJson) }),
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/training/runs/:id',
    {
      config: { role: 'viewer' },
      schema: { tags: ['training'], params: IdParams, response: { 200: Run, ...errors(...READ_ERRORS, 404) } },
    },
    async (req) => {
      const r = d.training.get(req.params.id);
      if (!r) throw new VigilError('VGL_NOT_FOUND', `training run ${req.params.id} does not exist`);
      return runJson(r);
    },
  );

  app.post<{ Body: Static<typeof TriggerBody> }>(
    '/training/runs',
    {
      config: write,
      schema: {
        tags: ['training'],
        body: TriggerBody,
        description:
          'With bypassEnergyPolicy the run starts now; otherwise the energy policy starts it now or queues it for its best window (answer: queued).',
        response: { 202: Type.Union([Run, Queued]), ...errors(...WRITE_ERRORS) },
      },
    },
    async (req, reply) => {
      const kind = req.body?.kind;
      if (kind !== undefined && d.kinds) {
        const kinds = await d.kinds();
        if (!kinds.includes(kind))
          throw new VigilError('VGL_NOT_FOUND', `no machine of kind ${kind} in the store (kinds: ${kinds.join(', ') || 'none yet'})`);
      }
      if (!req.body?.bypassEnergyPolicy) {
        const decision = await d.request(req.principal.name, req.body?.kind, req.body?.role);
        const started = decision?.runId ? d.training.get(decision.runId) : null;
        if (started) return reply.status(202).send(runJson(started));
        return reply
          .status(202)
          .send({ queued: true as const, decision: decision && { action: decision.action, reason: decision.reason } });
      }
      try {
        const run = d.training.trigger({
          trigger: 'api',
          requestedBy: req.principal.name,
          kind: req.body?.kind,
          role: req.body?.role,
          warmStart: req.body?.warmStart,
          epochs: req.body?.epochs,
          bypassEnergyPolicy: req.body?.bypassEnergyPolicy,
        });
        return reply.status(202).send(runJson(run));
      } catch (err) {
        if (err instanceof TrainingBusyError) throw new VigilError('VGL_TRAINING_BUSY', err.message);
        throw err;
      }
    },
  );

  app.post<{ Params: Static<typeof IdParams> }>(
    '/training/runs/:id/cancel',
    { config: write, schema: { tags: ['training'], params: IdParams, response: { 202: Run, ...errors(...WRITE_ERRORS) } } },
    async (req, reply) => {
      const r = d.training.get(req.params.id);
      if (!r) throw new VigilError('VGL_NOT_FOUND', `training run ${req.params.id} does not exist`);
      if (!d.training.cancel(req.params.id))
        throw new VigilError('VGL_CONFLICT', `training run ${req.params.id} is ${r.state}, not running`);
      return reply.status(202).send(runJson(r));
    },
  );
}
