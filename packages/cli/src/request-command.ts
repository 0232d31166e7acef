import { readFile } from 'node:fs/promises';
import type { RequestOptions } from '@shallot/core';
import { redactHeaders, redactUrl } from '@shallot/tracing';
import { type ClientConfig, clientFromConfig, type ConfiguredClient } from './client-from-config.js';
import type { StackConfig } from './config-schema.js';
import { loadConfigFile } from './config-file.js';
import { isConnectionManagerConfig } from './connection-manager-config.js';
import { describeLayers } from './layer-summary.js';
import { layerTrace, type RequestTrace } from './layer-trace.js';
import type { Output } from './output.js';
import { UsageError } from './usage-error.js';

/** The stack used when no `--config` is given: a 30 s bound on the call, and retries of idempotent requests. */
export const defaultStack: StackConfig = {
  middlewares: [
    { use: 'timeout', totalMs: 30_000 },
    { use: 'retry', maxAttempts: 3 },
  ],
};

/** Options of `shallot get|post|put|patch|delete`. */
export interface RequestCommandOptions {
  config?: string | undefined;
  header?: string[] | undefined;
  json?: string | undefined;
  data?: string | undefined;
  verbose?: boolean | undefined;
}

/** `-H 'Name: value'` into a pair; anything else is a usage error. */
export function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(':');
  const name = colon === -1 ? '' : text.slice(0, colon).trim();
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new UsageError(`-H: expected 'Name: value', got ${JSON.stringify(text)}`);
  return [name, text.slice(colon + 1).trim()];
}

async function textOrFile(value: string, flag: string): Promise<string> {
  if (!value.startsWith('@')) return value;
  try {
    return await readFile(value.slice(1), 'utf8');
  } catch (error) {
    throw new UsageError(`${flag}: cannot read ${value.slice(1)}: ${(error as Error).message}`);
  }
}

/** The config a command runs: the file's (a stack or a ConnectionManager), or {@link defaultStack}. */
export async function configOf(file: string | undefined): Promise<ClientConfig> {
  return file === undefined ? defaultStack : (await loadConfigFile(file)).input;
}

/** The URL to send to: absolute, unless the config has a `baseUrl`. */
export function parseUrl(url: string, config: ClientConfig): string {
  const baseUrl = isConnectionManagerConfig(config) ? config.connectionManager.baseUrl : config.baseUrl;
  if (baseUrl !== undefined) return url;
  try {
    return new URL(url).href;
  } catch {
    throw new UsageError(`expected an absolute URL (or a path with baseUrl in the config), got ${JSON.stringify(url)}`);
  }
}

type Layers = { name: string; options?: unknown }[];
const names = (layers: Layers): string => layers.map((l) => l.name).join(' → ');

// The onion, without the CLI's own trace; a manager's per-endpoint stacks each on a line.
function printStack(output: Output, configured: ConfiguredClient): void {
  const c = output.errColor;
  const layers = configured.client.describe().filter((l) => l.name !== 'layerTrace');
  if (configured.kind === 'stack') {
    output.err(`${c.dim('*')} stack: ${names(layers)}`);
    return;
  }
  output.err(`${c.dim('*')} connection manager: ${names(layers)}`);
  const stacks = (layers.find((l) => l.name === 'endpoints')?.options as { stacks?: Record<string, Layers> } | undefined)?.stacks ?? {};
  for (const [endpoint, inner] of Object.entries(stacks)) output.err(`${c.dim('*')}   endpoints[${endpoint}]: ${names(inner)}`);
}

function printTrace(output: Output, trace: RequestTrace): void {
  const c = output.errColor;
  for (const a of trace.attempts) {
    const outcome = a.error === undefined ? statusColour(c, a.status ?? 0) : c.red(a.error);
    output.err(`${c.dim('*')} attempt ${a.attempt}${a.forked ? ' (hedge copy)' : ''} at +${Math.round(a.startMs)} ms: ${outcome} in ${Math.round(a.durationMs)} ms`);
  }
  for (const line of describeLayers(trace.layers, c)) output.err(`${c.dim('*')} ${line}`);
}

function statusColour(c: Output['errColor'], status: number): string {
  const text = String(status);
  return status >= 500 ? c.red(text) : status >= 400 ? c.yellow(text) : c.green(text);
}

/** Sends one request through the configured stack and writes the body to stdout. */
export async function requestCommand(method: string, url: string, options: RequestCommandOptions, output: Output): Promise<number> {
  const config = await configOf(options.config);
  const target = parseUrl(url, config);
  const headers = (options.header ?? []).map(parseHeader);
  if (options.json !== undefined && options.data !== undefined) throw new UsageError('give --json or --data, not both');
  const init: RequestOptions = { headers };
  if (options.json !== undefined) {
    const text = await textOrFile(options.json, '--json');
    try {
      init.json = JSON.parse(text);
    } catch (error) {
      throw new UsageError(`--json: not valid JSON (${(error as Error).message})`);
    }
  } else if (options.data !== undefined) {
    init.body = await textOrFile(options.data, '--data');
  }

  // Outermost in a stack; in a manager, among its own middlewares (inside its hooks, outside its endpoint stacks).
  const trace = layerTrace();
  const configured = clientFromConfig(config, { outer: [trace] });
  const { client } = configured;
  const c = output.errColor;
  try {
    if (options.verbose === true) printStack(output, configured);
    const { response, context } = await client.exchange(method, target, init);
    if (options.verbose === true) {
      output.err(`${c.cyan('>')} ${context.request.method} ${redactUrl(context.request.url)}`);
      for (const [name, value] of Object.entries(redactHeaders(context.request.headers))) output.err(`${c.cyan('>')} ${name}: ${String(value)}`);
      const last = trace.traces.at(-1);
      if (last !== undefined) printTrace(output, last);
      output.err(`${c.cyan('<')} ${statusColour(c, response.status)} ${response.statusText} ${c.dim(`(${Math.round(last?.totalMs ?? 0)} ms)`)}`);
      for (const [name, value] of Object.entries(redactHeaders(response.headers))) output.err(`${c.cyan('<')} ${name}: ${String(value)}`);
    }
    const body = new Uint8Array(await response.arrayBuffer());
    output.io.stdout.write(body);
    if (output.io.stdout.isTTY === true && body.length > 0 && body[body.length - 1] !== 10) output.io.stdout.write('\n');
    return 0;
  } finally {
    await configured.close();
  }
}
