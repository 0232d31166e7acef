import { z } from 'zod';
import { stackConfigSchema } from './config-schema.js';
import { connectionManagerConfigSchema } from './connection-manager-config.js';

/**
 * The JSON Schema (draft 2020-12) of a stack config file, made by zod's own converter from
 * {@link stackConfigSchema}: every registered middleware's options, as a file writes them
 * (defaults are shown, fields with defaults are optional). Point a file's `$schema` at it for
 * completion and checking in editors.
 */
export function stackConfigJsonSchema(): Record<string, unknown> {
  return { ...configJsonSchema(stackConfigSchema), title: 'shallot stack config' };
}

/**
 * The JSON Schema (draft 2020-12) of a ConnectionManager config file
 * (`{ "connectionManager": { ...options } }`), made by zod's own converter from
 * {@link connectionManagerConfigSchema}: every option of the manager that JSON can hold, with
 * its description and default.
 */
export function connectionManagerConfigJsonSchema(): Record<string, unknown> {
  return { ...configJsonSchema(connectionManagerConfigSchema), title: 'shallot ConnectionManager config' };
}

/**
 * The JSON Schema (draft 2020-12) of every config file the `shallot` CLI reads: a stack config
 * ({@link stackConfigJsonSchema}) or a ConnectionManager config
 * ({@link connectionManagerConfigJsonSchema}). `properties` lists the keys of both, so editors
 * complete either kind; `anyOf` keeps them apart: a file with `connectionManager` holds nothing
 * else but `$schema`. The manager's options are one definition, `$defs.connectionManagerOptions`.
 */
export function configFileJsonSchema(): Record<string, unknown> {
  const { $schema, $defs: stackDefs, properties: stackProperties, ...stack } = configJsonSchema(stackConfigSchema) as Record<string, unknown> & { properties: Record<string, unknown> };
  const { $defs: managerDefs, properties: managerProperties } = configJsonSchema(connectionManagerConfigSchema) as { $defs?: object; properties: Record<string, unknown> };
  const ref = { $ref: '#/$defs/connectionManagerOptions' };
  return {
    $schema,
    title: 'shallot config',
    description: 'A stack ({ "transport", "middlewares": [{ "use": name, ...options }] }) or a ConnectionManager ({ "connectionManager": { ...options } }).',
    ...stack,
    properties: { ...stackProperties, connectionManager: ref },
    anyOf: [
      { title: 'stack config', not: { required: ['connectionManager'] } },
      { title: 'ConnectionManager config', type: 'object', properties: { $schema: managerProperties.$schema, connectionManager: ref }, required: ['connectionManager'], additionalProperties: false },
    ],
    $defs: { ...(stackDefs as object | undefined), ...managerDefs, connectionManagerOptions: managerProperties.connectionManager },
  };
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
