/**
 * Training as other stages see it: the run assembly and its steps' shared parts (federation rounds and
 * each model role fit and decide their own way), the manager of the daemon's runs, its builder and
 * config, and what the command line uses to train from files.
 */
export {
  assembleRun,
  loadRunBackend,
  readKindData,
  registerModel,
  type Fitted,
  type RunBackend,
  type RunContext,
  type RunSteps,
} from './assembly.js';
export { liveRegimeWarnings } from './bias-report.js';
export { buildTraining } from './build.js';
export {
  checkLearning,
  type HealthConfig,
  HealthSchema,
  type KindRecipe,
  type KindRecipes,
  KindsSchema,
  LearningSchema,
  resolveLearning,
  type LearningConfig,
} from './config.js';
export {
  checkKinds,
  healthFor,
  horizonMs,
  learningFor,
  longestWindowMs,
  recipeGrid,
  recipeOverrides,
  recipeView,
  type RecipeSections,
  type RecipeView,
} from './recipes.js';
export { type VerdictPeriod } from './health-data.js';
export { chooseHealthKind, learningNormal, MIN_HEALTH_WINDOWS, runHealthTraining, type HealthRequest } from './health-run.js';
export { loadDataset, type Dataset } from './dataset.js';
export { chooseKind, decide, decideTransfer } from './decide.js';
export { fitModel, type EpochProgress, type FitOptions, type FitResult } from './fit.js';
export { TrainingBusyError, TrainingManager, type RunSummary, type TrainingRunRecord } from './manager.js';
export { championOnSame, dataReport, validationMetrics } from './model-report.js';
export { prepareData, trainAndValidate, validate, type PreparedData, type TrainOutcome, type Validation } from './pipeline.js';
export { trainingFields, trainingReport } from './report.js';
export { runTraining, type TrainingRequest } from './run.js';
export { TrainingRun } from './runner.js';
export { trainingSchema } from './schema.js';
export { NotEnoughDataError, type TrainingProgress, type TrainingResult } from './types.js';
export { trainingConfig, type TrainingConfig } from './worker-input.js';
