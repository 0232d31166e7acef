import { z } from 'zod';
import { stackConfigSchema } from './config-schema.js';

/**
 * The JSON Schema (draft 2020-12) of a stack config file, made by zod's own converter from
 * {@link stackConfigSchema}: every registered middleware's options, as a file writes them
 * (defaults are shown, fields with defaults are optional). Point a file's `$schema` at it for
 * completion and checking in editors.
 */
export function stackConfigJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(stackConfigSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
  return { ...schema, title: 'shallot stack config' };
}
