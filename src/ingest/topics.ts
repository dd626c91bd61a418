/**
 * Topic patterns with named levels, e.g. `vigil/{site}/{line}/{machine}/telemetry`. A pattern
 * compiles to the MQTT subscription filter (`vigil/+/+/+/telemetry`) and a matcher that pulls the
 * named levels out of a concrete topic.
 */
export interface TopicPattern {
  readonly pattern: string;
  /** MQTT subscription filter. */
  readonly filter: string;
  /** Named levels of `topic`, or null when the topic does not match. */
  match(topic: string): Record<string, string> | null;
}

type Level = { kind: 'literal'; text: string } | { kind: 'named'; name: string } | { kind: 'single' } | { kind: 'multi' };

const NAME = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

export function compileTopicPattern(pattern: string): TopicPattern {
  const parts = pattern.split('/');
  const levels: Level[] = parts.map((part, i) => {
    const named = NAME.exec(part);
    if (named) return { kind: 'named', name: named[1]! };
    if (part === '+') return { kind: 'single' };
    if (part === '#') {
      if (i !== parts.length - 1) throw new Error(`topic pattern ${pattern}: '#' must be the last level`);
      return { kind: 'multi' };
    }
    if (/[{}+#]/.test(part)) throw new Error(`topic pattern ${pattern}: level '${part}' mixes text and wildcards`);
    return { kind: 'literal', text: part };
  });
  const names = levels.flatMap((l) => (l.kind === 'named' ? [l.name] : []));
  if (!names.includes('machine')) throw new Error(`topic pattern ${pattern}: needs a {machine} level`);
  if (new Set(names).size !== names.length) throw new Error(`topic pattern ${pattern}: a level name is used twice`);

  const filter = levels.map((l) => (l.kind === 'literal' ? l.text : l.kind === 'multi' ? '#' : '+')).join('/');

  return {
    pattern,
    filter,
    match(topic: string) {
      const got = topic.split('/');
      const out: Record<string, string> = {};
      for (let i = 0; i < levels.length; i++) {
        const level = levels[i]!;
        if (level.kind === 'multi') return out;
        const part = got[i];
        if (part === undefined) return null;
        if (level.kind === 'literal' && part !== level.text) return null;
        if (level.kind === 'named') out[level.name] = part;
      }
      return got.length === levels.length ? out : null;
    },
  };
}

/** Whether a concrete topic matches an MQTT subscription filter (`+` one level, trailing `#` the rest). */
export function topicMatchesFilter(filter: string, topic: string): boolean {
  if (filter === '#') return !topic.startsWith('$');
  const f = filter.split('/');
  const t = topic.split('/');
  // Wildcards never match topics starting with $ (MQTT 3.1.1 §4.7.2).
  if ((f[0] === '+' || f[0] === '#') && topic.startsWith('$')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return i === f.length - 1;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
