import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepareDemoDir } from '../../src/commands/demo.js';
import { tempDir } from '../support/fixtures.js';

describe('demo data directory', () => {
  it('a second run starts clean and says so; a directory that is not a demo is never emptied', () => {
    const dir = path.join(tempDir(), 'vigil-demo');
    expect(prepareDemoDir(dir)).toBeNull();
    writeFileSync(path.join(dir, 'vigil.db'), 'old counters');
    expect(prepareDemoDir(dir)).toBe(`starting clean: removed the previous demo run's data in ${dir}`);
    expect(existsSync(path.join(dir, 'vigil.db'))).toBe(false);
    const other = path.join(tempDir(), 'plant-data');
    mkdirSync(other);
    writeFileSync(path.join(other, 'vigil.db'), 'a real gateway');
    expect(() => prepareDemoDir(other)).toThrow(/is not a demo directory/);
    expect(existsSync(path.join(other, 'vigil.db'))).toBe(true);
  });
});
