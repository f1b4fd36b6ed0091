// The Vault on a Kubo node through the IPFS JS store (Kubo RPC over fetch), the Rust IPFS
// store's layout: blocks pinned as coffer:<ns>, blobs over 1 MiB as leaves + a blob-v1 root.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Identity, Vault, blobRootDecode } from '@coffer/sdk';
import { IpfsStore } from '@coffer/sdk/stores/ipfs';
import { enc, pattern251, watchUnhandled } from './helpers.mjs';

const unhandled = watchUnhandled();
after(() => unhandled.assertNone());

const api = process.env.COFFER_TEST_IPFS_API;
if (!api) throw new Error('COFFER_TEST_IPFS_API unset: run via `npm test` or `.ci/kubo.sh start && source .ci/state/env`');

async function rpc(cmd, args) {
  const qs = new URLSearchParams(args).toString();
  const r = await fetch(`${api}/api/v0/${cmd}?${qs}`, { method: 'POST' });
  return { status: r.status, body: new Uint8Array(await r.arrayBuffer()) };
}

test('vault round trip on Kubo, large blobs as leaf DAGs', { timeout: 120_000 }, async () => {
  const namespace = `js-${randomBytes(5).toString('hex')}`;
  const store = new IpfsStore({ api, namespace });
  const me = Identity.generate();
  const v = await Vault.create(store, me, 'docs', 'laptop');
  const big = pattern251(3 * 1024 * 1024 + 1234);
  const info = await v.put('big.bin', big);
  await v.put('small.txt', enc('hi ipfs'));
  assert.deepEqual(await v.get('big.bin'), big);
  // A range across the first leaf boundary.
  assert.deepEqual(await v.getRange('big.bin', 1_048_000, 1_049_000), big.slice(1_048_000, 1_049_000));
  assert.equal(await v.getText('small.txt'), 'hi ipfs');

  // The sealed blob is mapped in MFS to a blob-v1 root whose leaves are 1 MiB raw blocks.
  const map = await rpc('files/read', { arg: `/coffer/${namespace}/blobs/${info.data}` });
  assert.equal(map.status, 200);
  const rootCid = new TextDecoder().decode(map.body).trim();
  const rootBlock = await rpc('block/get', { arg: rootCid });
  const root = blobRootDecode(info.data, rootBlock.body);
  assert.equal(root.size, info.sealedSize);
  assert.equal(root.leafSize, 1 << 20);
  assert.equal(root.leaves.length, Math.ceil(info.sealedSize / (1 << 20)));
  assert.ok((await store.list()).includes(info.data));
  assert.ok(await store.has(info.data));

  // Heads in MFS; a second device syncs.
  const phone = await Vault.open(new IpfsStore({ api, namespace }), me, 'docs', 'phone');
  await phone.sync();
  assert.deepEqual(await phone.get('big.bin'), big);
  const heads = await store.readHeads('docs');
  assert.equal(heads.length, 2);
  await assert.rejects(store.writeHead('docs', heads[0].writer, heads[0].bytes, { type: 'absent' }), { code: 'PreconditionFailed' });

  // Delete unpins and unmaps the blob.
  await store.delete(info.data);
  assert.equal(await store.has(info.data), false);
  assert.equal(await store.get(info.data), null);
});

test('a node that is down: CofferError "Store"', async () => {
  const store = new IpfsStore({ api: 'http://127.0.0.1:9' });
  await assert.rejects(Vault.create(store, Identity.generate(), 'v', 'd'), { name: 'CofferError', code: 'Store' });
});
