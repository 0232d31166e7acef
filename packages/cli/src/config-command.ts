import { resolve } from 'node:path';
import { ConfigFileError, loadConfigFile, loadPlugins } from './config-file.js';
import { stackConfigJsonSchema } from './json-schema.js';
import type { Output } from './output.js';

/** `shallot config validate FILE`: every problem with its line, or a one-line summary of the stack. */
export async function configValidateCommand(file: string, output: Output): Promise<number> {
  const c = output.color;
  try {
    const config = await loadConfigFile(file);
    const transport = typeof config.transport === 'string' ? config.transport : config.transport.kind;
    const layers = config.middlewares.map((m) => m.use);
    output.out(`${c.green('valid')}: ${file}: ${layers.length === 0 ? 'no middleware' : layers.join(' → ')} → ${transport}`);
    return 0;
  } catch (error) {
    if (!(error instanceof ConfigFileError)) throw error;
    const e = output.errColor;
    for (const issue of error.issues) output.err(`${e.bold(`${file}:${issue.line}:${issue.column}`)}: ${e.red(issue.pathText)}: ${issue.message}`);
    output.err(`${error.issues.length} problem${error.issues.length === 1 ? '' : 's'} in ${file}`);
    return 1;
  }
}

/** `shallot config schema`: the JSON Schema of config files, with the middlewares of `plugins` too. */
export async function configSchemaCommand(options: { plugin?: string[] | undefined }, output: Output): Promise<number> {
  if (options.plugin !== undefined && options.plugin.length > 0) await loadPlugins(options.plugin, resolve('shallot.config.json'));
  output.out(JSON.stringify(stackConfigJsonSchema(), null, 2));
  return 0;
}
