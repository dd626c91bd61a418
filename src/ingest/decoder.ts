import { TextDecoder } from 'node:util';
import type { IngestBatch, MachineEvent, MachineRef } from '../core/types.js';
import { checkEvent, decodeJsonEvents, decodeJsonTelemetry } from './decode-json.js';
import { decodeTelemetryFast } from './fastpath/decode-json.js';
import { decodeLineProtocol, type Precision } from './decode-line-protocol.js';
import type { Rejection } from '../core/reasons.js';
import { compileTopicPattern, type TopicPattern } from './topics.js';
import { ID_PATTERN, type ValidationContext } from './validate.js';
import { StringInterner } from '../core/interner.js';
import type { SparkplugHost } from './sparkplug/host.js';
import { SPARKPLUG_NAMESPACE, sparkplugFilters } from './sparkplug/mapping.js';

export interface DecoderOptions {
  telemetryTopics: string[];
  eventTopics: string[];
  format: 'auto' | 'json' | 'line';
  maxPayloadBytes: number;
  maxFutureSkewMs: number;
  maxAgeMs: number;
  allowMachines: string[];
  lineProtocolPrecision: Precision;
  /** Keep the values' text on samples (Sample.valueText) for a store that writes it as it came. */
  keepValueText?: boolean;
  /** The fast JSON reader for the common telemetry shape (default on); off: JSON.parse for everything. */
  fastPath?: boolean;
  /** Sparkplug B host state, when spBv1.0 topics are subscribed to (mqtt.sparkplug.enabled). */
  sparkplug?: { host: SparkplugHost; groups: string[] };
}

export interface DecodedMessage {
  kind: 'telemetry' | 'events' | 'sparkplug' | 'unknown';
  batch: IngestBatch;
  rejections: Rejection[];
  /** What the journal keeps instead of the payload received (a Sparkplug payload with its aliases resolved). */
  journalPayload?: Uint8Array;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Turns one MQTT message into validated samples/events plus the reasons for whatever was refused. */
export class MessageDecoder {
  private readonly telemetry: TopicPattern[];
  private readonly events: TopicPattern[];
  private readonly allow: Set<string> | null;
  /** Sites and lines: a few, shared by many machines. */
  private readonly names = new StringInterner();

  constructor(private readonly options: DecoderOptions) {
    this.telemetry = options.telemetryTopics.map(compileTopicPattern);
    this.events = options.eventTopics.map(compileTopicPattern);
    this.allow = options.allowMachines.length > 0 ? new Set(options.allowMachines) : null;
  }

  /** MQTT subscription filters for every configured pattern. */
  get filters(): string[] {
    const sp = this.options.sparkplug ? sparkplugFilters(this.options.sparkplug.groups) : [];
    return [...new Set([...this.telemetry, ...this.events].map((p) => p.filter)), ...sp];
  }

  get sparkplug(): SparkplugHost | null {
    return this.options.sparkplug?.host ?? null;
  }

  /** A message read back from the journal: as decode, but a Sparkplug payload is complete and moves no session state. */
  replay(topic: string, payload: Uint8Array, now: number): DecodedMessage {
    return this.decode(topic, payload, now, true);
  }

  decode(topic: string, payload: Uint8Array, now: number, replay = false): DecodedMessage {
    const empty: IngestBatch = { samples: [], events: [] };
    const ctx: ValidationContext = { now, maxFutureSkewMs: this.options.maxFutureSkewMs, maxAgeMs: this.options.maxAgeMs };
    const sp = this.options.sparkplug;
    if (sp && topic.startsWith(SPARKPLUG_NAMESPACE + '/')) {
      if (payload.byteLength > this.options.maxPayloadBytes)
        return {
          kind: 'sparkplug',
          batch: empty,
          rejections: [{ reason: 'payload_too_large', detail: `${payload.byteLength} bytes, at most ${this.options.maxPayloadBytes}` }],
        };
      const r = replay ? sp.host.replay(topic, payload, ctx) : sp.host.decode(topic, payload, ctx);
      if (this.allow) this.applyAllowList(r.batch, r.rejections);
      return { kind: 'sparkplug', ...r };
    }
    const route = this.route(topic);
    if (!route) {
      return {
        kind: 'unknown',
        batch: empty,
        rejections: [
          { reason: 'bad_topic', detail: `topic ${topic.slice(0, 200)} matches no pattern or has an invalid machine/site/line level` },
        ],
      };
    }
    if (payload.byteLength > this.options.maxPayloadBytes) {
      return {
        kind: route.kind,
        batch: empty,
        rejections: [{ reason: 'payload_too_large', detail: `${payload.byteLength} bytes, at most ${this.options.maxPayloadBytes}` }],
      };
    }
    if (route.kind === 'telemetry' && this.options.format !== 'line' && this.options.fastPath !== false) {
      const sample = decodeTelemetryFast(payload, route.machine, ctx, this.options.keepValueText === true);
      if (sample) {
        const batch: IngestBatch = { samples: [sample], events: [] };
        const rejections: Rejection[] = [];
        if (this.allow) this.applyAllowList(batch, rejections);
        return { kind: 'telemetry', batch, rejections };
      }
    }
    let text: string;
    try {
      text = utf8.decode(payload);
    } catch {
      return { kind: route.kind, batch: empty, rejections: [{ reason: 'bad_encoding', detail: 'payload is not valid UTF-8' }] };
    }

    let batch: IngestBatch;
    let rejections: Rejection[];
    if (route.kind === 'events') {
      const r = decodeJsonEvents(text, route.machine, ctx);
      batch = { samples: [], events: r.items };
      rejections = r.rejections;
    } else {
      const r = this.isJson(text)
        ? decodeJsonTelemetry(text, route.machine, ctx)
        : decodeLineProtocol(text, route.machine, { ...ctx, precision: this.options.lineProtocolPrecision });
      batch = { samples: r.items, events: [] };
      rejections = r.rejections;
    }
    if (this.allow) this.applyAllowList(batch, rejections);
    // An empty message (whitespace, an empty array, only comments) is refused with a reason, not dropped in silence.
    if (batch.samples.length === 0 && batch.events.length === 0 && rejections.length === 0) {
      rejections.push({ reason: 'missing_values', detail: `the message holds no ${route.kind === 'events' ? 'events' : 'readings'}` });
    }
    return { kind: route.kind, batch, rejections };
  }

  /**
   * An event that came another way (a technician over HTTP): the rules an event message on MQTT
   * meets — ids, time window, type and fields, the allow-list — so both paths store the same things.
   */
  checkEvent(machine: MachineRef, item: Record<string, unknown>, now: number): MachineEvent | Rejection {
    for (const [level, id] of [
      ['machine', machine.machine],
      ['site', machine.site],
      ['line', machine.line],
    ] as const) {
      if (!ID_PATTERN.test(id))
        return {
          reason: 'bad_topic',
          detail: `${level} ${JSON.stringify(id.slice(0, 80))} has characters outside [A-Za-z0-9_.:-], is longer than 64, or is only dots`,
        };
    }
    if (this.allow && !this.allow.has(machine.machine)) return { reason: 'unknown_machine', detail: `machine ${machine.machine}` };
    return checkEvent(item, machine, { now, maxFutureSkewMs: this.options.maxFutureSkewMs, maxAgeMs: this.options.maxAgeMs });
  }

  private isJson(text: string): boolean {
    if (this.options.format !== 'auto') return this.options.format === 'json';
    const first = text.trimStart()[0];
    return first === '{' || first === '[';
  }

  /** Topics repeat (one or two per machine): their routes are remembered, bounded against floods of new ones. */
  private readonly routes = new Map<string, { kind: 'telemetry' | 'events'; machine: MachineRef } | null>();

  private route(topic: string): { kind: 'telemetry' | 'events'; machine: MachineRef } | null {
    let r = this.routes.get(topic);
    if (r === undefined) {
      r = this.matchTopic(topic);
      if (this.routes.size >= 10_000) this.routes.clear();
      this.routes.set(topic, r);
    }
    return r;
  }

  private matchTopic(topic: string): { kind: 'telemetry' | 'events'; machine: MachineRef } | null {
    for (const [kind, patterns] of [
      ['telemetry', this.telemetry],
      ['events', this.events],
    ] as const) {
      for (const p of patterns) {
        const m = p.match(topic);
        if (!m) continue;
        const machine = { site: this.names.intern(m.site ?? 'default'), line: this.names.intern(m.line ?? 'default'), machine: m.machine! };
        if (!ID_PATTERN.test(machine.site) || !ID_PATTERN.test(machine.line) || !ID_PATTERN.test(machine.machine)) return null;
        return { kind, machine };
      }
    }
    return null;
  }

  private applyAllowList(batch: IngestBatch, rejections: Rejection[]): void {
    const allowed = (m: MachineRef) => {
      if (this.allow!.has(m.machine)) return true;
      rejections.push({ reason: 'unknown_machine', detail: `machine ${m.machine}` });
      return false;
    };
    batch.samples = batch.samples.filter((s) => allowed(s.machine));
    batch.events = batch.events.filter((e) => allowed(e.machine));
  }
}
