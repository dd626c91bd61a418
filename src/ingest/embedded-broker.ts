import { createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { VigilError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/**
 * The zero-setup broker (aedes) used when no external broker is configured. It keeps sessions in
 * memory: fine for a single gateway's demo and tests; plants run Mosquitto or EMQX in production.
 */
export class EmbeddedBroker {
  private broker: Aedes | null = null;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly host: string,
    private readonly requestedPort: number,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const broker = await Aedes.createBroker();
    broker.on('clientError', (client, err) => this.log.debug({ client: client.id, err: err.message }, 'embedded broker: client error'));
    const server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      broker.handle(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new VigilError('VGL_BROKER', `embedded broker cannot listen on ${this.host}:${this.requestedPort}: ${err.message}`, { cause: err })));
      server.listen(this.requestedPort, this.host, () => resolve());
    });
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : this.requestedPort;
    this.broker = broker;
    this.server = server;
    this.log.info({ host: this.host, port: this.port }, 'embedded MQTT broker listening');
  }

  /** URL a local client uses to reach it (a wildcard bind is reached over loopback). */
  get url(): string {
    const host = this.host === '0.0.0.0' || this.host === '::' ? '127.0.0.1' : this.host;
    return `mqtt://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  get clients(): number {
    return this.broker?.connectedClients ?? 0;
  }

  async stop(): Promise<void> {
    const { server, broker } = this;
    this.server = null;
    this.broker = null;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of this.sockets) s.destroy();
      await closed;
    }
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
  }
}
