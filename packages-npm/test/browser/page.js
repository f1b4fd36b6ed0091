// Runs in headless Chromium (bundled by esbuild in browser.test.mjs): a Vault over SeaweedFS via
// the S3 JS store and over IndexedDB; a connection that drops mid-upload. Reports to window.__result.
import {
  Identity, Vault, MemoryStore, seal, open, sealAsync, openAsync, webCryptoAvailable, blake3,
  ShareBook, SharedReader, readInbox,
} from '../../dist/index.js';
import { S3Store } from '../../dist/stores/s3.js';
import { IndexedDbStore } from '../../dist/stores/indexeddb.js';
import { indexedDbTrust } from '../../dist/trust/indexeddb.js';
import { unhandled, cfg, enc, pattern, same, check, expectError } from './page-util.js';

async function run() {
  const steps = [];
  const me = Identity.generate();
  const s3 = () => new S3Store({ endpoint: cfg.endpoint, bucket: cfg.bucket, prefix: cfg.prefix, credentials: cfg.credentials, region: 'us-east-1', maxAttempts: 1 });

  // 1. Seal/open in the page.
  const sealed = seal(enc('in the browser'), me, { signer: me });
  const o = open(me, sealed);
  check(new TextDecoder().decode(o.plaintext) === 'in the browser' && o.signer === me.recipient, 'seal/open');
  // WebCrypto's AES-GCM (sealAsync/openAsync): objects cross with the wasm path both ways, and a
  // damaged object gets the wasm path's error (code and message) on both backends.
  check(webCryptoAvailable(), 'crypto.subtle on a 127.0.0.1 page');
  const data = pattern(300_000);
  const web = await sealAsync(data, me, { signer: me, segmentSizeLog2: 12, backend: 'webcrypto' });
  check(same(open(me, web).plaintext, data), 'webcrypto seal, wasm open');
  const wo = await openAsync(me, sealed, { backend: 'webcrypto' });
  check(same(wo.plaintext, o.plaintext) && wo.signer === me.recipient && wo.root === blake3(sealed), 'wasm seal, webcrypto open');
  for (const at of [100, web.length - 200, web.length - 20, web.length - 1]) {
    const bad = web.slice();
    bad[at] ^= 1;
    let want;
    try { open(me, bad); } catch (e) { want = `${e.code}: ${e.message}`; }
    check(want, `damage at ${at} refused`);
    for (const backend of ['webcrypto', 'portable']) {
      const e = await expectError(openAsync(me, bad, { backend }), want.split(':')[0], `${backend} damage at ${at}`);
      check(`${e.code}: ${e.message}` === want, `${backend} damage at ${at}: ${e.message} vs ${want}`);
    }
  }
  steps.push('seal/open (wasm and WebCrypto)');

  // 2. A vault on SeaweedFS: put, get, getRange, list, a second device syncing.
  const v = await Vault.create(s3(), me, 'browser', 'tab');
  const big = pattern(2 * 1024 * 1024 + 5);
  const info = await v.put('big.bin', big, { contentType: 'application/octet-stream' });
  await v.put('hello.txt', enc('hello from chromium'));
  check(same(await v.get('big.bin'), big), 'get big');
  check(same(await v.getRange('big.bin', 1_500_000, 1_600_000), big.slice(1_500_000, 1_600_000)), 'getRange');
  check((await v.list()).keyCount === 2, 'list');
  const other = await Vault.open(s3(), me, 'browser', 'other-tab');
  await other.sync();
  check((await other.getText('hello.txt')) === 'hello from chromium', 'sync');
  steps.push(`s3 vault (data ${info.data})`);

  // 3. The connection drops mid-upload (the test aborts S3 PUTs after the first one): a typed
  //    error, and the object is not committed.
  await window.goOffline(1);
  await expectError(v.put('hello.txt', pattern(300_000)), 'Store', 'offline put');
  await window.goOnline();
  check((await v.getText('hello.txt')) === 'hello from chromium', 'old value kept after failed put');
  const fresh = await Vault.open(s3(), me, 'browser', 'tab');
  check((await fresh.getText('hello.txt')) === 'hello from chromium', 'nothing committed');
  await v.put('hello.txt', enc('back online'));
  check((await v.getText('hello.txt')) === 'back online', 'works again');
  steps.push('offline mid-upload');

  // 4. An unreachable endpoint and a rejecting app transport.
  const dead = new S3Store({ endpoint: 'http://127.0.0.1:9', bucket: 'x', credentials: cfg.credentials, maxAttempts: 1 });
  await expectError(Vault.create(dead, me, 'v', 'd'), 'Store', 'unreachable');
  const rejecting = Object.assign(new MemoryStore(), {});
  rejecting.put = () => Promise.reject(new TypeError('Failed to fetch'));
  await expectError(Vault.create(rejecting, me, 'v', 'd'), 'Store', 'rejecting transport');
  await expectError(v.put('k', 'not bytes'), 'BadInput', 'string as bytes');
  steps.push('errors');

  // 5. Offline storage in IndexedDB, read back after reopening the database.
  const name = `coffer-test-${Math.random().toString(16).slice(2)}`;
  let idb = await IndexedDbStore.open(name);
  const local = await Vault.create(idb, me, 'offline', 'tab');
  await local.put('doc', pattern(100_000));
  idb.close();
  idb = await IndexedDbStore.open(name);
  const local2 = await Vault.open(idb, me, 'offline', 'tab');
  check(same(await local2.get('doc'), pattern(100_000)), 'indexeddb round trip');
  steps.push('indexeddb');

  // 6. Sharing in the page: Alice shares a prefix of her IndexedDB vault with Bob, whose identity
  //    comes from his passphrase (Argon2id, 64 MiB, in the page); Bob accepts and reads.
  const bob = Identity.fromPassphrase('correct horse battery staple', 'bob@example.com');
  await local2.put('trip/day1.jpg', enc('sand'));
  const id = await local2.share({ prefix: 'trip/', to: bob.recipient, expiresMs: Date.now() + 60_000 });
  const book = new ShareBook();
  for (const e of await readInbox(idb, bob)) check(book.accept(e.share) === 'new', 'accept');
  const reader = await SharedReader.open(idb, book.get(id));
  check((await reader.getText('trip/day1.jpg')) === 'sand', 'shared read');
  await expectError(reader.get('doc'), 'BadInput', 'out of scope');
  await local2.revoke(id);
  await expectError(SharedReader.open(idb, book.get(id)), 'ShareNotValid', 'revoked');
  steps.push('sharing');

  // 7. Trust memory in IndexedDB, before a page reload: two versions written, then the store's
  //    head put back to the first (what a hostile or restored store does). After the reload,
  //    reopenAfterReload() must refuse it.
  {
    const store = await IndexedDbStore.open(cfg.trustStore);
    const trust = indexedDbTrust(cfg.trustDb);
    const tv = await Vault.create(store, me, 'diary', 'tab', { trust });
    await tv.put('today', enc('one'));
    const [old] = await store.readHeads('diary');
    await tv.put('today', enc('two'));
    tv.free();
    await trust.close();
    // A second connection to the same trust database, in the same page: still refused.
    await store.writeHead('diary', old.writer, old.bytes, { type: 'any' });
    await expectError(Vault.open(store, me, 'diary', 'tab', { trust: indexedDbTrust(cfg.trustDb) }), 'Untrusted', 'rollback, same page');
    localStorage.setItem('coffer-identity', me.toSecretString());
    store.close();
  }
  steps.push('indexeddb trust');

  await new Promise((r) => setTimeout(r, 50));
  check(unhandled.length === 0, `unhandled rejections: ${unhandled.join('; ')}`);
  return steps;
}

/** After a page reload: the trust memory survived in IndexedDB and refuses the rolled-back head. */
async function reopenAfterReload() {
  const me = Identity.fromString(localStorage.getItem('coffer-identity'));
  const store = await IndexedDbStore.open(cfg.trustStore);
  const e = await expectError(Vault.open(store, me, 'diary', 'tab', { trust: indexedDbTrust(cfg.trustDb) }),
    'Untrusted', 'rollback after a reload');
  check(/rolled it back/.test(e.message), e.message);
  // Without trust memory the old state is served (the documented default).
  const plain = await Vault.open(store, me, 'diary', 'tab');
  check((await plain.getText('today')) === 'one', 'no trust: old state');
  return ['indexeddb trust after reload'];
}

(cfg.phase === 'reload' ? reopenAfterReload() : run()).then(
  (steps) => { window.__result = { ok: true, steps }; },
  (e) => { window.__result = { ok: false, error: `${e?.name}: ${e?.message}\n${e?.stack}` }; },
);
