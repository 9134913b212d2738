/**
 * The samples of one metric family in a Prometheus text exposition (format 0.0.4, what
 * kube-apiserver's /metrics serves). Only what the agent needs: `name{labels} value
 * [timestamp]` lines of that name, label values unescaped (\\, \", \n). A line that does not
 * parse is counted, never thrown: one odd line must not hide every count.
 */
export interface PrometheusSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface ParsedFamily {
  readonly samples: readonly PrometheusSample[];
  /** Lines of this metric that could not be read (bad label syntax, value not a number). */
  readonly malformed: number;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function parseMetricFamily(text: string, metric: string): ParsedFamily {
  const samples: PrometheusSample[] = [];
  let malformed = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    // cheap filter first: a real /metrics body has thousands of other lines
    if (text.startsWith(metric, start)) {
      const next = text.charAt(start + metric.length);
      if (next === '{' || next === ' ' || next === '\t') {
        const sample = parseLine(text.slice(start + metric.length, end).replace(/\r$/, ''));
        if (sample) samples.push(sample);
        else malformed++;
      }
    }
    start = end + 1;
  }
  return { samples, malformed };
}

/** `{a="x",b="y"} 12 [ts]` or ` 12 [ts]` (the part after the metric name). */
function parseLine(rest: string): PrometheusSample | null {
  const labels: Record<string, string> = {};
  let i = 0;
  if (rest.charAt(0) === '{') {
    i = 1;
    for (;;) {
      while (rest.charAt(i) === ' ' || rest.charAt(i) === ',') i++;
      if (rest.charAt(i) === '}') {
        i++;
        break;
      }
      const eq = rest.indexOf('=', i);
      if (eq === -1) return null;
      const name = rest.slice(i, eq).trim();
      if (!LABEL_NAME.test(name) || rest.charAt(eq + 1) !== '"') return null;
      let value = '';
      let j = eq + 2;
      for (;;) {
        if (j >= rest.length) return null;
        const c = rest.charAt(j);
        if (c === '\\') {
          const e = rest.charAt(j + 1);
          value += e === 'n' ? '\n' : e;
          j += 2;
        } else if (c === '"') {
          j++;
          break;
        } else {
          value += c;
          j++;
        }
      }
      if (Object.prototype.hasOwnProperty.call(labels, name)) return null;
      labels[name] = value;
      i = j;
    }
  }
  const fields = rest.slice(i).trim().split(/\s+/);
  if (fields.length < 1 || fields.length > 2 || fields[0] === '') return null;
  const value = parseValue(fields[0]!);
  if (value === null) return null;
  return { labels, value };
}

function parseValue(v: string): number | null {
  if (v === 'NaN') return NaN;
  if (v === '+Inf' || v === 'Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v)) return null;
  return Number(v);
}
