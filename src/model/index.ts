/**
 * Models as later stages see them: the TensorFlow.js backend, the LSTM, the health model and its score,
 * our SIMD kernels, ensembles,
 * transfer, metrics and the model-file handler.
 */
export { type BackendPreference, type LoadedTf, loadTf, quietTfWarnings, type TF } from './backend.js';
export { combineMembers, extractMember } from './ensemble.js';
export { chooseKernels, loadFastLstm, probeNativeKernels, type LstmKernelChoice, type LstmKernelPreference } from './fast-lstm/load.js';
export { FastPredictor } from './fast-lstm/predictor.js';
export { fileHandler } from './file-io.js';
export { buildLstm, compile, type LstmSpec, predict } from './lstm.js';
export {
  averagePrecision,
  bestF1Threshold,
  thresholdForShare,
  bootstrapOverMachines,
  classification,
  type ClassificationMetrics,
  leadTimes,
  type MetricIntervals,
  type RulBand,
  rulByBand,
  type RulMetrics,
  rulMetrics,
} from './metrics.js';
export { transferMember } from './transfer.js';
export { buildHealthLstm, compileHealth, type HealthLstmSpec, reconstruct, reconstructionTargets } from './health-lstm.js';
export {
  anomalyScores,
  FEATURES_PER_SENSOR,
  featureMoments,
  type FeatureMoments,
  healthIndex,
  invertSpd,
  residualFeatures,
  scoreAtIndex,
  sensorDeviations,
  smoothScore,
} from './health-score.js';
