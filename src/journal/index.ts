/**
 * The journal as the composition root and the API see it: its builder, config and report fields.
 */
export { buildJournal, type JournalStage } from './build.js';
export {
  checkJournal,
  type JournalConfig,
  JournalSchema,
  resolveJournal,
  resolveWriter,
  type WriterConfig,
  WriterSchema,
} from './config.js';
export { journalFields, storeFields } from './report.js';
