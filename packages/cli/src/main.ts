import { createRequire } from 'node:module';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import ms from 'ms';
import { configSchemaCommand, configValidateCommand, schemaKinds } from './config-command.js';
import { ConfigFileError } from './config-file.js';
import { demoCommand } from './demo.js';
import { loadCommand } from './load-command.js';
import { createOutput, type Io, processIo } from './output.js';
import { requestCommand } from './request-command.js';
import { UsageError } from './usage-error.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number >= 1.');
  return n;
}

/** `30s`, `2m`, `500ms`; a bare number is milliseconds. */
export function parseDuration(value: string): number {
  const n = /^\d+(\.\d+)?$/.test(value) ? Number(value) : ms(value as ms.StringValue);
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a duration such as 30s, 2m or 500ms.');
  return n;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** The one line printed for an error: its message, never a stack trace. */
function oneLine(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const prefix = typeof code === 'string' && code.startsWith('ERR_') && !(error instanceof UsageError) && !(error instanceof ConfigFileError) ? `${code}: ` : '';
    return `${prefix}${error.message}`.replace(/\s*\n\s*/g, ' ');
  }
  return String(error);
}

/**
 * Runs the `shallot` command line with `argv` (as `process.argv`: node, script, then the
 * arguments) and returns the exit code: 0 on success, 1 on a failure, 2 on bad usage.
 */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const output = createOutput(io);
  let exitCode = 0;
  const program = new Command();
  program
    .name('shallot')
    .description('A layered HTTP client for Node.js: see each layer work, send requests and load runs through a configured stack.')
    .version(version, '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void io.stdout.write(text),
      writeErr: (text) => void io.stderr.write(text),
      // One line: commander's message and where to look.
      outputError: (text, write) => write(`${output.errColor.red(text.trimEnd())} (see shallot --help)\n`),
    });

  program
    .command('demo')
    .description('start a flaky upstream on loopback and show, request by request, what every layer of a full stack does (offline, a few seconds)')
    .action(async () => {
      exitCode = await demoCommand(output);
    });

  for (const method of ['get', 'head', 'post', 'put', 'patch', 'delete']) {
    program
      .command(`${method} <url>`)
      .description(`send one ${method.toUpperCase()} through the stack of --config (default: a 30 s timeout and retries) and print the body`)
      .option('--config <file>', 'a stack or ConnectionManager config file (JSON; see `shallot config schema`)')
      .option('-H, --header <header>', "a request header, 'Name: value' (repeatable)", collect)
      .option('--json <body>', 'a JSON body (or @file), sent with content-type: application/json')
      .option('-d, --data <body>', 'a raw body (or @file)')
      .option('-v, --verbose', 'print the request, every attempt, what each layer did and the response headers to stderr (secrets redacted)')
      .action(async (url: string, options: { config?: string; header?: string[]; json?: string; data?: string; verbose?: boolean }) => {
        exitCode = await requestCommand(method.toUpperCase(), url, options, output);
      });
  }

  program
    .command('load <url>')
    .description('a bounded load run through the stack of --config: live progress, then a latency histogram, percentiles, statuses and what the layers did')
    .option('-n, --requests <count>', 'requests to send (default 1000, or unbounded with --duration)', positiveInteger)
    .option('-c, --concurrency <count>', "requests in flight at once (the transport's maxSockets too, unless the config sets it)", positiveInteger, 10)
    .option('--duration <time>', 'stop after this long: 30s, 2m, 500ms', parseDuration)
    .option('-X, --method <method>', 'the method', 'GET')
    .option('-H, --header <header>', "a request header, 'Name: value' (repeatable)", collect)
    .option('--config <file>', 'a stack or ConnectionManager config file (JSON; see `shallot config schema`)')
    .option('--json', 'print the summary as JSON instead of tables')
    .option('--html <file>', 'also write a self-contained HTML report (histogram and throughput over time)')
    .action(async (url: string, options: { requests?: number; concurrency: number; duration?: number; method: string; header?: string[]; config?: string; json?: boolean; html?: string }) => {
      exitCode = await loadCommand(url, { ...options, durationMs: options.duration }, output);
    });

  const config = program.command('config').description('check config files (a stack, or a ConnectionManager), and print their JSON Schema');
  config
    .command('validate <file>')
    .description('validate a stack or ConnectionManager config file: every problem with its line, column and path')
    .action(async (file: string) => {
      exitCode = await configValidateCommand(file, output);
    });
  config
    .command('schema')
    .description('print the JSON Schema of config files, stacks and ConnectionManagers alike (point "$schema" at it for completion in editors)')
    .addOption(new Option('--kind <kind>', 'only one kind of file: stack or connection-manager').choices(schemaKinds).default('any'))
    .option('--plugin <module>', 'also include the middlewares a plugin module registers (repeatable)', collect)
    .action(async (options: { plugin?: string[]; kind?: (typeof schemaKinds)[number] }) => {
      exitCode = await configSchemaCommand(options, output);
    });

  try {
    await program.parseAsync(argv as string[]);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its own one-line message (or the help, or the version).
      return error.exitCode === 0 ? 0 : 2;
    }
    output.err(`${output.errColor.red('shallot')}: ${oneLine(error)}`);
    return error instanceof UsageError ? 2 : 1;
  }
}
