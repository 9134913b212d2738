/**
 * V8 flags of the processes Portcullis starts. Both the API and the agent allocate a few
 * short-lived objects per request (parsed bodies, events, snapshots, rows) that die young:
 * with V8's default semi-spaces the young generation is scavenged so often that garbage
 * collection takes a visible share of the CPU, and 32 MB semi-spaces cost tens of MB of
 * memory for fewer scavenges. Measurements: bench/README.md.
 */

/**
 * The API's: the launcher passes them, and `npm run bench` runs with them too, since the
 * benches embed the API (a test keeps package.json's "bench" script in step).
 */
export const API_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32'];

/**
 * The agent's: the image's entrypoint passes them (apps/agent/Dockerfile, a test keeps the
 * two in step), and so do the tests and the webhook bench that start the agent as its own
 * process. The old generation is capped well inside the chart's 256 MiB memory limit: the
 * background audit's lists of a 10,000-pod cluster leave garbage that V8, unbounded, collected
 * only after the process passed 256 MiB (`npm run bench -- background`: 276 MB peak without
 * the cap).
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32', '--max-old-space-size=160'];
