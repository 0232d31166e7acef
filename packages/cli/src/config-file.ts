import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import jsonc from 'jsonc-parser';
import type { ConfigIssue } from './config-issues.js';
import { type ClientConfig, type ParsedClientConfig, parseClientConfig } from './client-from-config.js';
import { isConnectionManagerConfig } from './connection-manager-config.js';
import { type MiddlewareRegistration, registeredMiddleware, registerMiddleware } from './registry.js';
import { StackConfigError } from './stack-from-config.js';

/** A problem of a config file, with where it is in the file (1-based line and column). */
export interface FileIssue extends ConfigIssue {
  readonly line: number;
  readonly column: number;
}

/** A config file that could not be used; `issues` are in file order. */
export class ConfigFileError extends Error {
  readonly code = 'ERR_INVALID_CONFIG_FILE';
  readonly file: string;
  readonly issues: readonly FileIssue[];

  constructor(file: string, issues: readonly FileIssue[], cause?: unknown) {
    const first = issues[0];
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    super(first === undefined ? `${file}: invalid` : `${file}:${first.line}:${first.column}: ${first.pathText}: ${first.message}${more}`, { cause });
    this.name = 'ConfigFileError';
    this.file = file;
    this.issues = issues;
  }
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

function position(starts: readonly number[], offset: number): { line: number; column: number } {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((starts[mid] as number) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: offset - (starts[lo] as number) + 1 };
}

// Where a path is written: the property (key and value) when it exists, else the nearest parent.
function offsetOf(tree: jsonc.Node | undefined, path: readonly (string | number)[]): number {
  if (tree === undefined) return 0;
  for (let n = path.length; n >= 0; n--) {
    const node = jsonc.findNodeAtLocation(tree, path.slice(0, n) as jsonc.JSONPath);
    if (node === undefined) continue;
    return node.parent?.type === 'property' ? node.parent.offset : node.offset;
  }
  return tree.offset;
}

/** Reads a config file: JSON, with comments and trailing commas allowed (as tsconfig.json). */
export async function readConfigFile(file: string): Promise<{ text: string; value: unknown; tree: jsonc.Node | undefined }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : String((error as Error).message);
    throw new ConfigFileError(file, [{ path: [], pathText: '(file)', message: why, line: 1, column: 1 }], error);
  }
  const errors: jsonc.ParseError[] = [];
  const options = { allowTrailingComma: true, disallowComments: false };
  const tree = jsonc.parseTree(text, errors, options);
  if (errors.length > 0) {
    const starts = lineStarts(text);
    throw new ConfigFileError(
      file,
      errors.map((e) => ({ path: [], pathText: '(syntax)', message: `not valid JSON: ${jsonc.printParseErrorCode(e.error)}`, ...position(starts, e.offset) })),
    );
  }
  return { text, value: tree === undefined ? undefined : jsonc.getNodeValue(tree), tree };
}

function isRegistration(value: unknown): value is MiddlewareRegistration {
  return typeof value === 'object' && value !== null && typeof (value as MiddlewareRegistration).name === 'string' && typeof (value as MiddlewareRegistration).factory === 'function';
}

/**
 * Imports the modules a config's `plugins` lists (relative to the file, or packages installed
 * beside it). A plugin registers its middlewares when imported, or exports them as
 * `shallotMiddlewares` (a list) or `shallotMiddleware` for the CLI to register.
 */
export async function loadPlugins(plugins: readonly string[], file: string): Promise<void> {
  const require = createRequire(resolve(file));
  for (const spec of plugins) {
    let url: string;
    try {
      url = spec.startsWith('.') || spec.startsWith('/') ? pathToFileURL(resolve(dirname(file), spec)).href : pathToFileURL(require.resolve(spec)).href;
    } catch {
      throw new Error(`${file}: plugin "${spec}" is not installed (npm install ${spec})`);
    }
    const mod = (await import(url)) as Record<string, unknown>;
    const exported = [mod.shallotMiddlewares, mod.shallotMiddleware].flat().filter(isRegistration);
    for (const registration of exported) {
      if (registeredMiddleware(registration.name)?.factory !== registration.factory) registerMiddleware(registration);
    }
  }
}

/** A config file as read and validated: its kind, the config with defaults filled in, and as written. */
export type LoadedConfigFile = ParsedClientConfig & { input: ClientConfig };

/**
 * Reads and validates a config file of either kind: a ConnectionManager config (a
 * `connectionManager` key) or a stack config, whose `plugins` are imported first. Every problem
 * is reported with its line and column.
 *
 * @throws ConfigFileError
 */
export async function loadConfigFile(file: string): Promise<LoadedConfigFile> {
  const { text, value, tree } = await readConfigFile(file);
  const plugins = isConnectionManagerConfig(value) ? undefined : (value as { plugins?: unknown } | undefined)?.plugins;
  if (Array.isArray(plugins) && plugins.every((p) => typeof p === 'string')) await loadPlugins(plugins, file);
  try {
    return { ...parseClientConfig(value), input: value as ClientConfig };
  } catch (error) {
    if (!(error instanceof StackConfigError)) throw error;
    const starts = lineStarts(text);
    const issues = error.issues.map((issue) => ({ ...issue, ...position(starts, offsetOf(tree, issue.path)) }));
    issues.sort((a, b) => a.line - b.line || a.column - b.column);
    throw new ConfigFileError(file, issues, error);
  }
}
