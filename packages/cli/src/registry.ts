import { InvalidOptionsError, type Middleware } from '@shallot/core';
import type { z } from 'zod';
import { jsonOnly } from './json-only.js';

/**
 * A middleware that config files can name: `{ "use": name, ...options }`.
 *
 * @example
 * registerMiddleware({
 *   name: 'circuitOpenAlert',
 *   schema: circuitOpenAlertOptionsSchema,
 *   factory: circuitOpenAlert,
 *   package: 'shallot-middleware-circuit-open-alert',
 * });
 */
export interface MiddlewareRegistration {
  /** What a config entry's `use` says: the factory's name (`retry`, `circuitBreaker`). */
  readonly name: string;
  /**
   * The factory's options schema, the one it validates with. Fields a JSON file cannot hold
   * (functions, stores, class instances) are left out of config files and their JSON Schema.
   */
  readonly schema: z.ZodType;
  /** Makes the middleware from the options of a config entry (without `use`). */
  readonly factory: (options: any) => Middleware<any, any>;
  /** One line on what it does, shown by `shallot config schema` and the configuration reference. */
  readonly description?: string | undefined;
  /** The npm package it comes from. */
  readonly package?: string | undefined;
}

/** A registration as the registry keeps it, with the part of its schema a JSON file can hold. */
export interface RegisteredMiddleware extends MiddlewareRegistration {
  /** The options schema less what JSON cannot hold. */
  readonly jsonSchema: z.ZodType;
}

// One registry per process, shared by every installed copy of this package: a plugin that
// imports its own copy registers where the CLI looks.
interface Shared {
  readonly registry: Map<string, RegisteredMiddleware>;
  readonly listeners: Set<() => void>;
}
const key = Symbol.for('shallot.cli.registry');
const shared: Shared = ((globalThis as Record<symbol, Shared | undefined>)[key] ??= { registry: new Map(), listeners: new Set() });
const { registry, listeners } = shared;

const namePattern = /^[A-Za-z][A-Za-z0-9_-]*$/;

/**
 * Makes a middleware available to config files (`stackFromConfig`, the `shallot` CLI): its
 * options are validated by the JSON-representable part of `schema` and appear in the JSON
 * Schema of `shallot config schema`. A third-party package calls it when it is imported, and
 * lists itself in a config file's `plugins` so the CLI imports it. Returns a handle whose
 * `dispose()` removes the registration.
 *
 * @throws InvalidOptionsError when the name is taken or malformed, or no option of `schema` can come from JSON
 */
export function registerMiddleware(registration: MiddlewareRegistration): { dispose(): void } {
  const { name, schema, factory } = registration;
  if (typeof name !== 'string' || !namePattern.test(name)) {
    throw new InvalidOptionsError(`registerMiddleware.name: expected an identifier such as 'retry', got ${JSON.stringify(name)}`);
  }
  if (typeof factory !== 'function') throw new InvalidOptionsError(`registerMiddleware(${name}).factory: expected a function`);
  if (typeof schema !== 'object' || schema === null || !('_zod' in schema)) {
    throw new InvalidOptionsError(`registerMiddleware(${name}).schema: expected a zod 4 schema`);
  }
  const existing = registry.get(name);
  if (existing !== undefined) {
    throw new InvalidOptionsError(`registerMiddleware: '${name}' is already registered${existing.package === undefined ? '' : ` by ${existing.package}`}`);
  }
  const json = jsonOnly(schema);
  if (json === undefined) throw new InvalidOptionsError(`registerMiddleware(${name}).schema: no option can come from JSON (it requires a function or an object)`);
  const entry: RegisteredMiddleware = { ...registration, jsonSchema: json };
  registry.set(name, entry);
  changed();
  return {
    dispose() {
      if (registry.get(name) !== entry) return;
      registry.delete(name);
      changed();
    },
  };
}

/** Every middleware config files can name, in the order they were registered. */
export function registeredMiddlewares(): readonly RegisteredMiddleware[] {
  return [...registry.values()];
}

/** The registration of `name`, if any. */
export function registeredMiddleware(name: string): RegisteredMiddleware | undefined {
  return registry.get(name);
}

/** Calls `listener` after every change of the registry. */
export function onRegistryChange(listener: () => void): void {
  listeners.add(listener);
}

function changed(): void {
  for (const listener of listeners) listener();
}
