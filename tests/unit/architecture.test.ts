import { existsSync, readFileSync, readdirSync } from 'node:fs';
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
/** The shared toolkit: small interfaces and config parts, each file public on its own. */
const SHARED = new Set(['core', 'config']);
const SRC = path.resolve(import.meta.dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    // fast-lstm/assembly holds the AssemblyScript kernel source, compiled apart from the daemon
    if (e.isDirectory()) return e.name === 'assembly' ? [] : sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every relative module a file names: static imports (type-only included), re-exports, dynamic imports. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm);
  return [...specs].map((m) => path.resolve(path.dirname(file), m[1]!).replace(/\.js$/, '.ts'));
}

/** 'root' for the composition root's files (main.ts, cli.ts, vigil-config.ts and their helpers); 'outside' beyond src/ (the simulators). */
function stageOf(file: string): string {
  const parts = path.relative(SRC, file).split(path.sep);
  if (parts[0] === '..') return 'outside';
  return parts.length > 1 ? parts[0]! : 'root';
}

const rel = (file: string) => path.relative(SRC, file);
const FILES = sources(SRC);
const GRAPH = new Map(FILES.map((f) => [f, importsOf(f)]));

/** Tarjan's strongly connected components: each one with more than a file (or a file importing itself) is a circle. */
function circles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)!.includes(v)) found.push(component.map(rel).sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('architecture', () => {
  it('every folder of src/ is a known stage', () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(folders.filter((f) => !ORDER.includes(f))).toEqual([]);
  });

  it('no stage imports a later stage or the composition root (but commands, which start the daemon)', () => {
    const backwards: string[] = [];
    for (const [file, targets] of GRAPH) {
      const stage = stageOf(file);
      if (stage === 'root') continue; // the composition root may import any stage
      for (const target of targets) {
        const toStage = stageOf(target);
        if (toStage === stage || toStage === 'outside') continue;
        if (toStage === 'root' ? stage !== 'commands' : ORDER.indexOf(toStage) > ORDER.indexOf(stage))
          backwards.push(`${rel(file)} → ${rel(target)}`);
      }
    }
    expect(backwards).toEqual([]);
  });

  it('no import circle, type-only imports included', () => {
    expect(circles(GRAPH)).toEqual([]);
  });

  it('the circle check finds circles, type-only ones too, and nothing in a tree', () => {
    const [a, b, c, d] = ['a.ts', 'b.ts', 'c.ts', 'd.ts'].map((f) => path.join(SRC, f)) as [string, string, string, string];
    const circle = new Map([
      [a, [b]],
      [b, [c]],
      [c, [a]],
      [d, [d]],
    ]);
    expect(circles(circle)).toEqual([['a.ts', 'b.ts', 'c.ts'], ['d.ts']]);
    const tree = new Map([
      [a, [b, c]],
      [b, [c]],
      [c, []],
    ]);
    expect(circles(tree)).toEqual([]);
    const typeOnly = path.join(SRC, 'scoring', 'service.ts');
    expect(importsOf(typeOnly).some((t) => t.endsWith(path.join('scoring', 'types.ts')))).toBe(true);
  });

  it('every stage but the shared toolkit has a public surface, index.ts', () => {
    const stages = ORDER.filter((s) => !SHARED.has(s));
    expect(stages.filter((s) => !existsSync(path.join(SRC, s, 'index.ts')))).toEqual([]);
  });

  it('other stages and the composition root reach a stage only through its index.ts; a stage never through its own', () => {
    const reachingIn: string[] = [];
    for (const [file, targets] of GRAPH) {
      const stage = stageOf(file);
      for (const target of targets) {
        const toStage = stageOf(target);
        if (toStage === 'root' || toStage === 'outside' || SHARED.has(toStage)) continue;
        const isSurface = rel(target) === path.join(toStage, 'index.ts');
        if (toStage === stage ? isSurface : !isSurface) reachingIn.push(`${rel(file)} → ${rel(target)}`);
      }
    }
    expect(reachingIn).toEqual([]);
  });
});
