#!/usr/bin/env node
import { main } from './main.js';

// Anything that escapes the commands is still one line, never a stack trace.
const fail = (error: unknown): void => {
  process.stderr.write(`shallot: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
};
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

const code = await main(process.argv);
process.exitCode = code;
// Every command closes what it opened; should a socket linger, do not wait on it for long.
setTimeout(() => process.exit(code), 2_000).unref();
