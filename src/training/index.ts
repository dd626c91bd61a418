/**
 * What other stages (federation, scheduler, the API, the command line) may use of training: the run
 * assembly and its steps' shared parts, the worker's inputs, the manager of the daemon's runs.
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
export { loadDataset, type Dataset } from './dataset.js';
export { chooseKind, decide, decideTransfer } from './decide.js';
export { fitModel, type EpochProgress, type FitOptions, type FitResult } from './fit.js';
export { TrainingBusyError, TrainingManager } from './manager.js';
export { championOnSame, dataReport, validationMetrics } from './model-report.js';
export { prepareData, trainAndValidate, validate, type PreparedData, type TrainOutcome, type Validation } from './pipeline.js';
export { trainingReport, trainingFields } from './report.js';
export { TrainingRun } from './runner.js';
export { runTraining, type TrainingRequest } from './run.js';
export { NotEnoughDataError, type TrainingProgress, type TrainingResult } from './types.js';
export { trainingConfig, type TrainingConfig } from './worker-input.js';
