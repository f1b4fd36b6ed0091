// sealAsync/openAsync: WebCrypto's AES-GCM (crypto.subtle) behind the core's batched segments,
// and the same calls on the portable (wasm) AES-GCM. Same format (the vectors, objects crossing
// between the paths), same errors on damaged objects (a seeded tamper property test), nothing
// returned unless everything verified.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Identity, seal, open, sealAsync, openAsync, webCryptoAvailable, CofferError, blake3, verify,
} from '@coffer/sdk';
import { hex, vectors, pattern251, watchUnhandled } from './helpers.mjs';

const unhandled = watchUnhandled();
const BACKENDS = ['webcrypto', 'portable'];

test('Node has WebCrypto, and the async functions use it by default', () => {
  assert.equal(webCryptoAvailable(), true);
});

test('sealed.json and sealed-v1.json open on both backends as with open()', async () => {
  for (const file of ['sealed.json', 'sealed-v1.json']) {
    for (const c of vectors(file).vectors) {
      const sealed = hex(c.sealed);
      for (const seed of c.recipient_seeds) {
        const who = Identity.fromSeed(hex(seed));
        const want = open(who, sealed);
        for (const backend of BACKENDS) {
          const { root, ...opened } = await openAsync(who, sealed, { backend });
          assert.deepEqual(opened, want, `${c.name} (${backend})`);
          assert.equal(root, blake3(sealed));
        }
      }
    }
  }
});

test('objects cross between the paths: sealAsync on each backend, open() and openAsync on each', async () => {
  const me = Identity.generate();
  const other = Identity.generate();
  // Sizes around segment and batch boundaries: 1 KiB segments, 64 per batch.
  for (const len of [0, 1, 1023, 1024, 1025, 64 * 1024, 64 * 1024 + 1, 200_000]) {
    const data = pattern251(len);
    for (const signer of [undefined, me]) {
      for (const backend of BACKENDS) {
        const sealed = await sealAsync(data, [me, other], { signer, backend, segmentSizeLog2: 10 });
        const sync = open(other, sealed);
        assert.deepEqual(sync.plaintext, data);
        assert.equal(sync.signer, signer ? me.recipient : null);
        for (const b of BACKENDS) {
          const { root, ...opened } = await openAsync(me, sealed, { backend: b });
          assert.deepEqual(opened, open(me, sealed));
          assert.equal(root, blake3(sealed));
        }
        const withOutboard = await sealAsync(data, me, { signer, backend, segmentSizeLog2: 10, outboard: true });
        assert.equal(withOutboard.root, blake3(withOutboard.sealed));
        verify.verifyAll(withOutboard.root, withOutboard.sealed, withOutboard.outboard);
        assert.deepEqual(open(me, withOutboard.sealed).plaintext, data);
      }
      // The other way: what seal() wrote opens on WebCrypto.
      const sealed = seal(data, me, { signer });
      assert.deepEqual((await openAsync(me, sealed)).plaintext, data);
    }
  }
  // Default segments, several 4 MiB batches.
  const big = pattern251(9 * 1024 * 1024 + 3);
  const sealed = await sealAsync(big, me, { signer: me });
  assert.deepEqual(open(me, sealed).plaintext, big);
  assert.deepEqual((await openAsync(me, sealed)).plaintext, big);
});

/** A small deterministic PRNG (mulberry32), so a failure names its case. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One random mutation of `sealed` (1 KiB segments: stride 1040), as in the Rust property test. */
function mutate(sealed, hlen, r) {
  const int = (n) => Math.floor(r() * n);
  const segs = [];
  for (let p = hlen; p < sealed.length; p += 1040) segs.push(sealed.subarray(p, Math.min(p + 1040, sealed.length)));
  const rebuild = (order) => {
    const out = new Uint8Array(hlen + order.reduce((a, s) => a + s.length, 0));
    out.set(sealed.subarray(0, hlen));
    let off = hlen;
    for (const s of order) { out.set(s, off); off += s.length; }
    return out;
  };
  switch (int(6)) {
    case 0: case 1: { const s = sealed.slice(); const p = int(s.length); s[p] ^= 1 << int(8); return [`flip ${p}`, s]; }
    case 2: { const n = int(sealed.length); return [`truncate ${n}`, sealed.slice(0, n)]; }
    case 3: { const extra = Uint8Array.from({ length: 1 + int(1500) }, () => int(256)); const s = new Uint8Array(sealed.length + extra.length); s.set(sealed); s.set(extra, sealed.length); return [`extend ${extra.length}`, s]; }
    case 4: { const a = int(segs.length), b = int(segs.length); const o = segs.slice(); [o[a], o[b]] = [o[b], o[a]]; return [`swap ${a} ${b}`, rebuild(o)]; }
    default: { const i = int(segs.length); const o = segs.slice(); o.splice(i, 1); return [`drop ${i}`, rebuild(o)]; }
  }
}

async function outcome(p) {
  try {
    const o = await p();
    return { ok: true, plaintext: o.plaintext };
  } catch (e) {
    assert.ok(e instanceof CofferError, `not a CofferError: ${e}`);
    return { ok: false, code: e.code, message: e.message };
  }
}

test('tamper property test: every mutation is refused by open(), and by openAsync on both backends with the same error', async () => {
  const me = Identity.generate();
  const objects = [];
  for (const len of [0, 17, 1024, 3000, 5000]) {
    for (const signer of [undefined, me]) {
      const sealed = seal(pattern251(len), me, { signer, segmentSizeLog2: 10 });
      // The header length: the format's u32 at offset 12 (v2).
      const hlen = new DataView(sealed.buffer, sealed.byteOffset).getUint32(12);
      objects.push({ sealed, hlen, name: `${len} bytes${signer ? ', signed' : ''}` });
    }
  }
  const CASES = 400;
  const r = rng(0xc0ffee);
  const codes = new Set();
  for (let i = 0; i < CASES; i++) {
    const o = objects[Math.floor(r() * objects.length)];
    const [what, bad] = mutate(o.sealed, o.hlen, r);
    const sync = await outcome(() => open(me, bad));
    if (sync.ok) {
      // A no-op mutation (a segment swapped with itself).
      assert.deepEqual(bad, o.sealed, `case ${i}: ${o.name}, ${what} opened`);
      continue;
    }
    codes.add(sync.message.replace(/[0-9]+/g, 'N'));
    for (const backend of BACKENDS) {
      const got = await outcome(() => openAsync(me, bad, { backend }));
      assert.deepEqual(got, sync, `case ${i}: ${o.name}, ${what}, ${backend}`);
    }
  }
  // The mutations reach more than one kind of damage (a test that cannot fail is a defect).
  assert.ok(codes.size >= 5, `only ${[...codes].join(' | ')}`);
});

test('bad arguments are BadInput; a wrong identity is NotRecipient on both backends', async () => {
  const me = Identity.generate();
  const sealed = await sealAsync(pattern251(100), me);
  await assert.rejects(sealAsync('text', me), { code: 'BadInput' });
  await assert.rejects(sealAsync(pattern251(1), me, { backend: 'aesni' }), { code: 'BadInput' });
  await assert.rejects(openAsync(me, 'text'), { code: 'BadInput' });
  await assert.rejects(openAsync('me', sealed), { code: 'BadInput' });
  for (const backend of BACKENDS) {
    await assert.rejects(openAsync(Identity.generate(), sealed, { backend }), { code: 'NotRecipient' });
  }
});

test('no unhandled rejections', () => unhandled.assertNone());
