/** An edge node as the tests play it, encoding with Eclipse Tahu's own JS codec (sparkplug-payload). */
import { encodePayload, type UMetric } from 'sparkplug-payload/lib/sparkplugbpayload.js';

export type TestMetric = Partial<UMetric> & { type: UMetric['type'] };

export class TestEdgeNode {
  private seq = 0;
  bdSeq = 0;

  constructor(
    readonly group: string,
    readonly node: string,
  ) {}

  topic(type: string, device?: string): string {
    return `spBv1.0/${this.group}/${type}/${this.node}${device ? `/${device}` : ''}`;
  }

  private next(): number {
    const s = this.seq;
    this.seq = (this.seq + 1) % 256;
    return s;
  }

  /** Skips seq numbers, as a lost message would. */
  skip(n = 1): void {
    this.seq = (this.seq + n) % 256;
  }

  nbirth(ts: number, metrics: TestMetric[]): [string, Uint8Array] {
    this.seq = 0;
    const bd = { name: 'bdSeq', type: 'Int64', value: this.bdSeq } as UMetric;
    return [this.topic('NBIRTH'), encodePayload({ timestamp: ts, seq: this.next(), metrics: [bd, ...(metrics as UMetric[])] })];
  }

  ndata(ts: number, metrics: TestMetric[]): [string, Uint8Array] {
    return [this.topic('NDATA'), encodePayload({ timestamp: ts, seq: this.next(), metrics: metrics as UMetric[] })];
  }

  dbirth(device: string, ts: number, metrics: TestMetric[]): [string, Uint8Array] {
    return [this.topic('DBIRTH', device), encodePayload({ timestamp: ts, seq: this.next(), metrics: metrics as UMetric[] })];
  }

  ddata(device: string, ts: number, metrics: TestMetric[]): [string, Uint8Array] {
    return [this.topic('DDATA', device), encodePayload({ timestamp: ts, seq: this.next(), metrics: metrics as UMetric[] })];
  }

  ddeath(device: string, ts: number): [string, Uint8Array] {
    return [this.topic('DDEATH', device), encodePayload({ timestamp: ts, seq: this.next(), metrics: [] })];
  }

  /** The will registered at connect time: bdSeq of that connection. */
  ndeath(bdSeq = this.bdSeq): [string, Uint8Array] {
    return [this.topic('NDEATH'), encodePayload({ metrics: [{ name: 'bdSeq', type: 'Int64', value: bdSeq } as UMetric] })];
  }
}
