// Sharing on the in-memory JS store, the story end to end: Alice shares a prefix with Bob
// through his inbox, Bob (a passphrase identity) accepts and reads, out-of-scope reads are
// refused, a short share expires, Alice revokes Bob while Carol keeps reading on her new grant;
// bad input gives typed errors.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Identity, Vault, MemoryStore, CofferError, Share, ShareBook, SharedReader, readInbox, parseDuration,
} from '@coffer/sdk';
import { enc, watchUnhandled, sleep, code } from './helpers.mjs';

const unhandled = watchUnhandled();
after(() => unhandled.assertNone());

const keysOf = async (reader, request) => (await reader.list(request)).contents.map((o) => o.key);

/** Every share in `who`'s inbox offered to `book`: what accept said, or the error code. */
async function acceptAll(store, who, book) {
  const out = [];
  for (const entry of await readInbox(store, who)) {
    if (entry.error) { out.push(entry.error.code); continue; }
    try { out.push(book.accept(entry.share)); } catch (e) { out.push(e.code); }
  }
  return out;
}

async function aliceVault(store) {
  const alice = Identity.generate();
  const v = await Vault.create(store, alice, 'photos', 'laptop');
  await v.put('trip/day1.jpg', enc('sand'), { contentType: 'image/jpeg' });
  await v.put('trip/day2.jpg', enc('sea'));
  await v.put('taxes/2026.pdf', enc('secret'));
  return { alice, v };
}

test('Alice shares a prefix with Bob; Bob reads his inbox, accepts and reads only the prefix', async () => {
  const store = new MemoryStore();
  const { alice, v } = await aliceVault(store);
  // Bob's identity comes from his passphrase: the same passphrase and account, the same Bob.
  const bob = Identity.fromPassphrase('correct horse battery staple', 'bob@example.com');
  const carol = Identity.generate();

  const week = parseDuration('7d');
  assert.equal(week, 7 * 86_400_000);
  const id = await v.share({ prefix: 'trip/', to: bob.recipient, expiresMs: Date.now() + week });
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.equal(await v.sharePublishError(), null);
  const [info, ...none] = await v.shares();
  assert.equal(none.length, 0);
  assert.equal(info.id, id);
  assert.deepEqual(info.scope, { kind: 'prefix', prefix: 'trip/' });
  assert.equal(info.to, bob.recipient);
  assert.equal(info.status, 'active');
  assert.equal(info.grant, 1);
  assert.equal(info.revokedMs, null);
  assert.ok(info.notBeforeMs <= Date.now() && info.expiresMs > Date.now() + week - 60_000);

  // Bob, on another device, with nothing but his passphrase and the store.
  const bobAgain = Identity.fromPassphrase('correct horse battery staple', 'bob@example.com');
  assert.equal(bobAgain.recipient, bob.recipient);
  const inbox = await readInbox(store, bobAgain);
  assert.equal(inbox.length, 1);
  const { name, share, error } = inbox[0];
  assert.equal(error, undefined);
  assert.ok(share instanceof Share);
  assert.equal(name, `${id}-1`);
  assert.equal(share.id, id);
  assert.equal(share.grant, 1);
  assert.equal(share.issuer, alice.recipient);
  assert.equal(share.audience, bob.recipient);
  assert.equal(share.vault, 'photos');
  assert.deepEqual(share.scope, { kind: 'prefix', prefix: 'trip/' });
  assert.equal(share.expiresMs, info.expiresMs);
  assert.equal(share.notBeforeMs, info.notBeforeMs);
  assert.deepEqual(share.rights, ['read']);
  assert.deepEqual(await readInbox(store, carol), []);

  const book = new ShareBook();
  assert.equal(book.accept(share), 'new');
  assert.throws(() => book.accept(share), code('Integrity')); // a replay of the grant it holds
  assert.equal(book.size, 1);
  assert.equal(book.get(id).id, id);
  assert.equal(book.find(id.slice(0, 6)).id, id);

  const reader = await SharedReader.open(store, book.shares()[0]);
  assert.equal(reader.share.id, id);
  assert.deepEqual(await keysOf(reader), ['trip/day1.jpg', 'trip/day2.jpg']);
  assert.equal(await reader.getText('trip/day1.jpg'), 'sand');
  const head = await reader.head('trip/day1.jpg');
  assert.equal(head.key, 'trip/day1.jpg');
  assert.equal(head.size, 4);
  assert.equal(head.contentType, 'image/jpeg');
  assert.equal(head.version, (await v.head('trip/day1.jpg')).version);
  // Outside the scope: refused with a stable code, before anything is fetched.
  await assert.rejects(reader.get('taxes/2026.pdf'), code('BadInput'));
  await assert.rejects(reader.head('taxes/2026.pdf'), code('BadInput'));
  await assert.rejects(reader.list({ prefix: 'taxes/' }), code('BadInput'));
  await assert.rejects(reader.get('trip/none.jpg'), code('NotFound'));

  // Alice's writes while the share is live reach Bob.
  await v.put('trip/day3.jpg', enc('hills'));
  const fresh = await SharedReader.open(store, share);
  const all = [];
  for await (const o of fresh.keys({ maxKeys: 1 })) all.push(o.key);
  assert.deepEqual(all, ['trip/day1.jpg', 'trip/day2.jpg', 'trip/day3.jpg']);
  assert.equal(await fresh.getText('trip/day3.jpg'), 'hills');

  // The book keeps, sealed to Bob: only Bob opens it.
  const bytes = book.toBytes(bob);
  const back = ShareBook.fromBytes(bobAgain, bytes);
  assert.deepEqual(back.shares().map((s) => s.id), [id]);
  assert.throws(() => ShareBook.fromBytes(carol, bytes), code('WrongIdentity'));
  const flipped = bytes.slice();
  flipped[flipped.length >> 1] ^= 1;
  assert.throws(() => ShareBook.fromBytes(bob, flipped), (e) => e instanceof CofferError);
  assert.equal(back.remove(id), true);
  assert.equal(back.size, 0);
  reader.free();
  await assert.rejects(reader.get('trip/day1.jpg'), code('BadInput'));
});

test('a short share expires: reads, opens and accepts are refused with ShareNotValid', async () => {
  const store = new MemoryStore();
  const { v } = await aliceVault(store);
  const dave = Identity.generate();
  const id = await v.share({ key: 'trip/day2.jpg', to: dave, expiresMs: Date.now() + 1500 });
  const [entry] = await readInbox(store, dave);
  assert.deepEqual(entry.share.scope, { kind: 'object', key: 'trip/day2.jpg' });
  const book = new ShareBook();
  assert.equal(book.accept(entry.share), 'new');
  const reader = await SharedReader.open(store, book.get(id));
  assert.equal(await reader.getText('trip/day2.jpg'), 'sea');
  await assert.rejects(reader.get('trip/day1.jpg'), code('BadInput')); // an object share: one key

  await sleep(2000);
  await assert.rejects(reader.get('trip/day2.jpg'), code('ShareNotValid'));
  await assert.rejects(reader.list(), code('ShareNotValid'));
  await assert.rejects(SharedReader.open(store, entry.share), code('ShareNotValid'));
  assert.throws(() => new ShareBook().accept(entry.share), code('ShareNotValid'));
  assert.equal((await v.shares())[0].status, 'expired');
});

test('revoke Bob: Carol accepts her new grant and keeps reading; rotate re-grants her', async () => {
  const store = new MemoryStore();
  const { v } = await aliceVault(store);
  const bob = Identity.generate();
  const carol = Identity.generate();
  const expiresMs = Date.now() + parseDuration('30d');
  const bobId = await v.share({ prefix: 'trip/', to: bob, expiresMs });
  const carolId = await v.share({ prefix: 'trip/', to: carol.recipient, expiresMs });
  const bobBook = new ShareBook();
  const carolBook = new ShareBook();
  assert.deepEqual(await acceptAll(store, bob, bobBook), ['new']);
  assert.deepEqual(await acceptAll(store, carol, carolBook), ['new']);
  const bobShare = bobBook.get(bobId);
  const carolShare = carolBook.get(carolId);
  assert.equal(await (await SharedReader.open(store, bobShare)).getText('trip/day1.jpg'), 'sand');

  const report = await v.revoke(bobId);
  assert.equal(report.grants, 1, JSON.stringify(report));
  assert.ok(report.epoch >= 2 && report.objects === 2 && report.keys >= 4 && report.bytesWritten > 0, JSON.stringify(report));
  await v.put('trip/day5.jpg', enc('after the revocation'));
  assert.equal(await v.sharePublishError(), null);

  // Bob's grant is retired, and nothing newer waits for him.
  await assert.rejects(SharedReader.open(store, bobShare), code('ShareNotValid'));
  assert.ok(!(await acceptAll(store, bob, bobBook)).some((a) => a === 'new' || a === 'updated'));
  // Carol's old grant too; her inbox holds a new one.
  await assert.rejects(SharedReader.open(store, carolShare), code('ShareNotValid'));
  assert.deepEqual((await acceptAll(store, carol, carolBook)).sort(), ['Integrity', 'updated']);
  const carolNow = carolBook.get(carolId);
  assert.equal(carolNow.grant, 2);
  const r = await SharedReader.open(store, carolNow);
  assert.equal(await r.getText('trip/day5.jpg'), 'after the revocation');
  assert.deepEqual(await keysOf(r), ['trip/day1.jpg', 'trip/day2.jpg', 'trip/day5.jpg']);

  const status = Object.fromEntries((await v.shares()).map((s) => [s.id, s]));
  assert.equal(status[bobId].status, 'revoked');
  assert.equal(typeof status[bobId].revokedMs, 'number');
  assert.equal(status[carolId].status, 'active');
  assert.equal(status[carolId].grant, 2);

  // A rotation: new keys, a new grant for Carol only.
  const rot = await v.rotate({ prefix: 'trip/' });
  assert.equal(rot.grants, 1);
  await assert.rejects(SharedReader.open(store, carolNow), code('ShareNotValid'));
  assert.ok((await acceptAll(store, carol, carolBook)).includes('updated'));
  assert.equal(carolBook.get(carolId).grant, 3);
  assert.equal(await (await SharedReader.open(store, carolBook.get(carolId))).getText('trip/day2.jpg'), 'sea');
});

test('a version share reads that version only, even after the key moves on', async () => {
  const store = new MemoryStore();
  const { v } = await aliceVault(store);
  const erin = Identity.generate();
  const { version } = await v.head('taxes/2026.pdf');
  await v.share({ key: 'taxes/2026.pdf', version, to: erin, expiresMs: Date.now() + 60_000 });
  await v.put('taxes/2026.pdf', enc('amended'));
  const [{ share }] = await readInbox(store, erin);
  assert.deepEqual(share.scope, { kind: 'version', key: 'taxes/2026.pdf', version });
  const r = await SharedReader.open(store, share);
  assert.equal(await r.getText('taxes/2026.pdf'), 'secret');
  assert.deepEqual(await keysOf(r), ['taxes/2026.pdf']);
  await assert.rejects(r.get('trip/day1.jpg'), code('BadInput'));
});

test('identities from a passphrase or a wallet signature: deterministic, typed errors', () => {
  const a = Identity.fromPassphrase('correct horse battery staple', '  alice@example.com ');
  assert.equal(a.recipient, Identity.fromPassphrase('correct horse battery staple', 'alice@example.com').recipient);
  assert.notEqual(a.recipient, Identity.fromPassphrase('correct horse battery staple', 'Alice@example.com').recipient);
  assert.throws(() => Identity.fromPassphrase('', 'alice'), code('BadInput'));
  assert.throws(() => Identity.fromPassphrase('pass', '  '), code('BadInput'));
  assert.throws(() => Identity.fromPassphrase(42, 'alice'), code('BadInput'));

  const sig = '0x' + '75d4233f22f823785923138b4dab7282d567616fd0a5acd558e855176f4df23f'
    + '1aa8468d48663e69a404c7535cdea3a70b68f08adefe391c634620f34b96ab71' + '1c';
  const w = Identity.fromWalletSignature(sig);
  assert.equal(w.recipient, Identity.fromWalletSignature(Buffer.from(sig.slice(2), 'hex')).recipient);
  assert.equal(w.recipient, Identity.fromWalletSignature(sig.slice(2).toUpperCase()).recipient);
  assert.throws(() => Identity.fromWalletSignature('0x1234'), code('BadKey'));
  assert.throws(() => Identity.fromWalletSignature('not hex'), code('BadInput'));
  assert.throws(() => Identity.fromWalletSignature('0x123'), code('BadInput'));
  assert.throws(() => Identity.fromWalletSignature(null), code('BadInput'));
});

test('bad input to sharing: typed errors, nothing shared', async () => {
  const store = new MemoryStore();
  const { v } = await aliceVault(store);
  const bob = Identity.generate();
  const exp = Date.now() + 60_000;
  const bad = [
    [undefined, 'BadInput'],
    [{ to: bob.recipient, expiresMs: exp }, 'BadInput'], // no scope
    [{ prefix: 'a/', key: 'b', to: bob.recipient, expiresMs: exp }, 'BadInput'],
    [{ prefix: 'a/', version: 'x', to: bob.recipient, expiresMs: exp }, 'BadInput'],
    [{ kind: 'object', prefix: 'a/', to: bob.recipient, expiresMs: exp }, 'BadInput'],
    [{ prefix: 'trip/', expiresMs: exp }, 'BadInput'], // no recipient
    [{ prefix: 'trip/', to: 'coffer1nonsense', expiresMs: exp }, 'BadKey'],
    [{ prefix: 'trip/', to: bob.recipient }, 'BadInput'], // no expiry
    [{ prefix: 'trip/', to: bob.recipient, expiresMs: -5 }, 'BadInput'],
    [{ prefix: 'trip/', to: bob.recipient, expiresMs: Date.now() - 1 }, 'BadInput'], // past
    [{ prefix: 'trip/', to: bob.recipient, expiresMs: exp, notBeforeMs: exp + 1 }, 'BadInput'],
    [{ key: 'trip/day1.jpg', version: 'not-a-cid', to: bob.recipient, expiresMs: exp }, 'BadInput'],
    [{ prefix: 42, to: bob.recipient, expiresMs: exp }, 'BadInput'],
  ];
  for (const [req, c] of bad) await assert.rejects(v.share(req), code(c), JSON.stringify(req));
  assert.deepEqual(await v.shares(), []);
  assert.deepEqual(await readInbox(store, bob), []);

  await assert.rejects(v.revoke('xyz'), code('BadInput'));
  await assert.rejects(v.revoke('00'.repeat(16)), code('BadInput')); // no such share
  await assert.rejects(v.rotate({ prefix: 'trip/' }), code('BadInput')); // nothing shared
  await assert.rejects(v.rotate('trip/'), code('BadInput'));

  await assert.rejects(readInbox(store, 'bob'), code('BadInput'));
  await assert.rejects(readInbox({}, bob), code('BadInput'));
  await assert.rejects(SharedReader.open(store, { id: 'x' }), code('BadInput'));
  assert.throws(() => new ShareBook().accept('share'), code('BadInput'));
  assert.throws(() => new ShareBook().accept(undefined), code('BadInput'));
  assert.throws(() => new ShareBook().find('ab'), code('BadInput'));
  assert.throws(() => new ShareBook().get('nope'), code('BadInput'));
  assert.equal(new ShareBook().get('00'.repeat(16)), undefined);
  assert.throws(() => new ShareBook(5), code('BadInput'));
  assert.throws(() => ShareBook.fromBytes(bob, enc('not a book')), (e) => e instanceof CofferError);
  assert.throws(() => ShareBook.fromBytes(bob, 'x'), code('BadInput'));
  assert.throws(() => new ShareBook().toBytes('bob'), code('BadInput'));
  for (const d of ['7x', 'd', '', '0s', '99999999999999999999w']) assert.throws(() => parseDuration(d), code('BadInput'), d);
  assert.throws(() => parseDuration(7), code('BadInput'));
  assert.equal(parseDuration('90s'), 90_000);

  // A failing transport while reading an inbox: "Store", no crash.
  const failing = new MemoryStore();
  failing.readHeads = async () => { throw new TypeError('Failed to fetch'); };
  await assert.rejects(readInbox(failing, bob), code('Store'));
});
