import { Type } from '@sinclair/typebox';
import { ALERT_KINDS, ALERT_STATES, type Alert } from '../../../alerts/index.js';
import { TimeQuery, iso } from '../../schemas.js';
import { VERDICTS } from '../../../core/verdict-book.js';

/** The alerts resource's wire form: an alert as JSON, the query strings and bodies, as JSON schemas the OpenAPI document shows. */
export function alertJson(a: Alert) {
  return {
    ...a,
    openedAt: iso(a.openedAt)!,
    updatedAt: iso(a.updatedAt)!,
    acknowledged: a.acknowledged && { ...a.acknowledged, at: iso(a.acknowledged.at)! },
    resolved: a.resolved && { ...a.resolved, at: iso(a.resolved.at)! },
    escalations: a.escalations.map((e) => ({ ...e, at: iso(e.at)! })),
    verdict: a.verdict && { ...a.verdict, at: iso(a.verdict.at)! },
  };
}

export const ListQuery = Type.Object(
  {
    state: Type.Optional(Type.Union([...ALERT_STATES, 'unresolved' as const].map((s) => Type.Literal(s)))),
    machine: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    kind: Type.Optional(Type.Union(ALERT_KINDS.map((k) => Type.Literal(k)))),
    severity: Type.Optional(Type.Union([Type.Literal('warning'), Type.Literal('critical')])),
    before: Type.Optional(Type.Integer({ minimum: 1, description: 'page: alerts with a smaller id (use nextBefore)' })),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  },
  { additionalProperties: false },
);
export const QualityQuery = Type.Object(
  {
    from: Type.Optional(
      Type.String({ ...TimeQuery, description: `${TimeQuery.description}; default: the last reset, or the first record` }),
    ),
    to: Type.Optional(TimeQuery),
  },
  { additionalProperties: false },
);
export const NoteBody = Type.Object(
  {
    note: Type.Optional(Type.String({ maxLength: 2000 })),
    verdict: Type.Optional(
      Type.Union(
        VERDICTS.map((v) => Type.Literal(v)),
        {
          description:
            "for an anomaly alert: normal (this behaviour is fine: the next health model learns it), abnormal (a real problem, no failure: left out of its training), or failure (records a failure event at the alert's latest data)",
        },
      ),
    ),
  },
  { additionalProperties: false },
);
export const StreamQuery = Type.Object(
  { after: Type.Optional(Type.Integer({ minimum: 0, description: 'replay events after this id (like Last-Event-ID)' })) },
  { additionalProperties: false },
);
export const DeliveryQuery = Type.Object(
  {
    state: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('dead')])),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  },
  { additionalProperties: false },
);
