import type { ZodError } from 'zod';

/** A zod issue path as a reader writes it: `policies[2].rules[0].id`. */
export function issuePath(path: ReadonlyArray<string | number>): string {
  return (
    path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '') ||
    '(document)'
  );
}

/** The first problem of a failed parse, as one line: `policies[2].action: Invalid enum value ...`. */
export function firstIssue(error: ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issuePath(issue.path)}: ${issue.message}` : 'invalid document';
}
