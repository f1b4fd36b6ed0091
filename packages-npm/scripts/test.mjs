#!/usr/bin/env node
// `npm test`: the Node test runner over test/*.test.mjs against the built package (dist/).
// The S3 and browser tests need SeaweedFS, the IPFS test Kubo (.ci/seaweedfs.sh, .ci/kubo.sh).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = dirname(dirname(fileURLToPath(import.meta.url)));
const repo = dirname(pkg);

if (!existsSync(join(pkg, 'dist', 'index.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}

// Native Rust for the interop tests: the release `coffer` CLI, which seals/opens files and
// reads/writes vaults on S3 with the Rust store. COFFER_BIN when set (CI builds it once for every
// suite), else built here (a no-op when it is up to date).
if (!process.env.COFFER_BIN) {
  execFileSync('cargo', ['build', '--quiet', '--release', '-p', 'coffer-cli'], { cwd: repo, stdio: 'inherit' });
  process.env.COFFER_BIN = join(process.env.CARGO_TARGET_DIR || join(repo, 'target'), 'release', 'coffer');
}

// Servers: reuse COFFER_TEST_S3_* / COFFER_TEST_IPFS_API when set, else start (and later stop)
// our own, on ports of our own so that other worktrees' servers on the defaults are not touched.
process.env.COFFER_S3_PORT ??= '18533';
process.env.COFFER_IPFS_PORT ??= '15201';
const servers = [
  { script: join(repo, '.ci', 'seaweedfs.sh'), env: 'seaweedfs.env', var: 'COFFER_TEST_S3_ENDPOINT' },
  { script: join(repo, '.ci', 'kubo.sh'), env: 'kubo.env', var: 'COFFER_TEST_IPFS_API' },
];
const started = [];
for (const s of servers) {
  if (process.env[s.var]) continue;
  const wasRunning = spawnSync(s.script, ['env'], { stdio: 'ignore' }).status === 0;
  execFileSync(s.script, ['start'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (!wasRunning) started.push(s.script);
  const env = readFileSync(join(repo, '.ci', 'state', s.env), 'utf8');
  for (const m of env.matchAll(/^export (\w+)=(.*)$/gm)) process.env[m[1]] = m[2];
}

const files = process.argv.slice(2).length
  ? process.argv.slice(2)
  : readdirSync(join(pkg, 'test')).filter((f) => f.endsWith('.test.mjs')).sort().map((f) => join('test', f));
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { cwd: pkg, stdio: 'inherit' });
for (const script of started) execFileSync(script, ['stop'], { stdio: 'inherit' });
process.exit(r.status ?? 1);
