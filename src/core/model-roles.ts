/**
 * What a model of a machine kind is for. `failure`: supervised on labelled failures, p(failure within
 * the horizon) and RUL. `health`: learned from readings alone, how far a machine departs from its
 * kind's normal behaviour. Each kind has a champion of each role.
 */
export const MODEL_ROLES = ['failure', 'health'] as const;
export type ModelRole = (typeof MODEL_ROLES)[number];
