import { promisify } from 'node:util';
import { gunzip, gzipSync } from 'node:zlib';
import { evaluatePolicies, wouldBlock, type CompiledPolicy } from '@portcullis/policy-engine';
import type { SimulationRow } from '@portcullis/inventory';
import { yieldEvery } from '@portcullis/platform';
import { ViolationTally } from './report-shape';
import { decompressSnapshot } from './snapshot-codec';

export interface SimulationTally {
  /** The in-scope snapshot-days whose snapshot the draft denies, summed for the report. */
  readonly violations: ViolationTally;
  /** Workloads with a recorded snapshot in the window (in the draft's scope or not): the ones that can be compared. */
  readonly evaluable: Set<string>;
  /** Admissions the snapshot-days stand for (in the draft's scope or not). */
  withSnapshot: number;
  /** Distinct snapshots the engine was asked about. */
  evaluated: number;
}

export const workloadKey = (cluster: string, namespace: string, kind: string, name: string) =>
  `${cluster}\u0000${namespace}\u0000${kind}\u0000${name}`;

/** A gzip member holding one NUL: between two snapshots' members it marks where one ends (raw NUL cannot occur in JSON text). */
const SEPARATOR = gzipSync(Buffer.from([0]));
const gunzipAsync = promisify(gunzip);

/**
 * Inflates many gzipped snapshots with one zlib call, on the thread pool: gzip members may
 * be concatenated, and a one-byte member between them gives the boundaries back. A zlib
 * call has a fixed cost (stream set-up, 32 KiB window, a thread-pool hop) several times
 * that of inflating a 300-byte pod spec, so one call per chunk is ~3x cheaper than one per
 * body, and the event loop keeps evaluating the previous chunk meanwhile. Any doubt (a body
 * that is not gzip, a text that is not one JSON value) falls back to one call per body,
 * which reports the culprit as before.
 */
export async function inflateSnapshots(bodies: readonly Buffer[]): Promise<unknown[]> {
  if (bodies.length === 0) return [];
  const parts: Buffer[] = [];
  for (const b of bodies) parts.push(b, SEPARATOR);
  let texts: string[] | undefined;
  try {
    texts = (await gunzipAsync(Buffer.concat(parts))).toString('utf8').split('\u0000');
  } catch {
    texts = undefined; // one of them is damaged: decode one by one below, so the error names what it is
  }
  if (texts?.length === bodies.length + 1 && texts[bodies.length] === '') {
    const out = new Array<unknown>(bodies.length);
    const checkpoint = yieldEvery();
    try {
      for (let i = 0; i < bodies.length; i++) {
        await checkpoint();
        out[i] = JSON.parse(texts[i]!) as unknown;
      }
      return out;
    } catch {
      // as above
    }
  }
  return bodies.map((b) => decompressSnapshot(b));
}

/**
 * Evaluates the cursor's rows chunk by chunk, keeping only what the report needs: each
 * distinct (snapshot, namespace, workload) is evaluated once.
 */
export class SimulationEvaluator {
  readonly tally: SimulationTally;

  constructor(
    private readonly compiled: CompiledPolicy,
    private readonly now: Date,
    readyFrom: Date,
  ) {
    this.tally = {
      violations: new ViolationTally(readyFrom.getTime()),
      evaluable: new Set(),
      withSnapshot: 0,
      evaluated: 0,
    };
  }

  /** Snapshots the engine was asked about (evaluated counts each once, whichever rows name it). */
  private readonly seen = new Set<string>();

  /**
   * Starts inflating a chunk's bodies (each snapshot once per chunk) and resolves to the
   * step that evaluates the chunk; chunks must be started and finished in cursor order.
   */
  start(rows: readonly SimulationRow[]): Promise<() => Promise<void>> {
    const bodies: Buffer[] = [];
    const index = new Map<string, number>();
    for (const r of rows) {
      if (!r[4] || r[6] === null || index.has(r[0])) continue;
      index.set(r[0], bodies.length);
      bodies.push(r[6]);
    }
    return inflateSnapshots(bodies).then(
      (objects) => () =>
        this.evaluate(rows, (hash) => {
          const i = index.get(hash);
          return i === undefined ? null : objects[i];
        }),
    );
  }

  /** Yields the event loop every CPU_SLICE_MS of evaluation: a chunk of workloads is many milliseconds of engine work. */
  private readonly checkpoint = yieldEvery();

  private async evaluate(rows: readonly SimulationRow[], objectOf: (hash: string) => unknown): Promise<void> {
    const t = this.tally;
    for (const [hash, namespace, kind, name, inScope, entries] of rows) {
      await this.checkpoint();
      let rules: readonly string[] = [];
      if (inScope) {
        if (!this.seen.has(hash)) {
          this.seen.add(hash);
          t.evaluated++;
        }
        const object = objectOf(hash);
        rules = object === null || object === undefined ? [] : this.verdict(object, namespace, kind, name);
      }
      // the entries of a row are nearly always one cluster's: its workload key is built once
      let cluster = '';
      let key = '';
      for (const entry of entries.split(',')) {
        const [c, day, admissionsText, lastAt, entryInScope] = entry.split(' ') as [
          string,
          string,
          string,
          string,
          string,
        ];
        const admissions = Number(admissionsText);
        t.withSnapshot += admissions;
        if (c !== cluster) {
          cluster = c;
          key = workloadKey(cluster, namespace, kind, name);
          t.evaluable.add(key);
        }
        if (rules.length === 0 || entryInScope !== '1') continue;
        t.violations.add(key, cluster, namespace, kind, name, Number(day), admissions, Number(lastAt), rules);
      }
    }
  }

  private verdict(object: unknown, namespace: string, kind: string, name: string): readonly string[] {
    const result = evaluatePolicies(object, [this.compiled], {
      defaultNamespace: namespace,
      now: this.now,
      owner: { kind, name },
    });
    if (result.violations.length === 0) return [];
    return [...new Set(result.violations.filter(wouldBlock).map((v) => v.rule))];
  }
}
