// Read-write shares (docs/FORMAT.md §9.1) and owner identity rotation (§8) through the npm
// package, on the in-memory JS store: Alice grants Bob write under a prefix, Bob writes and
// commits, Alice merges; writes outside the prefix, after expiry and after revocation are
// refused; Alice hands her vault over to a new identity, which reads everything, while the old
// identity can no longer open it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Identity, Vault, MemoryStore, ShareBook, SharedReader, SharedWriter, readInbox,
} from '@coffer/sdk';
import { enc, watchUnhandled, sleep, code } from './helpers.mjs';

const unhandled = watchUnhandled();
after(() => unhandled.assertNone());

const HOUR = 3_600_000;

/** The newest grant of each share in `who`'s inbox. */
async function grants(store, who) {
  const book = new ShareBook();
  for (const e of await readInbox(store, who)) {
    if (e.share) try { book.accept(e.share); } catch { /* an older grant */ }
  }
  return book;
}

async function teamVault(store) {
  const alice = Identity.generate();
  const v = await Vault.create(store, alice, 'team', 'laptop');
  await v.put('docs/plan.md', enc('v0'));
  await v.put('private/diary.md', enc('mine'));
  return { alice, v };
}

test('a co-writer writes under its prefix; the owner merges it (sync and mergeCowriters)', async () => {
  const store = new MemoryStore();
  const { alice, v } = await teamVault(store);
  const bob = Identity.generate();
  const carol = Identity.generate();
  const bobId = await v.share({ prefix: 'docs/', to: bob, expiresMs: Date.now() + HOUR, write: true });
  const carolId = await v.share({ prefix: 'docs/', to: carol, expiresMs: Date.now() + HOUR });
  const infos = Object.fromEntries((await v.shares()).map((i) => [i.id, i]));
  assert.equal(infos[bobId].write, true);
  assert.equal(infos[carolId].write, false);

  const share = (await grants(store, bob)).get(bobId);
  assert.equal(share.canWrite, true);
  assert.deepEqual(share.rights, ['read', 'write']);
  const w = await SharedWriter.open(store, bob, share);
  assert.equal(w.share.id, bobId);
  assert.match(w.writerId, /^[0-9a-f]{32}$/);
  const version = await w.put('docs/notes.md', enc('from bob'), { contentType: 'text/markdown' });
  assert.match(version, /^b/); // a CID
  await w.put('docs/plan.md', enc('v1 by bob'));
  // Nothing is visible before the commit.
  await v.sync();
  await assert.rejects(v.get('docs/notes.md'), code('NotFound'));
  assert.equal(await w.commit(), 1);
  // Bob reads his own commit through the share.
  const seen = await w.reader();
  assert.equal(await seen.getText('docs/notes.md'), 'from bob');

  // Alice merges (without reading other devices' heads), then reads what Bob wrote.
  await v.mergeCowriters();
  assert.equal(await v.getText('docs/notes.md'), 'from bob');
  assert.equal((await v.head('docs/notes.md')).contentType, 'text/markdown');
  assert.equal(await v.getText('docs/plan.md'), 'v1 by bob');
  assert.equal((await v.versions('docs/plan.md')).length, 2); // Alice's version is kept
  assert.deepEqual(await v.skippedHeads(), []);

  // A delete by Bob reaches Alice at her next sync; her other device sees it all too.
  await w.delete('docs/notes.md');
  assert.equal(await w.commit(), 2);
  await v.sync();
  await assert.rejects(v.get('docs/notes.md'), code('NotFound'));
  const phone = await Vault.open(store, alice, 'team', 'phone');
  await phone.sync();
  assert.equal(await phone.getText('docs/plan.md'), 'v1 by bob');

  // Carol, a read-only recipient, reads Bob's edit and cannot open a writer.
  const carolShare = (await grants(store, carol)).get(carolId);
  assert.equal(carolShare.canWrite, false);
  assert.equal(await (await SharedReader.open(store, carolShare)).getText('docs/plan.md'), 'v1 by bob');
  await assert.rejects(SharedWriter.open(store, carol, carolShare), code('NotWriter'));
  // Nor can Carol open Bob's grant.
  await assert.rejects(SharedWriter.open(store, carol, share), code('WrongIdentity'));
  w.free();
  await assert.rejects(w.put('docs/x', enc('x')), code('BadInput'));
});

test('a write outside the prefix is WriteOutsideScope and writes nothing', async () => {
  const store = new MemoryStore();
  const { v } = await teamVault(store);
  const bob = Identity.generate();
  const id = await v.share({ prefix: 'docs/', to: bob, expiresMs: Date.now() + HOUR, write: true });
  const w = await SharedWriter.open(store, bob, (await grants(store, bob)).get(id));
  await assert.rejects(w.put('private/diary.md', enc('evil')), code('WriteOutsideScope'));
  await assert.rejects(w.put('doc', enc('evil')), code('WriteOutsideScope'));
  await assert.rejects(w.delete('private/diary.md'), code('WriteOutsideScope'));
  await w.put('docs/ok.md', enc('fine'));
  await w.commit();
  await v.sync();
  assert.equal(await v.getText('private/diary.md'), 'mine');
  assert.equal(await v.getText('docs/ok.md'), 'fine');
  assert.deepEqual(await v.skippedHeads(), []);
  // Bad arguments: typed errors.
  await assert.rejects(SharedWriter.open(store, 'bob', w.share), code('BadInput'));
  await assert.rejects(SharedWriter.open(store, bob, { id }), code('BadInput'));
  await assert.rejects(w.put(42, enc('x')), code('BadInput'));
  await assert.rejects(w.put('docs/y', 'not bytes'), code('BadInput'));
  await assert.rejects(v.share({ prefix: 'docs/', to: bob, expiresMs: Date.now() + HOUR, write: 'yes' }), code('BadInput'));
  const { version } = await v.head('docs/ok.md');
  await assert.rejects(v.share({ key: 'docs/ok.md', version, to: bob, expiresMs: Date.now() + HOUR, write: true }), code('BadInput'));
});

test('an expired co-writer writes no more; what the owner merged before stays', async () => {
  const store = new MemoryStore();
  const { v } = await teamVault(store);
  const bob = Identity.generate();
  const id = await v.share({ prefix: 'docs/', to: bob, expiresMs: Date.now() + 1500, write: true });
  const w = await SharedWriter.open(store, bob, (await grants(store, bob)).get(id));
  await w.put('docs/before.md', enc('kept'));
  await w.commit();
  await v.sync();
  await sleep(2000);
  await assert.rejects(w.put('docs/after.md', enc('late')), code('ShareNotValid'));
  await assert.rejects(w.delete('docs/before.md'), code('ShareNotValid'));
  await assert.rejects(w.commit(), code('ShareNotValid'));
  await v.sync();
  assert.equal(await v.getText('docs/before.md'), 'kept');
  await assert.rejects(v.get('docs/after.md'), code('NotFound'));
  assert.equal((await v.shares())[0].status, 'expired');
});

test('a revoked co-writer writes no more; what it committed before is merged and kept', async () => {
  const store = new MemoryStore();
  const { v } = await teamVault(store);
  const bob = Identity.generate();
  const carol = Identity.generate();
  const bobId = await v.share({ prefix: 'docs/', to: bob, expiresMs: Date.now() + HOUR, write: true });
  const carolId = await v.share({ prefix: 'docs/', to: carol, expiresMs: Date.now() + HOUR, write: true });
  const b = await SharedWriter.open(store, bob, (await grants(store, bob)).get(bobId));
  await b.put('docs/plan.md', enc("bob's edit"));
  await b.commit();
  // Not merged by Alice yet: the revocation merges it first.
  await v.revoke(bobId);
  assert.equal(await v.getText('docs/plan.md'), "bob's edit");
  assert.equal((await v.versions('docs/plan.md')).length, 2);
  await assert.rejects(b.put('docs/late.md', enc('no')), code('ShareNotValid'));
  await assert.rejects(b.commit(), code('ShareNotValid'));
  // Reopening with the old grant is refused too.
  await assert.rejects(
    SharedWriter.open(store, bob, (await grants(store, bob)).get(bobId)).then((w) => w.put('docs/late.md', enc('no'))),
    code('ShareNotValid'),
  );
  // Carol, re-granted into the new epoch, goes on writing.
  const carolShare = (await grants(store, carol)).get(carolId);
  assert.equal(carolShare.grant, 2);
  const c = await SharedWriter.open(store, carol, carolShare);
  await c.put('docs/carol.md', enc('hi'));
  await c.commit();
  await v.sync();
  assert.equal(await v.getText('docs/carol.md'), 'hi');
  await assert.rejects(v.get('docs/late.md'), code('NotFound'));
});

test('identity rotation: the new identity reads everything; the old one is HandedOver', async () => {
  const store = new MemoryStore();
  const { alice, v } = await teamVault(store);
  const phone = await Vault.open(store, alice, 'team', 'phone');
  await phone.put('docs/from-phone.md', enc('phone'));
  const bob = Identity.generate();
  await v.share({ prefix: 'docs/', to: bob, expiresMs: Date.now() + HOUR });
  assert.equal(await v.owner(), alice.recipient);
  assert.deepEqual(await v.handovers(), []);

  // Rules: not to itself, not to a share recipient.
  await assert.rejects(v.rotateIdentity(alice), code('BadInput'));
  await assert.rejects(v.rotateIdentity(bob), code('BadInput'));
  await assert.rejects(v.rotateIdentity('alice2'), code('BadInput'));

  const alice2 = Identity.generate();
  const r = await v.rotateIdentity(alice2);
  assert.equal(r.from, alice.recipient);
  assert.equal(r.to, alice2.recipient);
  assert.equal(r.resumed, false);
  assert.equal(r.finalHeads, 2); // the laptop's and the phone's last heads as Alice
  assert.equal(r.records, 1); // Bob's share record
  assert.ok(r.bytesWritten > 0 && r.bytesWritten < 64 * 1024, `${r.bytesWritten}`);
  assert.match(r.handover, /^b/);
  assert.match(r.keyBlock, /^b/);
  assert.equal(await v.owner(), alice2.recipient);
  const [h, ...more] = await v.handovers();
  assert.equal(more.length, 0);
  assert.deepEqual({ n: h.n, cid: h.cid, from: h.from, to: h.to }, { n: 1, cid: r.handover, from: alice.recipient, to: alice2.recipient });
  assert.ok(Math.abs(h.timeMs - Date.now()) < 60_000);
  await v.put('docs/after.md', enc('as alice2'));

  // The old identity: its open device stops, and it can open the vault no more.
  await assert.rejects(phone.sync(), code('HandedOver'));
  await assert.rejects(Vault.open(store, alice, 'team', 'tablet'), code('HandedOver'));
  // The new identity, on a fresh device, reads everything, old and new, and writes.
  const fresh = await Vault.open(store, alice2, 'team', 'tablet');
  await fresh.sync();
  for (const [k, t] of [['docs/plan.md', 'v0'], ['private/diary.md', 'mine'], ['docs/from-phone.md', 'phone'], ['docs/after.md', 'as alice2']]) {
    assert.equal(await fresh.getText(k), t, k);
  }
  assert.equal((await fresh.handovers()).length, 1);
  await fresh.put('docs/tablet.md', enc('tablet'));
  await v.sync();
  assert.equal(await v.getText('docs/tablet.md'), 'tablet');
  assert.deepEqual(await v.skippedHeads(), []);
  // The rotation carried Bob's share over (docs/THREATS.md, rotation): the grant the old identity
  // signed is retired (ShareNotValid: revoked), and a new one, signed by the new identity, is in
  // his inbox and reads what was written before and after.
  const bobGrants = (await readInbox(store, bob)).map((e) => e.share).filter(Boolean);
  const oldGrant = bobGrants.find((s) => s.issuer === alice.recipient);
  const newGrant = bobGrants.find((s) => s.issuer === alice2.recipient);
  assert.ok(oldGrant && newGrant, 'both grants are in the inbox');
  await assert.rejects(SharedReader.open(store, oldGrant), code('ShareNotValid'));
  const bobReader = await SharedReader.open(store, newGrant);
  assert.equal(await bobReader.getText('docs/after.md'), 'as alice2');
  assert.equal(await bobReader.getText('docs/plan.md'), 'v0');

  // openAndRotateIdentity after the fact: resumed, the vault opened with the new identity.
  const again = await Vault.openAndRotateIdentity(store, alice, alice2, 'team', 'phone');
  assert.equal(again.rotation.resumed, true);
  assert.equal(again.rotation.handover, r.handover);
  assert.equal(again.rotation.bytesWritten, 0);
  assert.equal(await again.vault.owner(), alice2.recipient);
  await again.vault.sync();
  assert.equal(await again.vault.getText('docs/after.md'), 'as alice2');
  // Back to a retired identity: refused.
  await assert.rejects(v.rotateIdentity(alice), code('BadInput'));
});

test('openAndRotateIdentity rotates in one call from a fresh process', async () => {
  const store = new MemoryStore();
  const { alice } = await teamVault(store);
  const alice2 = Identity.generate();
  const { vault, rotation } = await Vault.openAndRotateIdentity(store, alice, alice2, 'team', 'laptop');
  assert.equal(rotation.resumed, false);
  assert.equal(rotation.to, alice2.recipient);
  assert.equal(await vault.owner(), alice2.recipient);
  assert.equal(await vault.getText('docs/plan.md'), 'v0');
  await assert.rejects(Vault.open(store, alice, 'team', 'laptop'), code('HandedOver'));
  // A third identity the vault was never handed to cannot take it over with the old key.
  await assert.rejects(Vault.openAndRotateIdentity(store, alice, Identity.generate(), 'team', 'laptop'), code('HandedOver'));
  await assert.rejects(Vault.openAndRotateIdentity(store, alice, 'x', 'team'), code('BadInput'));
});
