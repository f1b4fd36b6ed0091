#!/usr/bin/env node
// `npm test`: the Node test runner over test/*.test.mjs against the built package (dist/).
// The S3 and browser tests need SeaweedFS: reuse COFFER_TEST_S3_* from the environment when set,
// else start it with .ci/seaweedfs.sh and stop it afterwards.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = dirname(dirname(fileURLToPath(import.meta.url)));
const repo = dirname(pkg);
const sw = join(repo, '.ci', 'seaweedfs.sh');

if (!existsSync(join(pkg, 'dist', 'index.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}

// The Rust CLI for the interop test (a no-op when built).
execFileSync('cargo', ['build', '--quiet', '--release', '-p', 'coffer-cli'], { cwd: repo, stdio: 'inherit' });

let started = false;
if (!process.env.COFFER_TEST_S3_ENDPOINT) {
  const wasRunning = spawnSync(sw, ['env'], { stdio: 'ignore' }).status === 0;
  execFileSync(sw, ['start'], { stdio: ['ignore', 'ignore', 'inherit'] });
  started = !wasRunning;
  const env = readFileSync(join(repo, '.ci', 'state', 'seaweedfs.env'), 'utf8');
  for (const m of env.matchAll(/^export (\w+)=(.*)$/gm)) process.env[m[1]] = m[2];
}

const files = process.argv.slice(2).length
  ? process.argv.slice(2)
  : readdirSync(join(pkg, 'test')).filter((f) => f.endsWith('.test.mjs')).sort().map((f) => join('test', f));
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { cwd: pkg, stdio: 'inherit' });
if (started) execFileSync(sw, ['stop'], { stdio: 'inherit' });
process.exit(r.status ?? 1);
