// `npm run bench -- <scenario>` (node dist/bench/main.js <scenario>): runs one scenario
// and prints its result as ONE JSON object on the last line of stdout.

/** What every scenario module exports. */
export interface BenchScenario {
  run(args: readonly string[]): Promise<Record<string, unknown>> | Record<string, unknown>;
}

/** Scenario name -> its module, loaded only when chosen. Add a scenario with one line. */
export const SCENARIOS: Readonly<Record<string, () => BenchScenario>> = {
  alerts: () => require('./alerts') as BenchScenario,
  background: () => require('./background') as BenchScenario,
  engine: () => require('./engine') as BenchScenario,
  fanout: () => require('./fanout') as BenchScenario,
  ingest: () => require('./ingest') as BenchScenario,
  isolation: () => require('./isolation') as BenchScenario,
  propagation: () => require('./propagation') as BenchScenario,
  report: () => require('./report') as BenchScenario,
  vap: () => require('./vap') as BenchScenario,
  webhook: () => require('./webhook') as BenchScenario,
};

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  const known = Object.keys(SCENARIOS).sort().join(', ');
  const load = name ? SCENARIOS[name] : undefined;
  if (!load) {
    process.stderr.write(
      `${name ? `unknown scenario "${name}"` : 'no scenario given'}; known scenarios: ${known}\nusage: npm run bench -- <scenario>\n`,
    );
    return 2;
  }
  const result = await load().run(rest);
  process.stdout.write(`${JSON.stringify({ scenario: name, ...result })}\n`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
