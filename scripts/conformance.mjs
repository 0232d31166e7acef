#!/usr/bin/env node
// `npm run conformance`: scores `cache()` on the public RFC 9111 suite (http-tests/cache-tests)
// in both profiles, private and shared, with the runner in ../shared/conformance/cache-tests
// (see its README). Not part of `npm test`: a run takes about a minute per profile.
//
//   npm run conformance                      # both profiles, failures listed
//   npm run conformance -- --quiet           # scores only
//   npm run conformance -- --profile shared  # one profile; other options go to run.mjs (--id ID ...)
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const runner = path.resolve(root, '../shared/conformance/cache-tests/run.mjs');
const client = path.join(root, 'scripts', 'conformance-client.mjs');

if (!existsSync(runner)) {
  console.error(`conformance: the cache-tests runner is absent (looked for ${runner}).`);
  console.error('conformance: nothing was run. Put the suite at ../shared/conformance/cache-tests to score cache().');
  process.exit(2);
}

const args = process.argv.slice(2);
const profileAt = args.indexOf('--profile');
const profiles = profileAt === -1 ? ['private', 'shared'] : [args[profileAt + 1]];
const passThrough = profileAt === -1 ? args : args.filter((_, i) => i !== profileAt && i !== profileAt + 1);

function run(profile) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [runner, '--client', `module:${client}`, '--profile', profile, '--label', 'shallot-cache', ...passThrough], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let last = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      const lines = String(chunk).trim().split('\n');
      last = lines.at(-1) ?? last;
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(last) : reject(new Error(`conformance: ${profile} run exited with ${code}`))));
  });
}

const scores = [];
for (const profile of profiles) {
  console.log(`\n=== cache() in the ${profile} profile ===`);
  const line = await run(profile);
  scores.push(`${profile}: ${line.replace(/^cache-tests:\s*/, '')}`);
}
console.log('\n=== cache() conformance (cache-tests) ===');
for (const score of scores) console.log(`  ${score}`);
