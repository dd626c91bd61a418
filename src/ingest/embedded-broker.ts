import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import { VigilError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { isLoopbackAddress } from './broker-auth.js';
import type { BrokerIntake } from './broker-intake.js';
import { PasswordChecker } from './password-checker.js';
import { PacketSizeGuard } from './mqtt-packet-guard.js';
import { PreLoginBounds, type PreLoginLimits } from './pre-login.js';
import { topicMatchesFilter } from './topics.js';

export interface BrokerUser {
  username: string;
  /** `scrypt$…` as `vigil mqtt-user create` prints it. */
  passwordHash: string;
  /** Topic filters the user may publish to; absent: any topic but Vigil's own output. */
  publish?: string[];
  /** Topic filters the user may subscribe to; absent: any. */
  subscribe?: string[];
}

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  users: BrokerUser[];
  /** Clients without a username, from loopback addresses only. */
  allowAnonymous: boolean;
  /** A packet announcing more than this drops its connection before its body is read. */
  maxPacketBytes: number;
  /**
   * Before a client has logged in: every packet (its CONNECT first) at most `maxConnectBytes`, and
   * connections not yet logged in capped overall, per address and in time.
   */
  preLogin: PreLoginLimits & { maxConnectBytes: number };
  /** Password checks (scrypt, each on a thread of its own) under way at once, and waiting; past that a login is refused as busy. */
  logins: { concurrency: number; maxQueued: number };
  /** Retained messages of clients other than Vigil: at most this many topics, each at most this big. */
  retained: { maxMessages: number; maxBytes: number };
  /** Vigil's own client id: only Vigil's own connection may use it (its persistent session). */
  selfClientId: string;
  /** Topic filters only Vigil publishes (alerts, gateway status): nobody else may. */
  reservedTopics: string[];
  /** Checks a password against its stored hash in place of the scrypt threads (tests). */
  verify?: (password: string, stored: string) => Promise<boolean>;
  /**
   * Vigil's intake will be attached (`takeIngest`), as in the daemon: publishes that come before it
   * wait for it unacknowledged, instead of being acknowledged with nothing to journal them.
   */
  intakeExpected?: boolean;
}

/** Publishes (and their bytes) held before the intake is attached; past either the publisher is dropped and sends them again later. */
const MAX_BEFORE_INTAKE = 10_000;
const MAX_BYTES_BEFORE_INTAKE = 64 * 1024 * 1024;

export type RefusalReason =
  | 'bad_credentials'
  | 'anonymous_not_allowed'
  | 'client_id_reserved'
  | 'reserved_topic'
  | 'topic_not_allowed'
  | 'empty_topic_level'
  | 'subscription_not_allowed'
  | 'packet_too_large'
  | 'connect_too_large'
  | 'too_many_unauthenticated'
  | 'login_timeout'
  | 'login_busy'
  | 'retain_dropped';

export interface EmbeddedBrokerStats {
  clients: number;
  /** Connections, publishes and subscriptions refused (and retain flags dropped), by reason. */
  refused: Partial<Record<RefusalReason, number>>;
  /** Publishes waiting for Vigil's intake while the daemon starts (acknowledged once it has them journalled). */
  heldBeforeIntake: number;
}

const SELF_USERNAME = '$vigil';

/**
 * The zero-setup broker (aedes) used when no external broker is configured. It keeps sessions in
 * memory: fine for a single gateway; plants run Mosquitto or EMQX in production. It does not trust
 * the local network: clients authenticate (users with scrypt-hashed passwords; anonymous ones only
 * when allowed, and only from loopback), only Vigil publishes Vigil's output topics, nobody but
 * Vigil can take Vigil's session, retained messages and packets are bounded, and topics with an
 * empty level are refused before aedes delivers them (aedes drops the subscriber on those). aedes
 * also delivers QoS 2 messages at QoS 2 to a QoS 1 wildcard subscription; they are downgraded here,
 * as MQTT requires. What a client can make it hold before it logs in is bounded (PreLoginBounds,
 * PacketSizeGuard, PasswordChecker). With an intake attached, publishes on the topics Vigil ingests are
 * taken in-process and acknowledged only once journalled (BrokerIntake).
 */
export class EmbeddedBroker {
  private broker: Aedes | null = null;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly socketOf = new WeakMap<object, Socket>();
  private readonly preLogin: PreLoginBounds;
  private readonly passwords: PasswordChecker;
  private intake: BrokerIntake | null = null;
  /** Topics retained by clients other than Vigil. */
  private readonly retainedTopics = new Set<string>();
  private readonly warned = new Set<string>();
  /** Credentials of Vigil's own connection: random per start, never configured or logged. */
  readonly selfCredentials = { username: SELF_USERNAME, password: randomBytes(24).toString('base64url') };
  readonly stats: EmbeddedBrokerStats = { clients: 0, refused: {}, heldBeforeIntake: 0 };
  port = 0;

  constructor(
    private readonly o: EmbeddedBrokerOptions,
    private readonly log: Logger,
  ) {
    this.preLogin = new PreLoginBounds(o.preLogin, (reason, address, detail) => this.refuse(reason, address, detail));
    this.passwords = new PasswordChecker(o.logins.concurrency, o.logins.maxQueued, o.verify);
  }

  /** Publishes on the intake's topics go to it, and are acknowledged once it has made them durable. */
  takeIngest(intake: BrokerIntake): void {
    this.intake = intake;
    this.stats.heldBeforeIntake = 0;
    this.bytesBeforeIntake = 0;
    for (const w of this.beforeIntake.splice(0)) this.publishing(w.client, w.packet, w.done);
  }

  /** Publishes that came while the daemon was still building the intake (a publisher reconnecting at once). */
  private readonly beforeIntake: Array<{ client: Client | null; packet: PublishPacket; done: (err?: Error | null) => void }> = [];
  private bytesBeforeIntake = 0;

  async start(): Promise<void> {
    const broker = await Aedes.createBroker({
      // aedes' own deadline for the CONNECT packet; ours (preLogin.timeout) also covers a slow login.
      connectTimeout: this.o.preLogin.timeout,
      authenticate: (client, username, password, done) =>
        void this.authenticate(client, username, password).then((err) => (err ? done(err, false) : done(null, true))),
      authorizePublish: (client, packet, done) => this.publishing(client, packet, done),
      authorizeSubscribe: (client, sub, done) => done(null, this.authorizeSubscribe(client, sub)),
      authorizeForward: (client, packet) => this.downgrade(client, packet),
    });
    broker.on('clientError', (client, err) => this.log.debug({ client: client.id, err }, 'embedded broker: client error'));
    const server = createServer((socket) => {
      if (!this.preLogin.admit(socket)) return;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      const address = socket.remoteAddress ?? '?';
      const guard = new PacketSizeGuard(
        socket,
        { beforeLogin: this.o.preLogin.maxConnectBytes, afterLogin: this.o.maxPacketBytes },
        (announced, limit, loggedIn) =>
          loggedIn
            ? this.refuse('packet_too_large', address, `a packet of ${announced} bytes (at most ${limit})`)
            : this.refuse('connect_too_large', address, `a packet of ${announced} bytes before logging in (at most ${limit})`),
      );
      this.socketOf.set(guard, socket);
      broker.handle(guard);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(
          new VigilError('VGL_BROKER', `embedded broker cannot listen on ${this.o.host}:${this.o.port}: ${err.message}`, { cause: err }),
        ),
      );
      server.listen(this.o.port, this.o.host, () => resolve());
    });
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : this.o.port;
    this.broker = broker;
    this.server = server;
    // Password logins are possible: their threads start now, not in the middle of the first burst.
    if (this.o.users.length > 0) this.passwords.warm();
    if (this.o.users.length === 0 && !this.o.allowAnonymous) {
      this.log.warn(
        'embedded broker: no users configured and anonymous clients not allowed, so only Vigil itself can connect; add mqtt.embedded.users (vigil mqtt-user create) or set mqtt.embedded.allowAnonymous (loopback clients only)',
      );
    }
    this.log.info(
      { host: this.o.host, port: this.port, users: this.o.users.length, anonymous: this.o.allowAnonymous ? 'loopback' : 'off' },
      'embedded MQTT broker listening',
    );
  }

  private async authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<AuthenticateError | null> {
    const address = (client.conn as unknown as { remoteAddress?: string }).remoteAddress;
    const refuse = (reason: RefusalReason, returnCode: number, detail: string) => {
      this.refuse(reason, client.id, detail);
      return Object.assign(new Error(detail), { returnCode }) as AuthenticateError;
    };
    const secret = password?.toString('utf8') ?? '';
    if (client.id === this.o.selfClientId || username === SELF_USERNAME) {
      const self = client.id === this.o.selfClientId && username === SELF_USERNAME && secret === this.selfCredentials.password;
      if (!self) return refuse('client_id_reserved', 2, `client id ${client.id} or user ${SELF_USERNAME} is Vigil's own`);
      this.loggedIn(client);
      return null;
    }
    if (username === undefined || username === '') {
      if (!this.o.allowAnonymous)
        return refuse('anonymous_not_allowed', 5, `anonymous client ${client.id} from ${address}: anonymous access is off`);
      if (!isLoopbackAddress(address))
        return refuse(
          'anonymous_not_allowed',
          5,
          `anonymous client ${client.id} from ${address}: anonymous access is for loopback clients only`,
        );
      this.loggedIn(client);
      return null;
    }
    const user = this.o.users.find((u) => u.username === username);
    // The hash is checked even for an unknown user, so a probe cannot tell users from non-users by time.
    const ok = await this.passwords.check(secret, user?.passwordHash ?? DUMMY_HASH);
    if (ok === null) return refuse('login_busy', 3, `client ${client.id} from ${address}: too many logins under way; try again shortly`);
    if (!user || !ok) return refuse('bad_credentials', 4, `client ${client.id} from ${address}: wrong user name or password`);
    (client as Client & { vigilUser?: BrokerUser }).vigilUser = user;
    this.loggedIn(client);
    return null;
  }

  /** The client is in: its packets may be as large as any, and it leaves the pre-login caps. */
  private loggedIn(client: Client): void {
    const guard = client.conn as unknown as PacketSizeGuard;
    const socket = this.socketOf.get(guard);
    if (!socket) return;
    guard.loggedIn();
    this.preLogin.loggedIn(socket);
  }

  /** aedes' authorizePublish: refused, taken by Vigil's intake (acknowledged once journalled), or passed on. */
  private publishing(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    const refused = this.authorizePublish(client, packet);
    if (refused) return done(refused);
    const intake = this.intake;
    if (!intake && this.o.intakeExpected && !this.isSelf(client)) {
      // Acknowledged now, a message on an ingest topic would be lost: it waits unacknowledged, or is refused.
      const bytes = packet.payload.length + packet.topic.length;
      if (this.beforeIntake.length >= MAX_BEFORE_INTAKE || this.bytesBeforeIntake + bytes > MAX_BYTES_BEFORE_INTAKE)
        return done(new Error('Vigil is starting; publish again shortly'));
      this.bytesBeforeIntake += bytes;
      this.beforeIntake.push({ client, packet, done });
      this.stats.heldBeforeIntake = this.beforeIntake.length;
      return;
    }
    if (!intake || this.isSelf(client) || !intake.takes(packet.topic)) return done(null);
    const payload = packet.payload;
    intake.accept(packet.topic, typeof payload === 'string' ? Buffer.from(payload) : payload, done);
  }

  private isSelf(client: Client | null): boolean {
    // Only an authenticated connection can carry the reserved id (see authenticate).
    return client !== null && client.id === this.o.selfClientId;
  }

  private authorizePublish(client: Client | null, packet: PublishPacket): Error | null {
    const topic = packet.topic;
    const who = client?.id ?? '(will)';
    if (topic.split('/').includes(''))
      return this.refusal('empty_topic_level', who, `topic ${JSON.stringify(topic.slice(0, 200))} has an empty level`);
    if (this.isSelf(client)) return null;
    if (topic.startsWith('$')) return this.refusal('reserved_topic', who, `topic ${topic.slice(0, 200)} is reserved`);
    if (this.o.reservedTopics.some((f) => topicMatchesFilter(f, topic)))
      return this.refusal('reserved_topic', who, `only Vigil publishes ${topic.slice(0, 200)}`);
    const user = (client as (Client & { vigilUser?: BrokerUser }) | null)?.vigilUser;
    if (user?.publish && !user.publish.some((f) => topicMatchesFilter(f, topic)))
      return this.refusal('topic_not_allowed', who, `user ${user.username} may not publish ${topic.slice(0, 200)}`);
    if (packet.retain) this.boundRetained(packet, who);
    return null;
  }

  /** A retained message of another client beyond the limits is delivered, but not retained. */
  private boundRetained(packet: PublishPacket, who: string): void {
    const topic = packet.topic;
    // An empty retained message deletes the topic's retained one.
    if (packet.payload.length === 0) {
      this.retainedTopics.delete(topic);
      return;
    }
    const tooBig = packet.payload.length > this.o.retained.maxBytes;
    const tooMany = !this.retainedTopics.has(topic) && this.retainedTopics.size >= this.o.retained.maxMessages;
    if (tooBig || tooMany) {
      packet.retain = false;
      this.refuse(
        'retain_dropped',
        who,
        tooBig
          ? `retained message of ${packet.payload.length} bytes on ${topic.slice(0, 200)} (at most ${this.o.retained.maxBytes})`
          : `retained topic ${topic.slice(0, 200)}: already ${this.o.retained.maxMessages} retained topics`,
      );
      return;
    }
    this.retainedTopics.add(topic);
  }

  private authorizeSubscribe(client: Client, sub: Subscription): Subscription | null {
    const user = (client as Client & { vigilUser?: BrokerUser }).vigilUser;
    if (!this.isSelf(client) && user?.subscribe && !user.subscribe.some((f) => filterWithin(sub.topic, f))) {
      this.refuse('subscription_not_allowed', client.id, `user ${user.username} may not subscribe to ${sub.topic.slice(0, 200)}`);
      return null;
    }
    return sub;
  }

  /** Delivers at most the QoS the client subscribed with (aedes looks the subscription up by the topic, so wildcards miss it). */
  private downgrade(client: Client, packet: AedesPublishPacket): AedesPublishPacket {
    if (packet.qos === 0) return packet;
    let granted = -1;
    const subscriptions = (client as Client & { subscriptions?: Record<string, { qos: number } | undefined> }).subscriptions ?? {};
    for (const [filter, s] of Object.entries(subscriptions)) {
      if (s && topicMatchesFilter(filter, packet.topic)) granted = Math.max(granted, s.qos);
    }
    if (granted < 0 || granted >= packet.qos) return packet;
    return { ...packet, qos: granted as 0 | 1 };
  }

  private refusal(reason: RefusalReason, who: string, detail: string): Error {
    this.refuse(reason, who, detail);
    return new Error(detail);
  }

  /** Counted always; logged once per client and reason, so a misbehaving client cannot flood the log. */
  private refuse(reason: RefusalReason, who: string, detail: string): void {
    this.stats.refused[reason] = (this.stats.refused[reason] ?? 0) + 1;
    const key = `${reason}\0${who}`;
    if (this.warned.has(key)) return;
    if (this.warned.size >= 1000) this.warned.clear();
    this.warned.add(key);
    this.log.warn({ reason, client: who }, `embedded broker refused: ${detail}`);
  }

  /** URL a local client uses to reach it (a wildcard bind is reached over loopback). */
  get url(): string {
    const host = this.o.host === '0.0.0.0' || this.o.host === '::' ? '127.0.0.1' : this.o.host;
    return `mqtt://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  get clients(): number {
    return this.broker?.connectedClients ?? 0;
  }

  /** Connections that have not logged in yet. */
  get unauthenticated(): number {
    return this.preLogin.count;
  }

  async stop(): Promise<void> {
    for (const w of this.beforeIntake.splice(0)) w.done(new Error('Vigil is stopping; the message stays with its publisher'));
    this.stats.heldBeforeIntake = 0;
    this.bytesBeforeIntake = 0;
    const { server, broker } = this;
    this.server = null;
    this.broker = null;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      this.preLogin.clear();
      for (const s of this.sockets) s.destroy();
      await closed;
    }
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    await this.passwords.close();
  }
}

/** A valid hash of a random password, so an unknown user costs one scrypt like a known one. */
const DUMMY_HASH = `scrypt$16384$8$1$${randomBytes(16).toString('base64url')}$${randomBytes(32).toString('base64url')}`;

/** Whether every topic `filter` can match is also matched by `allowed` (subscribing within a permission). */
function filterWithin(filter: string, allowed: string): boolean {
  const f = filter.split('/');
  const a = allowed.split('/');
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '#') return true;
    if (i >= f.length) return false;
    if (f[i] === '#') return false;
    if (a[i] === '+') continue;
    if (f[i] !== a[i]) return false;
  }
  return f.length === a.length;
}
