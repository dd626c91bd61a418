import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/** The stages in data-path order (docs/architecture.md): a stage imports only those before it. */
const ORDER = [
  'core',
  'config',
  'ingest',
  'journal',
  'store',
  'features',
  'model',
  'registry',
  'training',
  'scheduler',
  'federation',
  'scoring',
  'alerts',
  'api',
  'commands',
];
const SRC = path.resolve(import.meta.dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'assembly' ? [] : sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from\s*|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => path.resolve(path.dirname(file), m[1]!));
}

describe('architecture', () => {
  it('every folder of src/ is a known stage', () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(folders.filter((f) => !ORDER.includes(f))).toEqual([]);
  });

  it('no stage imports a later stage or the composition root', () => {
    const backwards: string[] = [];
    for (const file of sources(SRC)) {
      const stage = path.relative(SRC, file).split(path.sep)[0]!;
      if (!ORDER.includes(stage)) continue; // the composition root (main.ts and its helpers) may import any stage
      for (const target of importsOf(file)) {
        const to = path.relative(SRC, target).split(path.sep);
        const toStage = to.length > 1 ? to[0]! : 'root';
        if (toStage === stage) continue;
        if (toStage === 'root' ? stage !== 'commands' : ORDER.indexOf(toStage) > ORDER.indexOf(stage)) {
          backwards.push(`${path.relative(SRC, file)} → ${path.relative(SRC, target)}`);
        }
      }
    }
    expect(backwards).toEqual([]);
  });
});
