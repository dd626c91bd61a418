import type Database from 'better-sqlite3';
import type { MachinesConfig } from '../config/schema.js';
import type { IngestConfig } from '../ingest/index.js';
import { recipeGrid, type HealthConfig, type KindRecipes, type LearningConfig } from '../training/index.js';
import type { ScoringConfig } from './config.js';
import type { Lifecycle } from '../core/lifecycle.js';
import type { SensorStore } from '../core/sensor-store.js';
import type { FleetMembership } from '../core/types.js';
import { kindOf, roleOf, type AnyModelMeta, type HealthModelMeta, type ModelMeta, type ModelRegistry } from '../registry/index.js';
import type { ModelRole } from '../core/model-roles.js';
import { InferenceClient } from './inference-client.js';
import { scoringReports } from './report.js';
import { ScoreHistory } from './score-history.js';
import { HealthHistory } from './health-history.js';
import { ScoringService } from './service.js';
import type { ChampionView, HealthChampionView } from './types.js';
import { ANY_KIND, KindResolver } from '../core/kinds.js';

/** What scoring reads of the config: its own section, the models' grid and backend, the machines' kinds and sensor cap. */
export interface ScoringSections {
  scoring: ScoringConfig;
  learning: LearningConfig;
  health: HealthConfig;
  kinds: KindRecipes;
  machines: MachinesConfig;
  ingest: Pick<IngestConfig, 'maxSensorsPerMachine'>;
}

export interface ScoringStage {
  service: ScoringService;
  /** Loads the registry's champion when it changed (a promotion here, by the CLI, or a rollback). */
  refreshChampion(): void;
}

/**
 * Online scoring: per-machine windows seeded from the store's recent readings, batched inference with
 * the champion in a worker, a scoring round each `scoring.interval`.
 */
export async function buildScoring(
  config: ScoringSections,
  d: {
    db: Database.Database;
    store: SensorStore;
    registry: ModelRegistry;
    fleet: FleetMembership;
    /** How far a kind without a health model is from its first one ("learning normal: 9 h of 24 h"), when known. */
    learningNormal?: (kind: string) => string | null;
  },
  life: Lifecycle,
): Promise<ScoringStage> {
  const { clock, log } = life;
  const l = config.learning;
  const s = config.scoring;
  // Scoring never stops for want of the native kernels: `native` is a requirement of training only.
  const inference = new InferenceClient(l.backend, undefined, {
    kernel: l.kernel === 'native' ? 'auto' : l.kernel,
    threads: l.kernelThreads,
  });
  life.release('inference', () => inference.close());
  const history = new ScoreHistory(d.db, s.historyRetention);
  const healthHistory = new HealthHistory(d.db, s.historyRetention);
  life.every('score-history-prune', 3_600_000, () => {
    history.prune(clock.now());
    healthHistory.prune(clock.now());
  });
  // The config does not change while the daemon runs: each kind's recipe grid once.
  const globalGrid = { stepMs: l.step, windowSteps: Math.max(l.window, config.health.window ?? l.window) };
  const recipeGrids = new Map(Object.keys(config.kinds).map((kind) => [kind, recipeGrid(config, kind)]));
  const scoring = new ScoringService(
    inference,
    { scores: history, health: healthHistory },
    clock,
    log.child({ component: 'scoring' }),
    {
      intervalMs: s.interval,
      maxBatch: s.maxBatch,
      topSensors: s.topSensors,
      stepMs: l.step,
      windowSteps: l.window,
      gridFor: (kind) => recipeGrids.get(kind) ?? globalGrid,
      maxGapSteps: l.maxGapSteps,
      maxSensorsPerMachine: config.ingest.maxSensorsPerMachine,
    },
    l.modelsDir,
    d.fleet,
    new KindResolver(config.machines),
  );
  life.release('scoring', () => scoring.stop());
  // A version's meta.json never changes once written: read each once, not every poll.
  const metas = new Map<string, AnyModelMeta>();
  const metaOf = (version: string): AnyModelMeta => {
    let m = metas.get(version);
    if (!m) {
      if (metas.size >= 1000) metas.clear();
      metas.set(version, (m = d.registry.meta(version)));
    }
    return m;
  };
  // Without a champion, the newest version of the kind says why (e.g. too few failures to validate).
  const whyNoModel = (kind: string, role: ModelRole): string => {
    const what = role === 'health' ? 'health model' : 'model';
    if (role === 'health') {
      if (!config.health.enabled) return 'health models are off (health.enabled)';
      const short = kind === ANY_KIND ? null : (d.learningNormal?.(kind) ?? null);
      if (short) return short;
    }
    let last: AnyModelMeta | undefined;
    for (const v of kind === ANY_KIND ? [] : d.registry.versions().reverse()) {
      try {
        const m = metaOf(v);
        if (kindOf(m) === kind && roleOf(m) === role) {
          last = m;
          break;
        }
      } catch {
        // A damaged version is not why a kind has no model; the registry reports it where it is read.
      }
    }
    if (!last) return kind === ANY_KIND ? `no ${what} trained yet` : `no ${what} of ${kind} trained yet`;
    return `no ${what} of ${kind} promoted yet: ${last.version} was not (${last.decision.reason})`;
  };
  const refreshChampion = (): void => {
    try {
      const champions = new Map<string, ChampionView>();
      for (const [kind, version] of Object.entries(d.registry.champions()))
        champions.set(kind, { version, meta: metaOf(version) as ModelMeta });
      const health = new Map<string, HealthChampionView>();
      if (config.health.enabled)
        for (const [kind, version] of Object.entries(d.registry.champions('health')))
          health.set(kind, { version, meta: metaOf(version) as HealthModelMeta });
      const before = { ...scoring.championVersions(), ...prefixed(scoring.healthChampionVersions()) };
      scoring.setChampions(champions, (kind) => whyNoModel(kind, 'failure'));
      scoring.setHealthChampions(health, (kind) => whyNoModel(kind, 'health'));
      for (const [kind, c] of champions) if (before[kind] !== c.version) log.info({ version: c.version, kind }, 'champion changed');
      for (const [kind, c] of health)
        if (before[`health:${kind}`] !== c.version) log.info({ version: c.version, kind, role: 'health' }, 'champion changed');
    } catch (err) {
      log.error({ err }, 'cannot read the champions; scoring keeps the current ones');
    }
  };
  refreshChampion();
  // A promotion or rollback in this process (a training run, a federated model, the API) switches at once.
  d.registry.onChampionsChanged(refreshChampion);
  try {
    await scoring.seed(d.store);
  } catch (err) {
    log.warn({ err }, 'could not read recent readings to seed scoring; windows fill from live data');
  }
  life.report(...scoringReports(scoring, s.enabled));
  if (s.enabled) {
    scoring.start();
    // Promotions by the CLI or another process show up here without a restart.
    life.every('champion-poll', s.championPoll, refreshChampion);
  }
  return { service: scoring, refreshChampion };
}

const prefixed = (byKind: Record<string, string>) => Object.fromEntries(Object.entries(byKind).map(([k, v]) => [`health:${k}`, v]));
