/**
 * V8 flags the API process runs with (the launcher passes them; `npm run bench` runs with
 * them too, since the benches embed the API). Ingest allocates a few MB per batch of 500
 * events (parsed body, rows, JSON parameters), nearly all short-lived: with V8's default
 * 16 MB semi-spaces scavenges ran constantly; 32 MB cut the ingest bench's CPU per event by
 * ~15 % (eventsPerProcessCpuSecond 15,548 -> 18,559, same code) for ~50 MB more young generation.
 * Still so on Node 26 (2026-12-06, four alternating pairs of the ingest bench on a shared VM):
 * 27,084-36,226 events per API CPU-second with the flag (mean 32,016) against 27,385-30,448
 * without (mean 29,023), the flag ahead in three pairs of four.
 */
export const API_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32'];
