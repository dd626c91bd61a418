import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { publishPathUnavailable } from '../../src/ingest/fastpath/mqtt-adapter.js';

describe("the adapter to mqtt.js's internals", () => {
  it('finds what the PUBLISH path needs in the installed mqtt.js', () => {
    const client = mqtt.connect('mqtt://127.0.0.1:1', { manualConnect: true });
    // manualConnect: nothing is opened, so there is nothing to end.
    expect(publishPathUnavailable(client)).toBeNull();
  });

  it('says why when the stream builder is not where it was', () => {
    const client = mqtt.connect('mqtt://127.0.0.1:1', { manualConnect: true });
    (client as unknown as { streamBuilder?: unknown }).streamBuilder = undefined;
    expect(publishPathUnavailable(client)).toMatch(/no stream builder/);
  });
});
