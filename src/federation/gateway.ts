/**
 * This gateway's side of its federation, as the daemon (or `vigil federate`) runs it: one connection
 * to the plant's broker, made in the background and retried (a broker that is down at start never
 * stops the daemon), the participant of its kinds' federations, and the coordinators of the kinds it
 * coordinates, each started again `every` after it ends.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { FederationCoordinator, type CoordinatorOptions } from './coordinator.js';
import { FederationCounters } from './counters.js';
import { FederationParticipant, type Learner, type ParticipantOptions } from './participant.js';
import type { FederationTransport } from './transport.js';

export interface FederationGatewayOptions {
  federation: string;
  client: string;
  /** Where the broker is, without credentials (for status). */
  brokerUrl: string;
  connect: () => Promise<FederationTransport>;
  /** Null: this gateway does not train rounds (a coordinator only). */
  participant: (Omit<ParticipantOptions, 'federation' | 'client'> & { learner: Learner }) | null;
  coordinators: ReadonlyArray<Omit<CoordinatorOptions, 'federation'>>;
  /** Start a new federation of a kind this long after one ends (0: once). */
  everyMs: number;
  retryMs?: number;
}

interface Coordinated {
  current: FederationCoordinator | null;
  sessions: number;
  timer: TimerHandle;
}

export class FederationGateway {
  participant: FederationParticipant | null = null;
  readonly coordinated = new Map<string, Coordinated>();
  lastError: string | null = null;
  /** Tallies of the federations this gateway coordinated before the current ones. */
  private readonly retired = new FederationCounters();
  private transport: FederationTransport | null = null;
  private retry: TimerHandle = undefined;
  private stopped = false;

  constructor(
    readonly o: FederationGatewayOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  get connected(): boolean {
    return this.transport?.connected ?? false;
  }

  /** Connects in the background; resolves at once. */
  start(): void {
    void this.attempt();
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    try {
      const t = await this.o.connect();
      if (this.stopped) {
        await t.close();
        return;
      }
      this.transport = t;
      this.lastError = null;
      this.log.info({ broker: this.o.brokerUrl, client: this.o.client }, 'federation connected');
      if (this.o.participant) {
        const { learner, ...options } = this.o.participant;
        this.participant = new FederationParticipant(
          { ...options, federation: this.o.federation, client: this.o.client },
          learner,
          t,
          this.clock,
          this.log,
        );
        await this.participant.start();
      }
      for (const c of this.o.coordinators) await this.coordinate(c);
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
      const ms = this.o.retryMs ?? 30_000;
      this.log.warn({ err, retryInMs: ms }, 'federation broker unreachable; retrying');
      if (!this.transport) this.retry = this.clock.setTimeout(() => void this.attempt(), ms);
    }
  }

  private async coordinate(c: Omit<CoordinatorOptions, 'federation'>): Promise<void> {
    if (this.stopped || !this.transport) return;
    const entry = this.coordinated.get(c.kind) ?? { current: null, sessions: 0, timer: undefined };
    this.coordinated.set(c.kind, entry);
    if (entry.current) this.retired.add(entry.current.counters);
    const coordinator = new FederationCoordinator({ ...c, federation: this.o.federation }, this.transport, this.clock, this.log);
    entry.current = coordinator;
    entry.sessions++;
    await coordinator.start();
    void coordinator.done.then((phase) => {
      this.log.info({ kind: c.kind, phase, session: coordinator.session }, 'federation ended');
      if (phase === 'stopped' || this.stopped || this.o.everyMs <= 0) return;
      entry.timer = this.clock.setTimeout(() => {
        this.coordinate(c).catch((err: unknown) => {
          this.lastError = err instanceof Error ? err.message : String(err);
          this.log.error({ err, kind: c.kind }, 'federation could not start again');
        });
      }, this.o.everyMs);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clock.clearTimeout(this.retry);
    for (const c of this.coordinated.values()) {
      this.clock.clearTimeout(c.timer);
      await c.current?.stop();
    }
    await this.participant?.stop();
    await this.transport?.close();
  }

  /** Everything this gateway exchanged in its federations so far. */
  counters(): ReturnType<FederationCounters['snapshot']> {
    const current = [...this.coordinated.values()].flatMap((c) => (c.current ? [c.current.counters] : []));
    return FederationCounters.sum([this.retired, ...current, ...(this.participant ? [this.participant.counters] : [])]);
  }
}
