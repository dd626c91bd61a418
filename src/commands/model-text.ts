/** How the command line writes a model version of either role: one summary line, and `models show`. */
import { isHealthMeta, recipeText, type AnyModelMeta, type HealthModelMeta, type ModelMeta } from '../registry/index.js';

export const pct = (x: number) => x.toFixed(3);

/** "24 epochs (best 16)", or per member of an ensemble: a sum of members' epochs reads like one long run. */
function epochsText(m: ModelMeta): string {
  const members = m.training.members;
  if (!members || members.length <= 1) return `${m.training.epochs} epochs (best ${m.training.bestEpoch})`;
  return `${members.length} members, epochs ${members.map((x) => `${x.epochs}`).join('/')} (best ${members.map((x) => `${x.bestEpoch}`).join('/')})`;
}

/** `models show` of a failure model: the summary, the decision, RUL error near failure, and the bias report with its warnings. */
function describeFailureModel(m: ModelMeta): string {
  const lines = [summary(m), `  decision: ${m.decision.promoted ? 'promoted' : 'not promoted'}: ${m.decision.reason}`];
  lines.push(`  recipe: ${recipeText(m)}`);
  const l = m.metrics.leadTime;
  lines.push(`  validation failures: ${l.detected} detected, ${l.missed} missed`);
  const bands = m.metrics.rulBands?.filter((b) => b.n > 0);
  if (bands?.length)
    lines.push(
      `  RUL error by true RUL (steps): ${bands.map((b) => `${b.to === null ? `≥${b.from}` : `${b.from}–${b.to}`} bias ${b.bias >= 0 ? '+' : ''}${b.bias.toFixed(1)}, RMSE ${b.rmse.toFixed(1)}`).join('; ')}`,
    );
  const r = m.report;
  if (r) {
    const iv = r.intervals;
    if (iv)
      lines.push(
        `  ${Math.round(iv.level * 100)} % intervals (bootstrap over validation machines): F1 ${pct(iv.f1[0])}–${pct(iv.f1[1])}, PR-AUC ${pct(iv.prAuc[0])}–${pct(iv.prAuc[1])}, RUL RMSE ${iv.rmse[0].toFixed(2)}–${iv.rmse[1].toFixed(2)}`,
      );
    const list = (xs: ReadonlyArray<{ machine: string; failures: number }>) =>
      xs.length === 0 ? 'none' : xs.map((x) => `${x.machine} ${x.failures}`).join(', ');
    lines.push(`  failures learned from (${r.failures.trainMachines} training machines): ${list(r.failures.train)}`);
    lines.push(
      `  failures held out (${r.failures.validationMachines} validation machines: ${r.heldOut.join(', ')}): ${list(r.failures.validation)}`,
    );
    lines.push(
      `  windows before a failure: ${(100 * r.positiveShare.train).toFixed(1)} % in training, ${(100 * r.positiveShare.validation).toFixed(1)} % in validation`,
    );
    if (r.regimes)
      lines.push(
        `  regimes (${r.regimes.conditions.join(', ')}): ${r.regimes.trainShare.map((s, i) => `${i + 1}: ${(100 * s).toFixed(1)} %`).join(', ')} of training`,
      );
    lines.push(`  data: ${new Date(r.span.from).toISOString()} to ${new Date(r.span.to).toISOString()}`);
    for (const w of r.warnings) lines.push(`  warning: ${w}`);
  }
  return `${lines.join('\n')}\n`;
}

function failureSummary(m: ModelMeta): string {
  const c = m.metrics.validation.classification;
  return `${m.version}${m.kind ? ` (${m.kind})` : ''}: PR-AUC ${pct(c.prAuc)}, F1 ${pct(c.f1)} at threshold ${pct(m.threshold)}, RUL RMSE ${m.metrics.validation.rul.rmse.toFixed(2)} steps, ${epochsText(m)} on ${m.training.backend} in ${(m.training.durationMs / 1000).toFixed(0)} s`;
}

/** One line per version: its figures, its training. */
export function summary(m: AnyModelMeta): string {
  return isHealthMeta(m) ? healthSummary(m) : failureSummary(m);
}

/** `models show`: a version's summary, its decision and what it learned from, for either role. */
export function describeModel(m: AnyModelMeta): string {
  return isHealthMeta(m) ? describeHealthModel(m) : describeFailureModel(m);
}

function healthSummary(m: HealthModelMeta): string {
  const c = m.calibration;
  return `${m.version} (${m.kind}, health): alerts below index ${c.threshold} (${c.chosenBy === 'budget' ? 'from the false-alarm budget' : 'from labelled failures'}), about ${c.estimate.falseAlarmsPerMachineMonth.toFixed(2)} false alarms per machine-month expected; ${m.training.epochs} epochs (best ${m.training.bestEpoch}) on ${m.training.backend} in ${(m.training.durationMs / 1000).toFixed(0)} s`;
}

function describeHealthModel(m: HealthModelMeta): string {
  const f = m.metrics;
  const lines = [healthSummary(m), `  decision: ${m.decision.promoted ? 'promoted' : 'not promoted'}: ${m.decision.reason}`];
  lines.push(`  recipe: ${recipeText(m)}`);
  lines.push(
    `  held-out normal data: ${f.normal.windows} windows of ${f.normal.machines} machines, ${f.normal.machineHours} machine-hours, ${f.normal.falseAlarms} false alarms at the threshold`,
  );
  lines.push(`  reconstruction RMSE ${f.reconstructionRmse} (normalised units); smoothing ${m.calibration.smoothingSteps} steps`);
  if (f.labelled.positives > 0)
    lines.push(`  labelled pre-failure and abnormal windows: ${f.labelled.positives}, ROC-AUC ${f.labelled.auc?.toFixed(3) ?? '–'}`);
  for (const a of f.announced)
    lines.push(
      `  ${a.kind} of ${a.machine} at ${new Date(a.ts).toISOString()}: ${a.warned ? `warned ${((a.leadMs ?? 0) / 3_600_000).toFixed(1)} h before` : 'not warned'}`,
    );
  lines.push(
    `  verdicts learned from: ${m.verdicts.normal} normal (${m.verdicts.normalHours} h), ${m.verdicts.abnormal} abnormal (${m.verdicts.abnormalHours} h)`,
  );
  lines.push(`  data: ${new Date(m.dataRange.from).toISOString()} to ${new Date(m.dataRange.to).toISOString()}`);
  return `${lines.join('\n')}\n`;
}
