import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/vigil-config.js';
import { trainingConfig } from '../../src/training/worker-input.js';

describe('training worker input', () => {
  it('carries the learning settings, the store and the machine kinds, none of the daemon secrets', () => {
    const config = validateConfig(
      {
        mqtt: { url: 'mqtt://vigil:mqtt-secret@broker:1883', password: 'mqtt-secret' },
        notify: { webhooks: [{ name: 'ops', url: 'https://ops.example/hook?token=hook-secret', secret: 'signing-secret-0123456789' }] },
        api: { tokens: [{ name: 'ana', role: 'admin', sha256: 'a'.repeat(64) }] },
        schedule: { carbon: { url: 'https://grid.example/ci', headers: { authorization: 'Bearer carbon-secret' } } },
      },
      { cwd: process.cwd(), origin: 'test' },
    );
    const input = trainingConfig(config);
    expect(Object.keys(input).sort()).toEqual(['health', 'kinds', 'learning', 'machines', 'store']);
    expect(input.learning).toEqual(config.learning);
    const text = JSON.stringify(input);
    for (const secret of ['mqtt-secret', 'hook-secret', 'signing-secret-0123456789', 'carbon-secret', 'a'.repeat(64)])
      expect(text).not.toContain(secret);
  });
});
