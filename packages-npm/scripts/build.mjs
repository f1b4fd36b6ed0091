#!/usr/bin/env node
// Builds the package from the repository, in one go:
//   cargo build --release --target wasm32-unknown-unknown -p coffer-wasm
//   wasm-bindgen --target web (the CLI must be 0.2.130, the version the crate pins)
//   wasm-opt (npm `binaryen`) -O3
//   copy src/ (wrapper, stores, types) to dist/
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const WASM_BINDGEN_VERSION = '0.2.130';
const pkg = dirname(dirname(fileURLToPath(import.meta.url)));
const repo = dirname(pkg);
const targetDir = process.env.CARGO_TARGET_DIR || join(repo, 'target');
const dist = join(pkg, 'dist');

function run(cmd, args, opts = {}) {
  console.error(`> ${cmd} ${args.join(' ')}`);
  execFileSync(cmd, args, { stdio: 'inherit', cwd: repo, ...opts });
}

let version = '';
try {
  version = execFileSync('wasm-bindgen', ['--version'], { encoding: 'utf8' }).trim();
} catch {
  console.error(`wasm-bindgen is not installed: cargo install wasm-bindgen-cli --version ${WASM_BINDGEN_VERSION}`);
  process.exit(1);
}
if (version !== `wasm-bindgen ${WASM_BINDGEN_VERSION}`) {
  console.error(`found ${version}, need ${WASM_BINDGEN_VERSION}: cargo install wasm-bindgen-cli --version ${WASM_BINDGEN_VERSION} --force`);
  process.exit(1);
}

run('cargo', ['build', '--release', '--target', 'wasm32-unknown-unknown', '-p', 'coffer-wasm']);
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'wasm'), { recursive: true });
run('wasm-bindgen', [
  '--target', 'web', '--out-dir', join(dist, 'wasm'), '--out-name', 'coffer_wasm',
  join(targetDir, 'wasm32-unknown-unknown', 'release', 'coffer_wasm.wasm'),
]);
const wasm = join(dist, 'wasm', 'coffer_wasm_bg.wasm');
run(join(pkg, 'node_modules', '.bin', 'wasm-opt'), [
  '-O3', '--strip-debug', '--strip-producers',
  '--enable-bulk-memory', '--enable-simd', '--enable-nontrapping-float-to-int', '--enable-sign-ext',
  '--enable-mutable-globals', '--enable-reference-types', '--enable-multivalue',
  wasm, '-o', wasm,
]);
cpSync(join(pkg, 'src'), dist, { recursive: true });
const raw = readFileSync(wasm);
const js = readFileSync(join(dist, 'wasm', 'coffer_wasm.js'));
const gz = gzipSync(raw, { level: 9 }).length + gzipSync(js, { level: 9 }).length;
const sizes = { wasm_bytes: statSync(wasm).size, wasm_and_glue_gzip_bytes: gz };
writeFileSync(join(dist, 'sizes.json'), JSON.stringify(sizes, null, 2) + '\n');
console.error(`built ${dist}: wasm ${(sizes.wasm_bytes / 1024).toFixed(0)} KiB, wasm+glue gzip ${(gz / 1024).toFixed(0)} KiB`);
