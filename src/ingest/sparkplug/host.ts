import type { Rejection } from '../../core/reasons.js';
import type { IngestBatch, MachineRef } from '../../core/types.js';
import type { SensorMetadata } from '../../core/sensor-metadata.js';
import type { PresenceFeed } from '../../core/presence.js';
import type { ValidationContext } from '../validate.js';
import {
  decodePayload,
  encodePayload,
  metricAlias,
  metricDescription,
  metricName,
  metricNumber,
  metricType,
  payloadSeq,
  reencodePayload,
  type WirePayload,
} from './codec.js';
import { SparkplugMapping, parseSparkplugTopic, type MappingOptions, type SparkplugTopic } from './mapping.js';
import { metricsToSamples, type AliasEntry } from './metrics.js';
import { TokenBucket } from '../../core/token-bucket.js';

export interface SparkplugHostOptions extends MappingOptions {
  rebirth: boolean;
  /** Milliseconds, as the config gives durations. */
  rebirthMinInterval: number;
  /** Rebirth requests to all nodes together, per second on average (bursts of 5 s worth). */
  rebirthsPerSecond: number;
  maxNodes: number;
  /** Sessions opened for nodes not seen before, per minute. */
  maxNewNodesPerMinute: number;
  maxAliases: number;
}

export interface SparkplugCounters {
  births: number;
  deaths: number;
  /** NDEATHs ignored: a will from an older connection (other bdSeq), a node already dead, or one never seen. */
  staleDeaths: number;
  seqGaps: number;
  dataBeforeBirth: number;
  rebirthRequests: number;
  /** Requests not sent because one went to the same node less than rebirthMinInterval ago, or all nodes' rate was reached. */
  rebirthsHeldBack: number;
  aliasesDropped: number;
  /** Messages of nodes not seen before, beyond maxNewNodesPerMinute: decoded without session state. */
  newNodesHeldBack: number;
}

export interface SparkplugDecoded {
  batch: IngestBatch;
  rejections: Rejection[];
  /** The payload to journal when it is not the one received: metrics completed from the alias table. */
  journalPayload?: Uint8Array;
}

interface DeviceState {
  machine: MachineRef;
  online: boolean;
}

interface NodeSession {
  born: boolean;
  bdSeq: number | null;
  lastSeq: number | null;
  aliases: Map<number, AliasEntry>;
  nodeMachine: MachineRef | null;
  devices: Map<string, DeviceState>;
  lastRebirthAt: number;
}

const MAX_DEVICES_PER_NODE = 10_000;

/**
 * Vigil as a Sparkplug B host application: per edge node, the alias table from NBIRTH/DBIRTH, the
 * seq check (a gap or DATA before BIRTH asks for a rebirth), and presence from BIRTH/DEATH with the
 * will's bdSeq. State is bounded whatever names the broker carries: at most maxNodes sessions, those
 * that never had a BIRTH dropped before born ones (least recent first; a dropped node's next DATA
 * asks for a rebirth), maxAliases aliases each, maxNewNodesPerMinute new sessions, and rebirth
 * requests at rebirthsPerSecond across all nodes. Presence is only as trustworthy as the broker's
 * ACLs: whoever may publish a node's topics can announce its death (guessing its bdSeq).
 */
export class SparkplugHost {
  private readonly mapping: SparkplugMapping;
  /** Nodes that sent an NBIRTH, and nodes known only from DATA; each least recently heard from first. */
  private readonly born = new Map<string, NodeSession>();
  private readonly unborn = new Map<string, NodeSession>();
  private readonly rebirths: TokenBucket;
  private readonly newNodes: TokenBucket;
  readonly counters: SparkplugCounters = noCounters();

  constructor(
    private readonly o: SparkplugHostOptions,
    private readonly metadata: SensorMetadata | null,
    /** Sends NCMD Node Control/Rebirth to an edge node (on Vigil's MQTT link). */
    private readonly requestRebirthOf: (topic: string, payload: Uint8Array) => void = () => {},
    /** Where BIRTH and DEATH say machines came and went. */
    private readonly presence: PresenceFeed | null = null,
  ) {
    this.mapping = new SparkplugMapping(o);
    this.rebirths = new TokenBucket(o.rebirthsPerSecond, Math.max(1, o.rebirthsPerSecond * 5));
    this.newNodes = new TokenBucket(o.maxNewNodesPerMinute / 60, o.maxNewNodesPerMinute);
  }

  get nodes(): number {
    return this.born.size + this.unborn.size;
  }

  /** Machines known offline, by edge node (for status). */
  offlineMachines(): number {
    let n = 0;
    for (const s of [...this.born.values(), ...this.unborn.values()]) {
      if (!s.born && s.nodeMachine) n++;
      for (const d of s.devices.values()) if (!d.online) n++;
    }
    return n;
  }

  /** The live path: session state moves on with every message. */
  decode(topic: string, payload: Uint8Array, ctx: ValidationContext): SparkplugDecoded {
    const parsed = this.parse(topic, payload);
    if ('refused' in parsed) return parsed.refused;
    const { t, p, machine } = parsed;
    const key = `${t.group}/${t.node}`;
    const now = ctx.now;
    if (t.type === 'NDEATH') {
      this.death(key, p, now);
      return { batch: { samples: [], events: [] }, rejections: [] };
    }
    const session = this.session(key, t.type === 'NBIRTH', now);
    if (!session) {
      // No room for another new node this minute: its named metrics are kept, its aliases cannot be.
      this.counters.newNodesHeldBack++;
      const rejections: Rejection[] = [];
      const r = metricsToSamples(p, machine, this.mapping, ctx, null, rejections);
      return { batch: { samples: r.samples, events: [] }, rejections };
    }
    let outOfStep = false;
    if (t.type === 'NBIRTH') {
      this.birth(session, p, t, machine, now);
    } else {
      outOfStep = this.checkSeq(session, p);
      if (t.type === 'DBIRTH') this.deviceBirth(key, session, p, t, machine, now);
    }
    const rejections: Rejection[] = [];
    const r = metricsToSamples(p, machine, this.mapping, ctx, session.aliases, rejections);
    if (outOfStep || r.unknownAliases > 0) this.requestRebirth(key, t, now);
    if (t.type === 'DDEATH') this.deviceDeath(key, session, t, now);
    const out: SparkplugDecoded = { batch: { samples: r.samples, events: [] }, rejections };
    if (r.completed && r.samples.length > 0) out.journalPayload = reencodePayload(p);
    return out;
  }

  /** The journal's read-back: its payloads are complete, so no session state is needed or changed. */
  replay(topic: string, payload: Uint8Array, ctx: ValidationContext): SparkplugDecoded {
    const parsed = this.parse(topic, payload);
    if ('refused' in parsed) return parsed.refused;
    const rejections: Rejection[] = [];
    const r = metricsToSamples(parsed.p, parsed.machine, this.mapping, ctx, null, rejections);
    return { batch: { samples: r.samples, events: [] }, rejections };
  }

  /** Topic, payload and machine of a message, or the refusal of whichever of them is bad. */
  private parse(
    topic: string,
    payload: Uint8Array,
  ): { t: SparkplugTopic; p: WirePayload; machine: MachineRef } | { refused: SparkplugDecoded } {
    const t = parseSparkplugTopic(topic);
    if (!t) return { refused: refused(`topic ${topic.slice(0, 200)} is not spBv1.0/{group}/{N|D}{BIRTH|DATA|DEATH}/{node}[/{device}]`) };
    let p: WirePayload;
    try {
      p = decodePayload(payload);
    } catch (err) {
      return { refused: refused(`not a Sparkplug B payload (${(err as Error).message.slice(0, 120)})`) };
    }
    const machine = this.mapping.machine(t);
    if (typeof machine === 'string')
      return { refused: { batch: { samples: [], events: [] }, rejections: [{ reason: 'bad_topic', detail: machine }] } };
    return { t, p, machine };
  }

  /** The node's session, moved to the recent end (and to the born nodes on an NBIRTH); null when no new one may open now. */
  private session(key: string, birth: boolean, now: number): NodeSession | null {
    let s = this.born.get(key) ?? this.unborn.get(key);
    if (!s) {
      if (!this.newNodes.take(now)) return null;
      s = { born: false, bdSeq: null, lastSeq: null, aliases: new Map(), nodeMachine: null, devices: new Map(), lastRebirthAt: -Infinity };
      if (this.nodes >= this.o.maxNodes) {
        // Nodes only ever heard from through DATA (or invented names) go before nodes that were born.
        const from = this.unborn.size > 0 ? this.unborn : this.born;
        from.delete(from.keys().next().value!);
      }
    }
    this.born.delete(key);
    this.unborn.delete(key);
    (birth || s.born ? this.born : this.unborn).set(key, s);
    return s;
  }

  private birth(s: NodeSession, p: WirePayload, t: SparkplugTopic, machine: MachineRef, now: number): void {
    this.counters.births++;
    s.born = true;
    s.lastSeq = payloadSeq(p);
    s.aliases.clear();
    s.nodeMachine = machine;
    // A new session: its devices are offline until their own DBIRTH.
    for (const d of s.devices.values()) d.online = false;
    s.bdSeq = null;
    for (const m of p.metrics ?? []) {
      if (metricName(m) === 'bdSeq') {
        const v = metricNumber(m, metricType(m));
        if (typeof v === 'number') s.bdSeq = v;
      }
    }
    this.learnAliases(s, p, machine);
    this.presence?.report({ online: true, machines: [machine], source: `${t.group}/${t.node}`, cause: 'NBIRTH', at: now });
  }

  private deviceBirth(key: string, s: NodeSession, p: WirePayload, t: SparkplugTopic, machine: MachineRef, now: number): void {
    this.counters.births++;
    let d = s.devices.get(t.device!);
    if (!d) {
      if (s.devices.size >= MAX_DEVICES_PER_NODE) s.devices.delete(s.devices.keys().next().value!);
      s.devices.set(t.device!, (d = { machine, online: true }));
    }
    d.online = true;
    this.learnAliases(s, p, machine);
    this.presence?.report({ online: true, machines: [machine], source: `${key}/${t.device}`, cause: 'DBIRTH', at: now });
  }

  private learnAliases(s: NodeSession, p: WirePayload, machine: MachineRef): void {
    for (const m of p.metrics ?? []) {
      const name = metricName(m);
      if (name === null) continue;
      const alias = metricAlias(m);
      if (alias !== null) {
        if (s.aliases.size < this.o.maxAliases || s.aliases.has(alias)) s.aliases.set(alias, { name, datatype: metricType(m) });
        else this.counters.aliasesDropped++;
      }
      if (this.metadata) {
        const description = metricDescription(m);
        const sensor = description ? this.mapping.sensor(name) : null;
        if (description && typeof sensor === 'string') this.metadata.set(machine.machine, sensor, description);
      }
    }
  }

  /** Whether the message is out of step with the session (DATA before BIRTH, a seq gap): then a rebirth is wanted. */
  private checkSeq(s: NodeSession, p: WirePayload): boolean {
    const seq = payloadSeq(p);
    let outOfStep = false;
    if (!s.born) {
      this.counters.dataBeforeBirth++;
      outOfStep = true;
    } else if (seq !== null && s.lastSeq !== null && seq !== (s.lastSeq + 1) % 256) {
      this.counters.seqGaps++;
      outOfStep = true;
    }
    if (seq !== null) s.lastSeq = seq;
    return outOfStep;
  }

  private death(key: string, p: WirePayload, now: number): void {
    const s = this.born.get(key) ?? this.unborn.get(key);
    // A node never seen has nothing to lose (and gets no state); one already dead dies once.
    if (!s || !s.born) {
      this.counters.staleDeaths++;
      return;
    }
    let bdSeq: number | null = null;
    for (const m of p.metrics ?? [])
      if (metricName(m) === 'bdSeq') {
        const v = metricNumber(m, metricType(m));
        if (typeof v === 'number') bdSeq = v;
      }
    // The broker delivers an old connection's will after the new session was born: not this session's death.
    if (s.bdSeq !== null && bdSeq !== null && bdSeq !== s.bdSeq) {
      this.counters.staleDeaths++;
      return;
    }
    this.counters.deaths++;
    const machines: MachineRef[] = [];
    if (s.nodeMachine) machines.push(s.nodeMachine);
    for (const d of s.devices.values())
      if (d.online) {
        d.online = false;
        machines.push(d.machine);
      }
    s.born = false;
    s.lastSeq = null;
    if (machines.length > 0) this.presence?.report({ online: false, machines, source: key, cause: 'NDEATH', at: now });
  }

  private deviceDeath(key: string, s: NodeSession, t: SparkplugTopic, now: number): void {
    const d = s.devices.get(t.device!);
    if (!d || !d.online) return;
    this.counters.deaths++;
    d.online = false;
    this.presence?.report({ online: false, machines: [d.machine], source: `${key}/${t.device}`, cause: 'DDEATH', at: now });
  }

  private requestRebirth(key: string, t: SparkplugTopic, now: number): void {
    if (!this.o.rebirth) return;
    const s = this.born.get(key) ?? this.unborn.get(key);
    if (!s) return;
    // Per node, then for all nodes together: invented node names cannot make Vigil publish without bound.
    if (now - s.lastRebirthAt < this.o.rebirthMinInterval || !this.rebirths.take(now)) {
      this.counters.rebirthsHeldBack++;
      return;
    }
    s.lastRebirthAt = now;
    this.counters.rebirthRequests++;
    this.requestRebirthOf(`spBv1.0/${t.group}/NCMD/${t.node}`, rebirthPayload(now));
  }
}

export function noCounters(): SparkplugCounters {
  return {
    births: 0,
    deaths: 0,
    staleDeaths: 0,
    seqGaps: 0,
    dataBeforeBirth: 0,
    rebirthRequests: 0,
    rebirthsHeldBack: 0,
    aliasesDropped: 0,
    newNodesHeldBack: 0,
  };
}

/** NCMD with the boolean metric Node Control/Rebirth = true, as the specification asks a host to send. */
export function rebirthPayload(now: number): Uint8Array {
  return encodePayload({ timestamp: now, metrics: [{ name: 'Node Control/Rebirth', timestamp: now, datatype: 11, booleanValue: true }] });
}

function refused(detail: string): SparkplugDecoded {
  return { batch: { samples: [], events: [] }, rejections: [{ reason: 'bad_sparkplug', detail }] };
}
