/**
 * Control characters in untrusted text: C0 (U+0000-U+001F) but tab, line feed and carriage
 * return, DEL, and C1 (U+0080-U+009F). PostgreSQL cannot store U+0000 at all; the others
 * hide or rewrite what a reader sees in logs, exports and terminals. One definition, used
 * by every input layer (GraphQL arguments, REST bodies, policy files, scan reports).
 */
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;
const CONTROL_ALL = new RegExp(CONTROL.source, 'g'); // eslint-disable-line no-restricted-syntax -- built from the literal above, not from text

const codePoint = (s: string, at: number) => `U+${s.charCodeAt(at).toString(16).toUpperCase().padStart(4, '0')}`;

/** `contains the control character U+0007 at index 3`, or undefined when the text is clean. */
export function controlCharacterProblem(s: string): string | undefined {
  const m = CONTROL.exec(s);
  return m
    ? `contains the control character ${codePoint(s, m.index)} at index ${m.index}${m[0] === '\u0000' ? ' (NUL cannot be stored)' : ''}`
    : undefined;
}

export interface ControlCharacterFinding {
  /** Dotted path from the root, e.g. `input.rules[2].params.maxCpuLimit` (`<key>` for a key). */
  readonly path: string;
  readonly problem: string;
}

/**
 * The first string (value or object key) of a JSON-like value holding a control
 * character. Iterative, so a deeply nested value cannot overflow the stack; it visits at
 * most `maxNodes` values and reports the value as too large beyond that.
 */
export function findControlCharacter(
  value: unknown,
  root: string,
  maxNodes = 1_000_000,
): ControlCharacterFinding | undefined {
  const stack: Array<[unknown, string]> = [[value, root]];
  let visited = 0;
  while (stack.length > 0) {
    const [v, path] = stack.pop()!;
    if (++visited > maxNodes) return { path: root, problem: `holds more than ${maxNodes} values` };
    if (typeof v === 'string') {
      const problem = controlCharacterProblem(v);
      if (problem) return { path, problem };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}[${i}]`]);
    } else if (typeof v === 'object' && v !== null && !ArrayBuffer.isView(v) && !(v instanceof Date)) {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i]!;
        const problem = controlCharacterProblem(k);
        if (problem) return { path: path ? `${path}.<key>` : '<key>', problem: `has a key that ${problem}` };
        stack.push([(v as Record<string, unknown>)[k], path ? `${path}.${k}` : k]);
      }
    }
  }
  return undefined;
}

/** The text with each control character replaced by a space: for senders of free text (an agent's last error). */
export const withoutControlCharacters = (s: string): string => s.replace(CONTROL_ALL, ' ');
