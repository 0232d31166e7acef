import { resolve } from 'node:path';
import { ConfigFileError, type LoadedConfigFile, loadConfigFile, loadPlugins } from './config-file.js';
import { configFileJsonSchema, connectionManagerConfigJsonSchema, stackConfigJsonSchema } from './json-schema.js';
import type { Output } from './output.js';

// One line on what a valid file describes.
function summary(loaded: LoadedConfigFile): string {
  if (loaded.kind === 'connection-manager') {
    const options = loaded.config.connectionManager;
    const endpoints = Object.keys(options.endpointConfigs ?? {}).length;
    return `ConnectionManager (maxRetries ${options.maxRetries}, timeoutMs ${options.timeoutMs}, ${endpoints} endpoint config${endpoints === 1 ? '' : 's'}) → ${options.transport}`;
  }
  const { transport, middlewares } = loaded.config;
  const layers = middlewares.map((m) => m.use);
  return `${layers.length === 0 ? 'no middleware' : layers.join(' → ')} → ${typeof transport === 'string' ? transport : transport.kind}`;
}

/** `shallot config validate FILE`: every problem with its line, or a one-line summary of the stack or manager. */
export async function configValidateCommand(file: string, output: Output): Promise<number> {
  const c = output.color;
  try {
    output.out(`${c.green('valid')}: ${file}: ${summary(await loadConfigFile(file))}`);
    return 0;
  } catch (error) {
    if (!(error instanceof ConfigFileError)) throw error;
    const e = output.errColor;
    for (const issue of error.issues) output.err(`${e.bold(`${file}:${issue.line}:${issue.column}`)}: ${e.red(issue.pathText)}: ${issue.message}`);
    output.err(`${error.issues.length} problem${error.issues.length === 1 ? '' : 's'} in ${file}`);
    return 1;
  }
}

/** The kinds `shallot config schema --kind` takes. */
export const schemaKinds = ['any', 'stack', 'connection-manager'] as const;

/**
 * `shallot config schema`: the JSON Schema of config files (both kinds, or the one `--kind`
 * names), with the middlewares of `plugins` too.
 */
export async function configSchemaCommand(options: { plugin?: string[] | undefined; kind?: (typeof schemaKinds)[number] | undefined }, output: Output): Promise<number> {
  const kind = options.kind ?? 'any';
  if (options.plugin !== undefined && options.plugin.length > 0) await loadPlugins(options.plugin, resolve('shallot.config.json'));
  const schema = kind === 'stack' ? stackConfigJsonSchema() : kind === 'connection-manager' ? connectionManagerConfigJsonSchema() : configFileJsonSchema();
  output.out(JSON.stringify(schema, null, 2));
  return 0;
}
