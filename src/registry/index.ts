/**
 * The model registry as later stages see it: the registry itself, model metadata of both roles and
 * its report.
 */
export type { BiasReport } from './bias-report-schema.js';
export {
  type AnyModelMeta,
  type HealthCalibration,
  HealthCalibrationSchema,
  type HealthModelMeta,
  isHealthMeta,
  poolingOf,
  type ModelMeta,
  NormalisationSchema,
  roleOf,
} from './meta.js';
export { kindOf, ModelRegistry, RegistryError } from './registry.js';
export { modelFields, modelReport } from './report.js';
export { recipeText, stepText } from './recipe.js';
