import { z } from 'zod';
import { validateWith, type Validated } from './result';

/** POST /agent/v1/status: what an agent runs and enforces. */
export const AgentStatusSchema = z
  .object({
    agentVersion: z.string().min(1).max(64),
    appliedRevision: z.number().int().positive().nullable(),
    lastError: z.string().max(2000).nullable().optional(),
    spoolDepth: z.number().int().min(0).default(0),
    droppedEvents: z.number().int().min(0).default(0),
    reportedAt: z.string().datetime({ offset: true }).optional(),
  })
  .strict();

export type AgentStatus = z.infer<typeof AgentStatusSchema>;

export const validateAgentStatus = (value: unknown): Validated<AgentStatus> => validateWith(AgentStatusSchema, value);
