/**
 * The model registry as later stages see it: the registry itself, model metadata and its report.
 */
export type { BiasReport } from './bias-report-schema.js';
export { kindOf, type ModelMeta, ModelRegistry, NormalisationSchema, RegistryError } from './registry.js';
export { modelFields, modelReport } from './report.js';
