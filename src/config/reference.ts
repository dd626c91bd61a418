import type { TSchema } from '@sinclair/typebox';
import { ENV_BINDINGS } from './env.js';
import { SECRET } from './schema-parts.js';

type Node = TSchema & {
  type?: string;
  description?: string;
  default?: unknown;
  properties?: Record<string, Node>;
  required?: string[];
  items?: Node;
  patternProperties?: Record<string, Node>;
  anyOf?: Node[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
};

/**
 * The configuration reference, made from the schemas themselves: each section as a YAML file of its
 * defaults with every setting's description beside it, and the `VIGIL_*` variables. `vigil config
 * reference` prints it; docs/configuration.md is this text, and a test fails when the two differ.
 */
export function configReference(schema: TSchema): string {
  const root = schema as Node;
  const out: string[] = [
    '# Configuration reference',
    '',
    "<!-- Made by `npm run docs:config` (`vigil config reference`) from the stages' config schemas; a test fails when it is stale. -->",
    '',
    'Every setting with its default. A file needs only what differs (`vigil config print` shows the',
    'effective configuration, secrets masked; `vigil config check <file>` validates one). Durations take',
    'milliseconds or `250ms`, `5s`, `10m`, `2h`, `7d`; sizes bytes or `64KiB`, `512MB`. Settings marked',
    '*secret* are masked wherever Vigil prints or logs them.',
    '',
  ];
  for (const [key, section] of Object.entries(root.properties ?? {})) {
    out.push(`## \`${key}\``, '');
    if (section.description && section.properties) out.push(section.description, '');
    out.push('```yaml', ...render(key, section, 0, !(root.required ?? []).includes(key)), '```', '');
  }
  out.push('## Environment variables', '', 'Each overrides its setting (the file, if any, is read first).', '');
  out.push('| variable | setting | what |', '| --- | --- | --- |');
  for (const b of ENV_BINDINGS) out.push(`| \`${b.env}\` | \`${b.path.join('.')}\` | ${b.help} |`);
  return `${out.join('\n')}\n`;
}

function render(key: string, s: Node, depth: number, optional: boolean): string[] {
  const pad = '  '.repeat(depth);
  const note = describe(s);
  if (s.properties && !s.patternProperties) {
    // A section's own description heads it as a paragraph.
    const lines = [`${pad}${key}:${note && depth > 0 ? `  # ${note}` : ''}`];
    for (const [k, sub] of Object.entries(s.properties)) lines.push(...render(k, sub, depth + 1, !(s.required ?? []).includes(k)));
    return lines;
  }
  if (s.type === 'array' && s.items?.properties) {
    const lines = [`${pad}${key}: ${value(s.default ?? [])}${note ? `  # ${note}` : ''}`];
    // The fields of one entry, as a commented example.
    const item = s.items;
    lines.push(`${pad}  # each entry:`);
    for (const [k, sub] of Object.entries(item.properties!)) {
      const required = (item.required ?? []).includes(k);
      const d = describe(sub);
      lines.push(
        `${pad}  #   ${k}: ${sub.default !== undefined ? value(sub.default) : typeName(sub)}${required ? ' (required)' : ''}${d ? ` — ${d}` : ''}`,
      );
    }
    return lines;
  }
  const entry = s.patternProperties ? Object.values(s.patternProperties)[0] : undefined;
  if (entry?.properties) {
    // A map of objects (a kind's recipe by kind name): the fields of one value, as a commented example.
    const lines = [`${pad}${key}: ${value(s.default ?? {})}${note ? `  # ${note}` : ''}`, `${pad}  # each <name>: with any of`];
    const fields = (o: Node, prefix: string): void => {
      for (const [k, sub] of Object.entries(o.properties!)) {
        if (sub.properties) fields(sub, `${prefix}${k}.`);
        else {
          const d = describe(sub);
          lines.push(`${pad}  #   ${prefix}${k}: ${typeName(sub)}${d ? ` — ${d}` : ''}`);
        }
      }
    };
    fields(entry, '');
    return lines;
  }
  if (s.default === undefined && optional) return [`${pad}# ${key}: ${typeName(s)}${note ? `  — ${note}` : ''}`];
  return [`${pad}${key}: ${value(s.default)}${note ? `  # ${note}` : ''}`];
}

function describe(s: Node): string {
  const parts: string[] = [];
  // Units are explained once, at the top.
  if (s.description)
    parts.push(
      s.description
        .replace(/\s+/g, ' ')
        .replace(/ ?\((milliseconds|bytes),? or a string like [^)]*\)$/, '')
        .replace(/^(milliseconds|bytes), or a string like .*$/, ''),
    );
  const choices = literals(s);
  if (choices && !(s.description ?? '').includes(choices.join(' | '))) parts.push(`one of ${choices.join(' | ')}`);
  if ((s as Record<string, unknown>)[SECRET] || s.patternProperties?.[Object.keys(s.patternProperties)[0]!]?.[SECRET as never])
    parts.push('secret');
  return parts.filter(Boolean).join('; ');
}

function literals(s: Node): string[] | null {
  if (!s.anyOf || !s.anyOf.every((x) => x.const !== undefined)) return null;
  return s.anyOf.map((x) => String(x.const));
}

function typeName(s: Node): string {
  if (literals(s)) return literals(s)!.join(' | ');
  if (s.anyOf) return [...new Set(s.anyOf.map(typeName))].join(' | ');
  if (s.type === 'array') return `list of ${s.items ? typeName(s.items) : 'values'}`;
  if (s.patternProperties) return 'map';
  return s.type ?? 'value';
}

function value(v: unknown): string {
  if (v === undefined) return '';
  // Quoted only where YAML would read something else than the string (a number, a boolean, null).
  if (typeof v === 'string')
    return /^[\w./:+-]+$/.test(v) && !/^(true|false|null|yes|no|on|off|~)$/i.test(v) && !/^[-+]?(\d[\d_]*)?\.?\d+([eE][-+]?\d+)?$/.test(v)
      ? v
      : JSON.stringify(v);
  return JSON.stringify(v);
}
