import { z } from 'zod';
import { stackConfigSchema } from './config-schema.js';

/**
 * The JSON Schema (draft 2020-12) of a stack config file, made by zod's own converter from
 * {@link stackConfigSchema}: every registered middleware's options, as a file writes them
 * (defaults are shown, fields with defaults are optional). Point a file's `$schema` at it for
 * completion and checking in editors.
 */
export function stackConfigJsonSchema(): Record<string, unknown> {
  return { ...configJsonSchema(stackConfigSchema), title: 'shallot stack config' };
}

type Def = { type: string; in?: z.ZodType; out?: z.ZodType };
const defOf = (schema: unknown): Def => (schema as { _zod: { def: Def } })._zod.def;

/**
 * The JSON Schema (draft 2020-12) of what a config file may write for `schema`, as zod 4's
 * `z.toJSONSchema` makes it for the input side, except that a field normalised by a preprocess
 * step (`z.preprocess(fn, schema)`) is described by the schema after the step.
 */
export function configJsonSchema(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, {
    io: 'input',
    target: 'draft-2020-12',
    unrepresentable: 'any',
    override(ctx) {
      const def = defOf(ctx.zodSchema);
      if (def.type !== 'pipe' || def.in === undefined || def.out === undefined || defOf(def.in).type !== 'transform') return;
      const { $schema: _drop, ...out } = configJsonSchema(def.out);
      for (const key of Object.keys(ctx.jsonSchema)) delete (ctx.jsonSchema as Record<string, unknown>)[key];
      Object.assign(ctx.jsonSchema, out);
    },
  }) as Record<string, unknown>;
}
