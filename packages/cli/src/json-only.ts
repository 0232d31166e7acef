import { z } from 'zod';

type Schema = z.ZodType;
type Def = Record<string, unknown> & { type: string };

const defOf = (schema: Schema): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

// A copy of the schema with part of its definition replaced. The definition's own property
// descriptors are copied, so a default given as a getter (zod clones it per parse) stays one.
function rebuild(schema: Schema, def: Def, patch: Record<string, unknown>): Schema {
  const copy = Object.defineProperties({}, Object.getOwnPropertyDescriptors(def)) as Def;
  for (const [key, value] of Object.entries(patch)) Object.defineProperty(copy, key, { value, enumerable: true, configurable: true, writable: true });
  const rebuilt = (schema as unknown as { clone(def: Def): Schema }).clone(copy);
  // Its description (and other metadata) is kept, so the JSON Schema still documents the field.
  // An `id` names one schema only, so the copy goes without it.
  const { id: _id, ...meta } = z.globalRegistry.get(schema) ?? {};
  if (Object.keys(meta).length > 0) z.globalRegistry.add(rebuilt, meta);
  return rebuilt;
}

// Wrappers whose inner type is `innerType`; they are kept around whatever is left of it.
const wrappers = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional']);

/**
 * The part of a zod schema that a JSON file can hold: functions, class instances and stores
 * (`z.custom`, `z.instanceof`) cannot come from JSON, so an object field of such a type is
 * removed, and a union keeps only its JSON-representable members (`key: 'host' | (ctx) => string`
 * becomes `key: 'host'`). An object that requires a field JSON cannot hold is removed whole.
 * Everything else (defaults, refinements, strictness) is kept as it was.
 *
 * Returns `undefined` when nothing of the schema can come from JSON.
 */
export function jsonOnly(schema: Schema): Schema | undefined {
  const def = defOf(schema);
  switch (def.type) {
    case 'custom':
    case 'function':
    case 'promise':
    case 'symbol':
    case 'undefined':
    case 'void':
    case 'date':
    case 'bigint':
    case 'map':
    case 'set':
    case 'nan':
    case 'file':
      return undefined;
    case 'object': {
      const shape = def.shape as Record<string, Schema>;
      const kept: Record<string, Schema> = {};
      let changed = false;
      for (const [key, field] of Object.entries(shape)) {
        const json = jsonOnly(field);
        if (json === undefined) {
          // A required field that JSON cannot hold: the object cannot come from JSON at all.
          if (!isOptional(field)) return undefined;
          changed = true;
          continue;
        }
        if (json !== field) changed = true;
        kept[key] = json;
      }
      return changed ? rebuild(schema, def, { shape: kept }) : schema;
    }
    case 'union': {
      const options = def.options as Schema[];
      const kept = options.map(jsonOnly).filter((o): o is Schema => o !== undefined);
      if (kept.length === 0) return undefined;
      if (kept.length === options.length && kept.every((o, i) => o === options[i])) return schema;
      if (kept.length === 1 && def.discriminator === undefined) return kept[0];
      return rebuild(schema, def, { options: kept });
    }
    case 'array': {
      const element = jsonOnly(def.element as Schema);
      if (element === undefined) return undefined;
      return element === def.element ? schema : rebuild(schema, def, { element });
    }
    case 'record': {
      const valueType = jsonOnly(def.valueType as Schema);
      if (valueType === undefined) return undefined;
      return valueType === def.valueType ? schema : rebuild(schema, def, { valueType });
    }
    case 'tuple': {
      const items = def.items as Schema[];
      const kept = items.map(jsonOnly);
      if (kept.some((i) => i === undefined)) return undefined;
      return kept.every((i, n) => i === items[n]) ? schema : rebuild(schema, def, { items: kept });
    }
    case 'pipe': {
      // A preprocess (a transform, then a schema): the schema after it decides what JSON may hold.
      if (defOf(def.in as Schema).type === 'transform') {
        const output = jsonOnly(def.out as Schema);
        if (output === undefined) return undefined;
        return output === def.out ? schema : rebuild(schema, def, { out: output });
      }
      // A transform after a JSON input (`methods` upper-cased): the input side decides.
      const input = jsonOnly(def.in as Schema);
      if (input === undefined) return undefined;
      return input === def.in ? schema : rebuild(schema, def, { in: input });
    }
    case 'lazy':
      return schema;
    default: {
      if (wrappers.has(def.type)) {
        const inner = jsonOnly(def.innerType as Schema);
        if (inner === undefined) return undefined;
        return inner === def.innerType ? schema : rebuild(schema, def, { innerType: inner });
      }
      return schema;
    }
  }
}

// A field a JSON file may leave out: optional, or with a default.
function isOptional(schema: Schema): boolean {
  const optin = (schema as unknown as { _zod: { optin?: string } })._zod.optin;
  return optin !== undefined || defOf(schema).type === 'default' || defOf(schema).type === 'prefault';
}

/**
 * An object schema with `fields` added before its own, keeping its strictness and refinements
 * (`{ use: 'retry', ...retry's options }`). Returns `undefined` when `schema` is not an object.
 */
export function withLeadingFields(schema: Schema, fields: Record<string, Schema>): Schema | undefined {
  const shape = objectShape(schema);
  return shape === undefined ? undefined : withShape(schema, { ...fields, ...shape });
}

/**
 * An object schema with its fields replaced by `shape`, keeping its strictness, refinements and
 * metadata. Returns `undefined` when `schema` is not an object.
 */
export function withShape(schema: Schema, shape: Record<string, Schema>): Schema | undefined {
  const def = defOf(schema);
  if (def.type !== 'object') return undefined;
  return rebuild(schema, def, { shape });
}

/** The fields of an object schema (through optional and default wrappers), or `undefined`. */
export function objectShape(schema: Schema): Record<string, Schema> | undefined {
  let def = defOf(schema);
  while (wrappers.has(def.type)) def = defOf(def.innerType as Schema);
  return def.type === 'object' ? (def.shape as Record<string, Schema>) : undefined;
}
