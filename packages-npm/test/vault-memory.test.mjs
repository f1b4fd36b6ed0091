// The Vault over the in-memory JS store: round trips, versions, listing, sync between devices;
// bad input from JS and failing transports give typed errors, nothing committed half-way.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Identity, Vault, MemoryStore, CofferError, seal, open } from '@coffer/sdk';
import { enc, pattern251, watchUnhandled, code } from './helpers.mjs';

const unhandled = watchUnhandled();
after(() => unhandled.assertNone());

test('put/get/head/versions/getVersion/getRange/copy/list/delete/deleteMany', async () => {
  const store = new MemoryStore();
  const me = Identity.generate();
  const v = await Vault.create(store, me, 'photos', 'laptop');
  assert.equal(v.name, 'photos');
  const v1 = await v.put('notes.txt', enc('hello'), { contentType: 'text/plain', metadata: { a: 'b' } });
  assert.equal(v1.key, 'notes.txt');
  assert.equal(v1.size, 5);
  assert.equal(v1.contentType, 'text/plain');
  assert.deepEqual(v1.metadata, { a: 'b' });
  assert.equal(await v.getText('notes.txt'), 'hello');
  const v2 = await v.put('notes.txt', enc('hello again'));
  assert.notEqual(v1.version, v2.version);
  assert.equal((await v.head('notes.txt')).etag, v2.version);
  const versions = await v.versions('notes.txt');
  assert.deepEqual(versions.map((x) => x.version), [v2.version, v1.version]);
  assert.deepEqual(await v.getVersion('notes.txt', v1.version), enc('hello'));

  const big = pattern251(300_000);
  await v.put(enc('bin/big'), big);
  assert.deepEqual(await v.getRange('bin/big', 70_000, 140_001), big.slice(70_000, 140_001));
  assert.deepEqual(await v.get('bin/big'), big);

  await v.copy('notes.txt', 'copy.txt');
  assert.equal(await v.getText('copy.txt'), 'hello again');

  const page = await v.list({ delimiter: '/' });
  assert.deepEqual(page.contents.map((o) => o.key), ['copy.txt', 'notes.txt']);
  assert.deepEqual(page.commonPrefixes, ['bin/']);
  const all = [];
  for await (const o of v.keys({ maxKeys: 1 })) all.push(o.key);
  assert.deepEqual(all, ['bin/big', 'copy.txt', 'notes.txt']);

  await v.delete('copy.txt');
  await assert.rejects(v.get('copy.txt'), { name: 'CofferError', code: 'NotFound' });
  const res = await v.deleteMany(['notes.txt', 'missing']);
  assert.equal(res[0].error, null);
  assert.equal(res[1].error?.code, 'NotFound');
  assert.equal((await v.list()).keyCount, 1);
});

test('tags: set at put, replaced without a new version, typed errors', async () => {
  const v = await Vault.create(new MemoryStore(), Identity.generate(), 'tags', 'd');
  const v1 = await v.put('a.txt', enc('a'), { tags: { album: '2026' } });
  assert.deepEqual(await v.tags('a.txt'), { album: '2026' });
  await v.setTags('a.txt', { state: 'final' });
  assert.deepEqual(await v.tags('a.txt'), { state: 'final' });
  assert.equal((await v.head('a.txt')).version, v1.version);
  await v.setTags('a.txt', {});
  assert.deepEqual(await v.tags('a.txt'), {});
  const eleven = Object.fromEntries([...Array(11).keys()].map((i) => [`k${i}`, 'v']));
  await assert.rejects(v.setTags('a.txt', eleven), code('BadInput'));
  await assert.rejects(v.setTags('a.txt', { k: 5 }), code('BadInput'));
  await assert.rejects(v.setTags('a.txt', null), code('BadInput'));
  await assert.rejects(v.tags('missing'), code('NotFound'));
});

test('conditional puts', async () => {
  const v = await Vault.create(new MemoryStore(), Identity.generate(), 'v', 'd');
  const a = await v.put('k', enc('1'), { ifAbsent: true });
  await assert.rejects(v.put('k', enc('2'), { ifAbsent: true }), { code: 'PreconditionFailed' });
  await assert.rejects(v.put('k', enc('2'), { ifMatch: 'bafyreigarbage' }), (e) => e instanceof CofferError && ['PreconditionFailed', 'BadInput'].includes(e.code));
  await v.put('k', enc('3'), { ifMatch: a.etag });
  assert.equal(await v.getText('k'), '3');
});

test('two devices converge with sync; reopen; wrong identity; create twice', async () => {
  const store = new MemoryStore();
  const me = Identity.generate();
  const laptop = await Vault.create(store, me, 'shared', 'laptop');
  await laptop.put('a', enc('from laptop'));
  const phone = await Vault.open(store, me, 'shared', 'phone');
  await assert.rejects(phone.get('a'), { code: 'NotFound' });
  const r = await phone.sync();
  assert.ok(r.merged.length >= 1);
  assert.equal(await phone.getText('a'), 'from laptop');
  await phone.put('b', enc('from phone'));
  await laptop.sync();
  assert.equal(await laptop.getText('b'), 'from phone');
  const again = await Vault.openOrCreate(store, Identity.fromString(me.toSecretString()), 'shared', 'laptop');
  assert.equal(await again.getText('a'), 'from laptop');
  await assert.rejects(Vault.open(store, Identity.generate(), 'shared', 'x'), (e) => e instanceof CofferError && ['WrongIdentity', 'Integrity'].includes(e.code));
  await assert.rejects(Vault.create(store, me, 'shared', 'y'), { code: 'AlreadyExists' });
  await assert.rejects(Vault.open(store, me, 'nothing-here', 'y'), { code: 'NoSuchVault' });
});

test('bad input from JS: typed errors, no trap', async () => {
  const v = await Vault.create(new MemoryStore(), Identity.generate(), 'v', 'd');
  const bad = { name: 'CofferError', code: 'BadInput' };
  await assert.rejects(v.put('k', 'a string, not bytes'), bad);
  await assert.rejects(v.put('k', undefined), bad);
  await assert.rejects(v.put(42, enc('x')), bad);
  await assert.rejects(v.put('', enc('x')), bad);
  await assert.rejects(v.put('x'.repeat(2000), enc('x')), bad);
  await assert.rejects(v.put('k', enc('x'), { metadata: { a: 1 } }), bad);
  await assert.rejects(v.put('k', enc('x'), { contentType: 5 }), bad);
  await assert.rejects(v.put('k', enc('x'), { ifAbsent: 'yes' }), bad);
  await assert.rejects(v.put('k', enc('x'), 'options'), bad);
  await v.put('k', enc('0123456789'));
  await assert.rejects(v.getRange('k', 0, 2 ** 60), bad);
  await assert.rejects(v.getRange('k', -1, 3), bad);
  await assert.rejects(v.getRange('k', 1.5, 3), bad);
  await assert.rejects(v.getRange('k', 5, 2), bad);
  await assert.rejects(v.getRange('k', '0', 3), bad);
  await assert.rejects(v.getRange('k', 0, 11), bad);
  await assert.rejects(v.getRange('k', 0, Number.MAX_SAFE_INTEGER), bad);
  await assert.rejects(v.getRange('k', 0n, 2n ** 70n), bad);
  assert.deepEqual(await v.getRange('k', 2n, 4n), enc('23'));
  await assert.rejects(v.list({ maxKeys: -1 }), bad);
  await assert.rejects(v.list({ prefix: 7 }), bad);
  await assert.rejects(v.list({ continuationToken: 'not a token' }), (e) => e instanceof CofferError);
  await assert.rejects(v.deleteMany('k'), bad);
  await assert.rejects(v.getVersion('k', 'not-a-cid'), (e) => e instanceof CofferError && ['BadInput', 'NotFound'].includes(e.code));
  await assert.rejects(Vault.create(new MemoryStore(), 'not an identity', 'v', 'd'), bad);
  await assert.rejects(Vault.create(new MemoryStore(), Identity.generate(), 'bad/name', 'd'), bad);
  await assert.rejects(Vault.create(new MemoryStore(), Identity.generate(), 'v', 7), bad);
  await assert.rejects(Vault.create({}, Identity.generate(), 'v', 'd'), bad);
  await assert.rejects(Vault.create(null, Identity.generate(), 'v', 'd'), bad);
  assert.throws(() => seal('text', [Identity.generate().recipient]), bad);
  assert.throws(() => seal(enc('x'), ['coffer1nope']), { code: 'BadKey' });
  assert.throws(() => seal(enc('x'), []), bad);
  assert.throws(() => seal(enc('x'), Identity.generate(), { segmentSizeLog2: 99 }), bad);
  assert.throws(() => seal(enc('x'), Identity.generate(), { signer: 'me' }), bad);
  assert.throws(() => open(Identity.generate(), enc('not sealed')), { code: 'Corrupt' });
  assert.throws(() => open('id', enc('x')), bad);
  assert.throws(() => Identity.fromString('COFFER-SECRET-KEY-1XYZ'), { code: 'BadKey' });
  assert.throws(() => Identity.fromString(12), bad);
  assert.throws(() => Identity.fromSeed(new Uint8Array(31)), bad);
  // A message never contains key material.
  const id = Identity.generate();
  const secret = id.toSecretString();
  const c = secret.at(-3);
  const typo = secret.slice(0, -3) + (c === 'Q' ? 'P' : 'Q') + secret.slice(-2);
  try { Identity.fromString(typo); assert.fail('accepted a mistyped key'); } catch (e) {
    assert.equal(e.code, 'BadKey');
    assert.ok(!e.message.includes(secret.slice(20, 40)));
  }
  // Huge inputs are refused before anything is allocated in wasm memory.
  const huge = new Uint8Array(256 * 1024 * 1024 + 1);
  await assert.rejects(v.put('huge', huge), bad);
  assert.throws(() => seal(huge, Identity.generate()), bad);
  const gone = await Vault.create(new MemoryStore(), Identity.generate(), 'v', 'd');
  gone.free();
  await assert.rejects(gone.get('k'), bad);
  // The module still works after all of that.
  assert.equal(await v.getText('k'), '0123456789');
});

/** A store that delegates to a MemoryStore and fails on command. */
function flakyStore() {
  const inner = new MemoryStore();
  const ctl = { failPutsAfter: Infinity, puts: 0, mode: 'reject', failHeads: false };
  const store = {
    conditionalWrites: 'enforced',
    async put(cid, b) {
      if (++ctl.puts > ctl.failPutsAfter) {
        if (ctl.mode === 'throw-sync') throw new TypeError('Failed to fetch');
        return Promise.reject(Object.assign(new Error('network offline'), { name: 'NetworkError' }));
      }
      return inner.put(cid, b);
    },
    get: (c) => inner.get(c),
    has: (c) => inner.has(c),
    delete: (c) => inner.delete(c),
    list: () => inner.list(),
    readHeads: (v) => inner.readHeads(v),
    writeHead(v, w, b, c) {
      if (ctl.failHeads) return Promise.reject('offline (a string reason)');
      return inner.writeHead(v, w, b, c);
    },
  };
  return { store, ctl, inner };
}

test('a transport that rejects mid-upload: CofferError "Store", nothing committed', async () => {
  const { store, ctl } = flakyStore();
  const me = Identity.generate();
  const v = await Vault.create(store, me, 'v', 'laptop');
  await v.put('k', enc('old'));
  for (const [after, mode] of [[0, 'reject'], [1, 'reject'], [2, 'throw-sync'], [3, 'reject']]) {
    ctl.puts = 0;
    ctl.failPutsAfter = after;
    ctl.mode = mode;
    await assert.rejects(v.put('k', pattern251(200_000)), (e) => {
      assert.ok(e instanceof CofferError, String(e));
      assert.equal(e.code, 'Store');
      assert.match(e.message, /offline|Failed to fetch/);
      return true;
    });
    ctl.failPutsAfter = Infinity;
    assert.equal(await v.getText('k'), 'old');
    assert.equal((await v.versions('k')).length, 1);
  }
  // The head write fails (offline at the last step): the put is not committed either.
  ctl.failHeads = true;
  await assert.rejects(v.put('k', enc('new')), { code: 'Store' });
  ctl.failHeads = false;
  const reopened = await Vault.open(store, me, 'v', 'laptop');
  assert.equal(await reopened.getText('k'), 'old');
  // Back online: the same vault object works.
  await v.put('k', enc('new'));
  assert.equal(await v.getText('k'), 'new');
});

test('a store returning garbage: typed errors', async () => {
  const inner = new MemoryStore();
  const me = Identity.generate();
  const good = await Vault.create(inner, me, 'v', 'd');
  await good.put('k', enc('value'));
  const liar = Object.create(null);
  for (const m of ['put', 'has', 'delete', 'list', 'readHeads', 'writeHead']) liar[m] = (...a) => inner[m](...a);
  liar.get = async () => 'not bytes';
  await assert.rejects(Vault.open(liar, me, 'v', 'd').then((v) => v.get('k')), code('Store'));
  liar.get = async (c) => { const b = await inner.get(c); if (b && b.length > 0) b[b.length - 1] ^= 1; return b; };
  await assert.rejects(Vault.open(liar, me, 'v', 'd').then((v) => v.get('k')), (e) => e instanceof CofferError && ['Integrity', 'Corrupt'].includes(e.code));
  liar.get = (c) => inner.get(c);
  liar.readHeads = async () => [{ writer: 5 }];
  await assert.rejects(Vault.open(liar, me, 'v', 'd'), { code: 'Store' });
  liar.readHeads = async () => 'nope';
  await assert.rejects(Vault.open(liar, me, 'v', 'd'), { code: 'Store' });
  liar.readHeads = () => { throw Object.assign(new Error('denied'), { code: 'AccessDenied' }); };
  await assert.rejects(Vault.open(liar, me, 'v', 'd'), { code: 'Store' });
});

test('a post-quantum vault ({ postQuantum: true }) wraps its key with X-Wing; another device reads it', async () => {
  const store = new MemoryStore();
  const me = Identity.generate();
  const v = await Vault.create(store, me, 'pq', 'laptop', { postQuantum: true });
  await v.put('a.txt', new TextEncoder().encode('quantum-safe'));
  const phone = await Vault.open(store, me, 'pq', 'phone');
  await phone.sync();
  assert.equal(new TextDecoder().decode(await phone.get('a.txt')), 'quantum-safe');
  await assert.rejects(Vault.create(new MemoryStore(), me, 'x', 'd', { postQuantum: 'yes' }), { name: 'CofferError', code: 'BadInput' });
});
