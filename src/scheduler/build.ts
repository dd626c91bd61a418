import type Database from 'better-sqlite3';
import type { SchedulerSections } from './config.js';
import type { Lifecycle } from '../core/lifecycle.js';
import type { SensorStore } from '../core/sensor-store.js';
import type { TrainingManager } from '../training/index.js';
import type { ModelRegistry } from '../registry/index.js';
import type { MqttLink } from '../ingest/index.js';
import { ANY_KIND } from '../core/kinds.js';
import type { VerdictBook } from '../core/verdict-book.js';
import type { KindsOfStore, Normalisation } from '../features/index.js';
import { EnergyAccountant } from './energy/accountant.js';
import { liveRegimeShare } from './training-need.js';
import { energyReport } from './report.js';
import { EnergyScheduler } from './scheduler.js';
import { FileCarbonSource, HttpCarbonSource, type CarbonSource } from './sources/carbon.js';
import { CpuLoad, PlantBusySignal, onBattery, queryGpus } from './sources/host.js';
import { WeeklySchedule, type Weekday } from './sources/weekly.js';

export interface BuiltScheduler {
  /** The energy policy: when training runs and federated rounds start. */
  policy: EnergyScheduler;
  /** Share of a kind's recent readings per regime of a model (null without regimes or data): what drift is judged by. */
  liveRegimeShare(norm: Normalisation, kind: string): Promise<number[] | null>;
  accountant: EnergyAccountant;
  plantBusy: PlantBusySignal | null;
  carbon: CarbonSource | null;
  tariff: WeeklySchedule;
}

/** The scheduler stage from the config: its sources, the energy accountant (hooked into runs) and the cron tick. */
export function buildScheduler(
  config: SchedulerSections,
  d: {
    db: Database.Database;
    store: SensorStore;
    training: TrainingManager;
    registry: ModelRegistry;
    link: Pick<MqttLink, 'route'>;
    kinds: KindsOfStore;
    /** Verdicts on anomaly alerts: new ones are a reason to retrain a kind's health model. */
    verdicts?: Pick<VerdictBook, 'counts'>;
  },
  life: Lifecycle,
): BuiltScheduler {
  const { clock, log } = life;
  const s = config.schedule;
  const carbon = s.carbon.file
    ? new FileCarbonSource(s.carbon.file)
    : s.carbon.url
      ? new HttpCarbonSource({ url: s.carbon.url, headers: s.carbon.headers, refreshMs: s.carbon.refresh, timeoutMs: 10_000 })
      : null;
  const tariff = new WeeklySchedule(
    s.tariff.periods.map((p) => ({ days: p.days as Weekday[], from: p.from, to: p.to, value: p.price })),
    s.tariff.defaultPrice,
    s.timezone,
  );
  const busyCalendar = s.plantBusy.calendar.length
    ? new WeeklySchedule(
        s.plantBusy.calendar.map((p) => ({ days: p.days as Weekday[], from: p.from, to: p.to, value: 1 })),
        0,
        s.timezone,
      )
    : null;
  const plantBusy = s.plantBusy.topic ? new PlantBusySignal(s.plantBusy.ttl) : null;
  const gpu = s.energy.gpu === 'auto' ? () => queryGpus() : null;
  let scheduler: EnergyScheduler | null = null;
  const accountant = new EnergyAccountant(d.db, clock, log.child({ component: 'energy' }), {
    wattsPerCore: s.energy.wattsPerCore,
    raplDir: s.energy.raplDir,
    gpu: s.energy.gpu,
    fallbackIntensity: s.carbon.fallbackIntensity,
    carbon: async () => (carbon ? carbon.series(clock.now()) : null),
    price: (from, to) => tariff.series(from, to),
    dueSince: (runId) => scheduler?.dueSinceOfRun(runId) ?? null,
    gpuQuery: gpu ?? undefined,
  });
  d.training.observe(accountant);
  scheduler = new EnergyScheduler(config, {
    db: d.db,
    store: d.store,
    training: d.training,
    registry: d.registry,
    accountant,
    clock,
    log: log.child({ component: 'scheduler' }),
    carbon,
    tariff: s.tariff.periods.length > 0 ? tariff : null,
    busyCalendar,
    plantBusy,
    cpu: new CpuLoad(),
    gpu,
    onBattery: () => onBattery(s.energy.powerSupplyDir),
    ...(d.verdicts ? { verdicts: d.verdicts } : {}),
  });
  const built = scheduler;
  life.whenRunning(() => built.start());
  life.release('scheduler', () => built.stop());
  life.report(energyReport(accountant, scheduler));
  // The plant's busy flag, as it changes, on Vigil's MQTT link.
  if (s.plantBusy.topic && plantBusy)
    d.link.route(s.plantBusy.topic, (_topic, payload) => {
      try {
        plantBusy.update(payload.toString('utf8'), clock.now());
      } catch (err) {
        log.warn({ err, topic: s.plantBusy.topic }, 'plant busy signal not understood');
      }
    });
  // A kind's model is judged on its own machines' data; a model from before kinds on everyone's.
  const liveRegimeShareOf = async (norm: Normalisation, kind: string) => {
    const group = kind === ANY_KIND ? null : (await d.kinds.get()).find((g) => g.kind === kind);
    return liveRegimeShare(d.store, norm, s.need.driftWindow, group ? new Set(group.machines) : undefined);
  };
  return { policy: scheduler, liveRegimeShare: liveRegimeShareOf, accountant, plantBusy, carbon, tariff };
}
