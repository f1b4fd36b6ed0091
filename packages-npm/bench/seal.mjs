#!/usr/bin/env node
// Seal/open throughput of 64 MiB in Node (the wasm build) next to native Rust in the same run
// (`coffer bench seal --json`, the CLI built in release with the portable AES-GCM; the default
// build, with ring, for context), the ratios, and the package size. Not a test.
// Two paths in Node: `seal`/`open` (AES-GCM in wasm, "portable") and `sealAsync`/`openAsync`
// with WebCrypto's AES-GCM ("webcrypto"; issue 17 target: >= 0.5 of native), each with its
// ratio to native; --chromium measures both in headless Chromium too (/usr/bin/chromium).
//
//   node bench/seal.mjs [--size-mib 64] [--runs 3] [--soft-native] [--chromium] [--ring-native]
// --soft-native also runs the CLI built with the portable (software) AES and POLYVAL backends
// (RUSTFLAGS='--cfg aes_backend="soft" --cfg polyval_backend="soft"', its own target directory
// <target>-softaes): the same algorithm the wasm build runs, so that ratio shows the cost of wasm
// itself rather than of AES-NI/CLMUL, which wasm does not have.
// Work per direction, as in the native bench: seal = seal + Bao outboard of the sealed bytes;
// open = BLAKE3 of the sealed bytes + open (every segment authenticated).
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Identity, seal, open, sealAsync, openAsync, verify, blake3 } from '../dist/index.js';

const args = process.argv.slice(2);
const softNative = args.includes('--soft-native');
const inChromium = args.includes('--chromium');
const ringNative = args.includes('--ring-native');
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : dflt; };
const sizeMib = opt('--size-mib', 64);
const runs = opt('--runs', 3);
const pkg = dirname(dirname(fileURLToPath(import.meta.url)));
const repo = dirname(pkg);
const size = sizeMib * 1024 * 1024;

const data = new Uint8Array(size);
for (let i = 0; i < size; i += 4) data[i] = (i * 2654435761) >>> 24; // not all zero, cheap to make
const me = Identity.generate();

const mibs = (ms) => size / (1024 * 1024) / (ms / 1000);
let bestSeal = 0, bestOpen = 0;
for (let r = 0; r < runs; r++) {
  let t = performance.now();
  const sealed = seal(data, me.recipient);
  const ob = verify.outboard(sealed);
  bestSeal = Math.max(bestSeal, mibs(performance.now() - t));
  t = performance.now();
  if (blake3(sealed) !== ob.root) throw new Error('root mismatch');
  const opened = open(me, sealed);
  bestOpen = Math.max(bestOpen, mibs(performance.now() - t));
  if (opened.plaintext.length !== size) throw new Error('open returned the wrong length');
}

// WebCrypto: seal with the outboard built in the same pass (what the native bench does), open
// with the root hashed in the same pass and checked.
let webSeal = 0, webOpen = 0;
for (let r = 0; r < runs; r++) {
  let t = performance.now();
  const { sealed, root } = await sealAsync(data, me.recipient, { backend: 'webcrypto', outboard: true });
  webSeal = Math.max(webSeal, mibs(performance.now() - t));
  t = performance.now();
  const opened = await openAsync(me, sealed, { backend: 'webcrypto' });
  if (opened.root !== root) throw new Error('root mismatch');
  webOpen = Math.max(webOpen, mibs(performance.now() - t));
  if (opened.plaintext.length !== size) throw new Error('openAsync returned the wrong length');
}

let chromium = null;
if (inChromium) {
  const { withPage, runPage } = await import('../test/browser/harness.mjs');
  console.error('chromium: headless, the same measurement in a page');
  chromium = await withPage({ entry: '../../bench/chromium-page.js' }, async (page, origin, problems) => {
    const res = await runPage(page, `${origin}/#${encodeURIComponent(JSON.stringify({ sizeMib, runs }))}`, 600_000);
    if (problems.length || !res.ok) throw new Error(`chromium bench failed: ${res.error ?? problems.join('; ')}`);
    return res;
  });
}

// Native: the CLI's `bench seal` built with the portable AES-GCM (`--no-default-features`, the
// baseline of issue 17: the same algorithm as the wasm path, with AES-NI/CLMUL; its own target
// directory <target>-portable-native, so the default CLI in <target>/release is left alone), and
// with --ring-native the default build (ring's AES-GCM) for context.
const cargo = ['run', '--quiet', '--release', '-p', 'coffer-cli', '--', 'bench', 'seal', '--size', `${sizeMib}MiB`, '--json'];
const runNative = (extra, env = {}) => JSON.parse(execFileSync('cargo', [...cargo.slice(0, 5), ...extra, ...cargo.slice(5)], {
  cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env },
}).trim().split('\n').pop());
const portableTarget = `${process.env.CARGO_TARGET_DIR || join(repo, 'target')}-portable-native`;
console.error(`native (portable AES-GCM): cargo ${cargo.slice(0, 5).join(' ')} --no-default-features ${cargo.slice(5).join(' ')} in ${portableTarget}`);
const native = runNative(['--no-default-features'], { CARGO_TARGET_DIR: portableTarget });
let nativeDefault = null;
if (ringNative) {
  console.error(`native (default build): cargo ${cargo.join(' ')}`);
  nativeDefault = runNative([]);
}

let soft = null;
if (softNative) {
  const target = `${process.env.CARGO_TARGET_DIR || join(repo, 'target')}-softaes`;
  console.error(`native (software AES/POLYVAL): cargo ${cargo.join(' ')} in ${target}`);
  soft = JSON.parse(execFileSync('cargo', cargo, {
    cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, CARGO_TARGET_DIR: target, RUSTFLAGS: '--cfg aes_backend="soft" --cfg polyval_backend="soft"' },
  }).trim().split('\n').pop());
}

const wasmFile = join(pkg, 'dist', 'wasm', 'coffer_wasm_bg.wasm');
const gz = (f) => gzipSync(readFileSync(f), { level: 9 }).length;
const distFiles = (d) => readdirSync(d, { recursive: true }).map((f) => join(d, f)).filter((f) => statSync(f).isFile());
const round = (x) => Math.round(x * 100) / 100;
const report = {
  size_mib: sizeMib,
  runs,
  node: process.version,
  node_seal_mib_s: round(bestSeal),
  node_open_mib_s: round(bestOpen),
  native_seal_mib_s: native.seal_mib_s,
  native_open_mib_s: native.open_mib_s,
  native_aead_backend: native.aead_backend,
  ...(nativeDefault && {
    native_default_seal_mib_s: nativeDefault.seal_mib_s,
    native_default_open_mib_s: nativeDefault.open_mib_s,
    native_default_aead_backend: nativeDefault.aead_backend,
  }),
  seal_ratio: round(bestSeal / native.seal_mib_s),
  open_ratio: round(bestOpen / native.open_mib_s),
  target_ratio: 0.3,
  node_webcrypto_seal_mib_s: round(webSeal),
  node_webcrypto_open_mib_s: round(webOpen),
  webcrypto_seal_ratio: round(webSeal / native.seal_mib_s),
  webcrypto_open_ratio: round(webOpen / native.open_mib_s),
  webcrypto_speedup_seal: round(webSeal / bestSeal),
  webcrypto_speedup_open: round(webOpen / bestOpen),
  webcrypto_target_ratio: 0.5,
  ...(chromium && {
    chromium_version: chromium.version,
    chromium_portable_seal_mib_s: round(chromium.portableSeal),
    chromium_portable_open_mib_s: round(chromium.portableOpen),
    chromium_webcrypto_seal_mib_s: round(chromium.webSeal),
    chromium_webcrypto_open_mib_s: round(chromium.webOpen),
    chromium_webcrypto_seal_ratio: round(chromium.webSeal / native.seal_mib_s),
    chromium_webcrypto_open_ratio: round(chromium.webOpen / native.open_mib_s),
  }),
  ...(soft && {
    native_soft_seal_mib_s: soft.seal_mib_s,
    native_soft_open_mib_s: soft.open_mib_s,
    seal_ratio_to_soft: round(bestSeal / soft.seal_mib_s),
    open_ratio_to_soft: round(bestOpen / soft.open_mib_s),
  }),
  wasm_bytes: statSync(wasmFile).size,
  wasm_gzip_bytes: gz(wasmFile),
  dist_gzip_bytes: distFiles(join(pkg, 'dist')).reduce((a, f) => a + gz(f), 0),
};
console.log(JSON.stringify(report, null, 2));
console.error(`seal: node ${report.node_seal_mib_s} MiB/s vs native ${report.native_seal_mib_s} MiB/s = ${report.seal_ratio}x; ` +
  `open: node ${report.node_open_mib_s} vs native ${report.native_open_mib_s} = ${report.open_ratio}x (target >= 0.3); ` +
  `package gzip ${(report.dist_gzip_bytes / 1024).toFixed(0)} KiB`);
console.error(`webcrypto (Node): seal ${report.node_webcrypto_seal_mib_s} MiB/s = ${report.webcrypto_seal_ratio}x native, ` +
  `open ${report.node_webcrypto_open_mib_s} MiB/s = ${report.webcrypto_open_ratio}x native (target >= 0.5); ` +
  `${report.webcrypto_speedup_seal}x / ${report.webcrypto_speedup_open}x the wasm AES-GCM`);
if (chromium) {
  console.error(`chromium ${chromium.version}: webcrypto seal ${report.chromium_webcrypto_seal_mib_s} MiB/s = ${report.chromium_webcrypto_seal_ratio}x native, ` +
    `open ${report.chromium_webcrypto_open_mib_s} = ${report.chromium_webcrypto_open_ratio}x; portable seal ${report.chromium_portable_seal_mib_s}, open ${report.chromium_portable_open_mib_s}`);
}
