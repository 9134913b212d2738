/**
 * V8 flags the agent runs with: the image's entrypoint passes them (apps/agent/Dockerfile,
 * checked by a test), and so do the tests and the webhook bench that start the agent as its
 * own process. Each review allocates its parsed body, the event and its snapshot (tens of KB,
 * nearly all dead by the answer); with V8's default semi-spaces the young generation was
 * scavenged so often that garbage collection took ~11 % of the webhook's busy time. 32 MB
 * semi-spaces: measured 2,704 -> 3,840 reviews/s and 373 -> 272 µs of CPU per review in one
 * back-to-back pair (2026-11-23, other work paused), with the peak RSS under load at ~83 MB
 * (the chart's limit is 256 Mi). The figures swing by ±20 % between runs on the 2-core VM.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32'];
