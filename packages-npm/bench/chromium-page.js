// `npm run bench -- --chromium`: the seal/open measurement of bench/seal.mjs inside headless
// Chromium (bundled and served by test/browser/harness.mjs), both AES-GCM paths; to window.__result.
import { Identity, seal, open, sealAsync, openAsync, verify, blake3 } from '../dist/index.js';

async function run() {
  const { sizeMib, runs } = JSON.parse(decodeURIComponent(location.hash.slice(1)));
  const size = sizeMib * 1024 * 1024;
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 4) data[i] = (i * 2654435761) >>> 24;
  const me = Identity.generate();
  const mibs = (ms) => sizeMib / (ms / 1000);
  const res = { ok: true, version: navigator.userAgent.match(/Chrom(e|ium)\/([0-9.]+)/)?.[2] ?? '?',
    portableSeal: 0, portableOpen: 0, webSeal: 0, webOpen: 0 };
  for (let r = 0; r < runs; r++) {
    let t = performance.now();
    const sealed = seal(data, me.recipient);
    const ob = verify.outboard(sealed);
    res.portableSeal = Math.max(res.portableSeal, mibs(performance.now() - t));
    t = performance.now();
    if (blake3(sealed) !== ob.root || open(me, sealed).plaintext.length !== size) throw new Error('portable open');
    res.portableOpen = Math.max(res.portableOpen, mibs(performance.now() - t));
    t = performance.now();
    const w = await sealAsync(data, me.recipient, { backend: 'webcrypto', outboard: true });
    res.webSeal = Math.max(res.webSeal, mibs(performance.now() - t));
    t = performance.now();
    const o = await openAsync(me, w.sealed, { backend: 'webcrypto' });
    if (o.root !== w.root || o.plaintext.length !== size) throw new Error('webcrypto open');
    res.webOpen = Math.max(res.webOpen, mibs(performance.now() - t));
  }
  return res;
}

run().then((r) => { window.__result = r; }, (e) => { window.__result = { ok: false, error: String(e?.stack ?? e) }; });
