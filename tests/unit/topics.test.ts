import { describe, expect, it } from 'vitest';
import { compileTopicPattern } from '../../src/ingest/topics.js';

describe('topic patterns', () => {
  it('compiles named levels to an MQTT filter and extracts them', () => {
    const p = compileTopicPattern('vigil/{site}/{line}/{machine}/telemetry');
    expect(p.filter).toBe('vigil/+/+/+/telemetry');
    expect(p.match('vigil/plant1/lineA/pump-7/telemetry')).toEqual({ site: 'plant1', line: 'lineA', machine: 'pump-7' });
  });

  it.each([
    ['vigil/plant1/lineA/pump-7/events', 'wrong last level'],
    ['vigil/plant1/lineA/telemetry', 'too few levels'],
    ['vigil/plant1/lineA/pump-7/telemetry/extra', 'too many levels'],
    ['other/plant1/lineA/pump-7/telemetry', 'wrong first level'],
  ])('does not match %s (%s)', (topic) => {
    expect(compileTopicPattern('vigil/{site}/{line}/{machine}/telemetry').match(topic)).toBeNull();
  });

  it('supports + and a trailing #', () => {
    const p = compileTopicPattern('factory/+/{machine}/#');
    expect(p.filter).toBe('factory/+/+/#');
    expect(p.match('factory/x/m1/a/b/c')).toEqual({ machine: 'm1' });
    expect(p.match('factory/x/m1')).toEqual({ machine: 'm1' });
  });

  it.each([
    ['vigil/{site}/telemetry', /needs a \{machine\}/],
    ['vigil/#/{machine}', /must be the last level/],
    ['vigil/{machine}/{machine}', /used twice/],
    ['vigil/pre{machine}', /mixes text and wildcards/],
  ])('rejects the pattern %s', (pattern, message) => {
    expect(() => compileTopicPattern(pattern)).toThrow(message);
  });
});
