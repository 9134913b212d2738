import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';

/**
 * The subset of Helm's Go templates the portcullis-agent chart uses, rendered the way
 * Helm renders it (no helm binary here): `{{ .Values.a.b }}`, `.Release.*`, `.Chart.*`,
 * `.` inside range; pipelines with quote, required, b64enc, toYaml, nindent, indent,
 * default; `not`; if / else / end; range / end; `{{-` and `-}}` trimming. Anything else
 * is an error naming the template and the action, so the chart cannot silently drift
 * past what is checked.
 */
export interface RenderContext {
  readonly Values: Record<string, unknown>;
  readonly Release: { readonly Name: string; readonly Namespace: string };
  readonly Chart: Record<string, unknown>;
}

type Node = { type: 'text'; text: string } | { type: 'expr'; expr: string } | { type: 'if'; cond: string; then: Node[]; else: Node[] } | { type: 'range'; over: string; body: Node[] };

export class TemplateError extends Error {}

function tokenize(src: string, file: string): Array<{ kind: 'text' | 'action'; value: string }> {
  const out: Array<{ kind: 'text' | 'action'; value: string }> = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      out.push({ kind: 'text', value: src.slice(i) });
      break;
    }
    let text = src.slice(i, open);
    const close = src.indexOf('}}', open);
    if (close < 0) throw new TemplateError(`${file}: unclosed {{`);
    let action = src.slice(open + 2, close);
    if (action.startsWith('-')) {
      text = text.replace(/\s+$/, '');
      action = action.slice(1);
    }
    let next = close + 2;
    if (action.endsWith('-')) {
      action = action.slice(0, -1);
      const m = /^\s*/.exec(src.slice(next))!;
      next += m[0].length;
    }
    out.push({ kind: 'text', value: text }, { kind: 'action', value: action.trim() });
    i = next;
  }
  return out;
}

function parse(tokens: Array<{ kind: 'text' | 'action'; value: string }>, file: string): Node[] {
  let pos = 0;
  const block = (terminators: readonly string[]): { nodes: Node[]; end: string } => {
    const nodes: Node[] = [];
    while (pos < tokens.length) {
      const t = tokens[pos++]!;
      if (t.kind === 'text') {
        if (t.value) nodes.push({ type: 'text', text: t.value });
        continue;
      }
      const word = t.value.split(/\s+/, 1)[0]!;
      if (terminators.includes(word)) return { nodes, end: word };
      if (word === 'if') {
        const then = block(['else', 'end']);
        const otherwise = then.end === 'else' ? block(['end']).nodes : [];
        nodes.push({ type: 'if', cond: t.value.slice(2).trim(), then: then.nodes, else: otherwise });
      } else if (word === 'range') {
        nodes.push({ type: 'range', over: t.value.slice(5).trim(), body: block(['end']).nodes });
      } else if (['else', 'end', 'with', 'define', 'include', 'template', 'block'].includes(word)) {
        throw new TemplateError(`${file}: unsupported or misplaced action {{ ${t.value} }}`);
      } else nodes.push({ type: 'expr', expr: t.value });
    }
    if (terminators.length) throw new TemplateError(`${file}: missing {{ end }}`);
    return { nodes, end: '' };
  };
  return block([]).nodes;
}

function splitArgs(s: string): string[] {
  return s.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
}

function lookup(ref: string, ctx: RenderContext, dot: unknown, file: string): unknown {
  if (ref === '.') return dot;
  if (ref.startsWith('"')) return JSON.parse(ref) as string;
  if (/^-?\d+$/.test(ref)) return Number(ref);
  if (!ref.startsWith('.')) throw new TemplateError(`${file}: unsupported value ${ref}`);
  let v: unknown = ref.startsWith('.Values') || ref.startsWith('.Release') || ref.startsWith('.Chart') ? ctx : dot;
  for (const part of ref.slice(1).split('.')) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}

const truthy = (v: unknown) => !(v === undefined || v === null || v === false || v === '' || v === 0 || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0));

function toYaml(v: unknown): string {
  return YAML.stringify(v).replace(/\n$/, '');
}

function evaluate(expr: string, ctx: RenderContext, dot: unknown, file: string): unknown {
  const stages = expr.split(/\s\|\s/).map((s) => splitArgs(s.trim()));
  let value: unknown;
  stages.forEach((args, i) => {
    const [fn, ...rest] = args;
    const params = rest.map((a) => lookup(a, ctx, dot, file));
    if (i > 0) params.push(value);
    switch (fn) {
      case 'quote':
        value = JSON.stringify(String(params[0] ?? ''));
        break;
      case 'required':
        if (!truthy(params[1])) throw new TemplateError(`${file}: ${String(params[0])}`);
        value = params[1];
        break;
      case 'b64enc':
        value = Buffer.from(String(params[0])).toString('base64');
        break;
      case 'toYaml':
        value = toYaml(params[0]);
        break;
      case 'nindent':
        value = `\n${String(params[1]).split('\n').map((l) => ' '.repeat(params[0] as number) + l).join('\n')}`;
        break;
      case 'indent':
        value = String(params[1]).split('\n').map((l) => ' '.repeat(params[0] as number) + l).join('\n');
        break;
      case 'default':
        value = truthy(params[1]) ? params[1] : params[0];
        break;
      case 'not':
        value = !truthy(params[0]);
        break;
      default:
        if (i === 0 && rest.length === 0) value = lookup(fn!, ctx, dot, file);
        else throw new TemplateError(`${file}: unsupported function in {{ ${expr} }}`);
    }
  });
  return value;
}

function render(nodes: readonly Node[], ctx: RenderContext, dot: unknown, file: string): string {
  let out = '';
  for (const n of nodes) {
    switch (n.type) {
      case 'text':
        out += n.text;
        break;
      case 'expr': {
        const v = evaluate(n.expr, ctx, dot, file);
        out += v === undefined || v === null ? '' : String(v);
        break;
      }
      case 'if':
        out += render(truthy(evaluate(n.cond, ctx, dot, file)) ? n.then : n.else, ctx, dot, file);
        break;
      case 'range': {
        const list = evaluate(n.over, ctx, dot, file);
        if (list !== undefined && list !== null && !Array.isArray(list)) throw new TemplateError(`${file}: range over a non-list (${n.over})`);
        for (const item of (list as unknown[] | undefined) ?? []) out += render(n.body, ctx, item, file);
        break;
      }
    }
  }
  return out;
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = typeof v === 'object' && v !== null && !Array.isArray(v) && typeof b === 'object' && b !== null && !Array.isArray(b) ? merge(b as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/** `helm template <release> <chart> -n <namespace> --set ...`: every object the chart renders, parsed. */
export function renderChart(chartDir: string, release: { name: string; namespace: string }, values: Record<string, unknown>): Array<Record<string, unknown>> {
  const chart = YAML.parse(fs.readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;
  const defaults = YAML.parse(fs.readFileSync(path.join(chartDir, 'values.yaml'), 'utf8')) as Record<string, unknown>;
  const ctx: RenderContext = {
    Values: merge(defaults, values),
    Release: { Name: release.name, Namespace: release.namespace },
    Chart: { Name: chart['name'], Version: chart['version'], AppVersion: chart['appVersion'] },
  };
  const objects: Array<Record<string, unknown>> = [];
  for (const file of fs.readdirSync(path.join(chartDir, 'templates')).filter((f) => f.endsWith('.yaml')).sort()) {
    const src = fs.readFileSync(path.join(chartDir, 'templates', file), 'utf8');
    const text = render(parse(tokenize(src, file), file), ctx, ctx, file);
    for (const doc of YAML.parseAllDocuments(text)) {
      if (doc.errors.length) throw new TemplateError(`${file}: rendered YAML is invalid: ${doc.errors[0]!.message}\n${text}`);
      const o = doc.toJS() as Record<string, unknown> | null;
      if (o) objects.push(o);
    }
  }
  return objects;
}
