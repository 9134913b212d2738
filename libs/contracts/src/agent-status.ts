import { z } from 'zod';
import { INT4_MAX, count, plainText, revision, text, timestamp } from './primitives';
import { validateWith, type Validated } from './result';

/** Counters are stored as 32-bit integers (and shown as GraphQL Int); a bigger value is refused, not wrapped. */
const INT32_MAX = INT4_MAX;

/** POST /agent/v1/status: what an agent runs and enforces, and how its event pipeline is doing. */
export const AgentStatusSchema = z.object({
  agentVersion: text(64),
  /** The bundle revision being enforced; null before the first bundle was accepted. */
  appliedRevision: revision.nullable(),
  /** The last bundle or upload failure (e.g. a rejection reason), null or absent when healthy. */
  lastError: plainText(2000).nullable().optional(),
  /** Events waiting in the local spool. */
  spoolDepth: count.max(INT32_MAX),
  /** Events dropped since the agent started because the spool was full: they are missing from the inventory. */
  droppedEvents: count.max(INT32_MAX),
  /** The agent's clock when it sent this: lets operators see skew that would make bundles look expired. */
  reportedAt: timestamp,
});

export type AgentStatus = z.infer<typeof AgentStatusSchema>;

export const validateAgentStatus = (value: unknown): Validated<AgentStatus> => validateWith(AgentStatusSchema, value);
