// The Vault over SeaweedFS through the S3 JS store, with the Rust S3 store's object layout.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { S3Client, ListObjectsV2Command, GetObjectCommand } from '@aws-sdk/client-s3';
import { Identity, Vault, cid, ShareBook, SharedReader, readInbox } from '@coffer/sdk';
import { S3Store } from '@coffer/sdk/stores/s3';
import { enc, pattern251, watchUnhandled } from './helpers.mjs';

const unhandled = watchUnhandled();
after(() => unhandled.assertNone());

const endpoint = process.env.COFFER_TEST_S3_ENDPOINT;
const bucket = process.env.COFFER_TEST_S3_BUCKET;
if (!endpoint || !bucket) throw new Error('COFFER_TEST_S3_ENDPOINT/BUCKET unset: run via `npm test` or `.ci/seaweedfs.sh start && source .ci/state/env`');
const credentials = { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY };
const newStore = (prefix) => new S3Store({ endpoint, bucket, prefix, credentials, region: process.env.AWS_REGION });

test('vault round trip on SeaweedFS; layout matches the Rust S3 store', async () => {
  const prefix = `js-test-${randomBytes(6).toString('hex')}`;
  const store = newStore(prefix);
  const me = Identity.generate();
  const v = await Vault.create(store, me, 'photos', 'laptop');
  const big = pattern251(3 * 1024 * 1024 + 17);
  const info = await v.put('cat.jpg', big, { contentType: 'image/jpeg' });
  await v.put('notes.txt', enc('meow'));
  assert.deepEqual(await v.get('cat.jpg'), big);
  assert.deepEqual(await v.getRange('cat.jpg', 1_000_000, 1_000_100), big.slice(1_000_000, 1_000_100));
  assert.equal((await v.list()).keyCount, 2);

  // <prefix>/blocks/<cid> and <prefix>/heads/<vault>/<writer>, nothing else.
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
  const keys = (await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/` }))).Contents.map((o) => o.Key);
  assert.ok(keys.every((k) => /^js-test-[0-9a-f]+\/(blocks\/b[a-z2-7]+|heads\/photos\/[0-9a-z._-]+)$/.test(k)), keys.join('\n'));
  assert.equal(keys.filter((k) => k.includes('/heads/photos/')).length, 1);
  const dataKey = `${prefix}/blocks/${info.data}`;
  assert.ok(keys.includes(dataKey));
  const sealed = await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: dataKey }))).Body.transformToByteArray();
  assert.equal(cid(sealed), info.data);

  // A second device syncs through S3; conditional head writes are enforced.
  const phone = await Vault.open(newStore(prefix), me, 'photos', 'phone');
  await phone.sync();
  assert.equal(await phone.getText('notes.txt'), 'meow');
  const heads = await store.readHeads('photos');
  assert.equal(heads.length, 2);
  const h = heads[0];
  await assert.rejects(store.writeHead('photos', h.writer, h.bytes, { type: 'absent' }), { code: 'PreconditionFailed' });
  await assert.rejects(store.writeHead('photos', h.writer, h.bytes, { type: 'matches', version: '"0123"' }), { code: 'PreconditionFailed' });
  const nv = await store.writeHead('photos', h.writer, h.bytes, { type: 'matches', version: h.version });
  assert.equal(typeof nv, 'string');
  assert.equal(await store.getRange(info.data, 0, 0).then((b) => b.length), 0);
  await assert.rejects(store.getRange(info.data, 0, info.sealedSize + 1), { code: 'RangeOutOfBounds' });
  assert.equal(await store.get('bafkr4ihymb2ychqmwdpjoygmvrmqp46c2355fmzzdwce2spfx5xmwbvuzm'), null);
});

test('wrong credentials: CofferError "Store" naming access denied', async () => {
  const store = new S3Store({ endpoint, bucket, prefix: 'js-denied', credentials: { accessKeyId: 'nobody', secretAccessKey: 'wrong-wrong-wrong' }, maxAttempts: 1 });
  await assert.rejects(Vault.create(store, Identity.generate(), 'v', 'd'), (e) => {
    assert.equal(e.name, 'CofferError');
    assert.equal(e.code, 'Store');
    assert.match(e.message, /access denied|AccessDenied|InvalidAccessKeyId|403/i);
    return true;
  });
});

test('an unreachable endpoint: CofferError "Store"', async () => {
  const store = new S3Store({ endpoint: 'http://127.0.0.1:9', bucket, credentials, maxAttempts: 1 });
  await assert.rejects(Vault.create(store, Identity.generate(), 'v', 'd'), { name: 'CofferError', code: 'Store' });
});

test('sharing on SeaweedFS: Bob reads his inbox through his own S3Store, accepts, reads, is revoked', async () => {
  const prefix = `js-share-${randomBytes(6).toString('hex')}`;
  const alice = Identity.generate();
  const bob = Identity.generate();
  const v = await Vault.create(newStore(prefix), alice, 'photos', 'laptop');
  await v.put('trip/day1.jpg', enc('sand'));
  await v.put('taxes/2026.pdf', enc('secret'));
  const id = await v.share({ prefix: 'trip/', to: bob.recipient, expiresMs: Date.now() + 3_600_000 });

  const bobStore = newStore(prefix);
  const [entry, ...rest] = await readInbox(bobStore, bob);
  assert.equal(rest.length, 0);
  const book = new ShareBook();
  assert.equal(book.accept(entry.share), 'new');
  const reader = await SharedReader.open(bobStore, book.get(id));
  assert.equal(await reader.getText('trip/day1.jpg'), 'sand');
  assert.deepEqual((await reader.list()).contents.map((o) => o.key), ['trip/day1.jpg']);
  await assert.rejects(reader.get('taxes/2026.pdf'), { name: 'CofferError', code: 'BadInput' });

  await v.revoke(id);
  await assert.rejects(SharedReader.open(bobStore, book.get(id)), { name: 'CofferError', code: 'ShareNotValid' });
});
