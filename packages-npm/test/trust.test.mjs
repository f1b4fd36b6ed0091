// Trust memory from JS (options.trust): a store that serves an older head is refused with
// "Untrusted" across a reopen when the device kept what it saw (fileTrust in a directory, or any
// { load, save } object such as one over a Map); without it the old state is served (the
// documented default). A failing or lying trust object gives "TrustStorage", never a trap.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Identity, Vault, MemoryStore, CofferError, seal, open } from '@coffer/sdk';
import { fileTrust } from '@coffer/sdk/trust/file';
import { enc, watchUnhandled } from './helpers.mjs';

const unhandled = watchUnhandled();
after(() => unhandled.assertNone());

/** A trust object over a Map, as an app could write one over its own storage. */
function mapTrust(map = new Map()) {
  return { map, async load(name) { return map.get(name) ?? null; }, async save(name, bytes) { map.set(name, bytes); } };
}

/**
 * Writes two versions, puts the store's first head back (what a hostile or restored store does),
 * reopens with `options()` and returns the error, or null when the old state was served.
 */
async function reopenAfterRollback(options) {
  const store = new MemoryStore();
  const me = Identity.generate();
  const v = await Vault.create(store, me, 'notes', 'laptop', options());
  await v.put('note', enc('one'));
  const [old] = await store.readHeads('notes');
  await v.put('note', enc('two'));
  assert.match(await v.stateFingerprint(), /^[A-Z2-7]{4}(-[A-Z2-7]{4}){3}$/);
  assert.deepEqual(await v.skippedHeads(), []);
  v.free();
  await store.writeHead('notes', old.writer, old.bytes, { type: 'any' });
  try {
    const again = await Vault.open(store, me, 'notes', 'laptop', options());
    assert.equal(await again.getText('note'), 'one');
    again.free();
    return null;
  } catch (e) {
    assert.ok(e instanceof CofferError, String(e));
    return e;
  }
}

test('fileTrust refuses a rollback across a reopen; files are 0600 in a 0700 directory', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'coffer-trust-')), 'trust');
  try {
    const e = await reopenAfterRollback(() => ({ trust: fileTrust(dir) }));
    assert.equal(e?.code, 'Untrusted', e?.message);
    assert.match(e.message, /rolled it back/);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const files = readdirSync(dir);
    assert.ok(files.length > 0 && files.every((f) => /^[0-9a-f]{32}\.trust$/.test(f)), files.join(','));
    for (const f of files) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600);
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

test('a { load, save } object over a Map refuses a rollback across a reopen', async () => {
  const trust = mapTrust();
  const e = await reopenAfterRollback(() => ({ trust }));
  assert.equal(e?.code, 'Untrusted', e?.message);
  assert.ok(trust.map.size > 0);
});

test('without trust memory the rolled-back state is served (the documented default)', async () => {
  assert.equal(await reopenAfterRollback(() => undefined), null);
  assert.equal(await reopenAfterRollback(() => ({})), null);
});

test('a failing or lying trust object is a typed error, and bad options are BadInput', async () => {
  const me = Identity.generate();
  const cases = [
    [{ load: async () => { throw new Error('disk full'); }, save: async () => {} }, /disk full/],
    [{ load: () => Promise.reject('nope'), save: async () => {} }, /nope/],
    [{ load: async () => 'not bytes', save: async () => {} }, /Uint8Array or null/],
    [{ load: async () => 42, save: async () => {} }, /Uint8Array or null/],
    [{ load: async () => null, save: async () => { throw new Error('read-only'); } }, /read-only/],
    [{ load: async () => enc('not a trust document'), save: async () => {} }, /damaged/],
  ];
  for (const [trust, msg] of cases) {
    const store = new MemoryStore();
    await assert.rejects(Vault.create(store, me, 'v', 'd', { trust }), (e) => {
      assert.ok(e instanceof CofferError);
      assert.equal(e.code, 'TrustStorage', e.message);
      assert.match(e.message, msg);
      return true;
    });
  }
  for (const options of [{ trust: {} }, { trust: { load() {} } }, { trust: 'dir' }, 'trust']) {
    await assert.rejects(Vault.create(new MemoryStore(), me, 'v', 'd', options), (e) => e.code === 'BadInput');
  }
  // The vault opens again once the trust object behaves.
  const v = await Vault.create(new MemoryStore(), me, 'v', 'd', { trust: mapTrust() });
  await v.put('k', enc('ok'));
  assert.equal(await v.getText('k'), 'ok');
});

test('open() says whether the signature covers the header only', () => {
  const me = Identity.generate();
  const o = open(me, seal(enc('x'), me, { signer: me }));
  assert.equal(o.headerOnly, false);
  assert.equal(o.signer, me.recipient);
});
