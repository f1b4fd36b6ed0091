// Runs in headless Chromium (bundled by esbuild in browser-ipfs.test.mjs), served from the one
// origin the test Kubo allows (CORS): a Vault over the Kubo RPC API through the IPFS JS store,
// and a block swapped in transit. Reports to window.__result.
import { Identity, Vault, CofferError } from '../../dist/index.js';
import { IpfsStore } from '../../dist/stores/ipfs.js';
import { unhandled, cfg, enc, pattern, same, check } from './page-util.js';

async function run() {
  const steps = [];
  const me = Identity.generate();
  const store = () => new IpfsStore({ api: cfg.api, namespace: cfg.namespace });

  // 1. A vault on Kubo from the page: a blob over 1 MiB (a DAG of 1 MiB leaves), a small object,
  //    a range across the first leaf boundary, a listing, a second device syncing.
  const v = await Vault.create(store(), me, 'browser', 'tab');
  const big = pattern(2 * 1024 * 1024 + 5);
  const info = await v.put('big.bin', big);
  await v.put('hello.txt', enc('hello from chromium over ipfs'));
  check(same(await v.get('big.bin'), big), 'get big');
  check(same(await v.getRange('big.bin', 1_048_000, 1_049_000), big.slice(1_048_000, 1_049_000)), 'range across leaves');
  check((await v.list()).keyCount === 2, 'list');
  const other = await Vault.open(store(), me, 'browser', 'other-tab');
  await other.sync();
  check((await other.getText('hello.txt')) === 'hello from chromium over ipfs', 'sync');
  steps.push(`ipfs vault (data ${info.data})`);

  // 2. The node (or anything between it and the page) answers every block read with other
  //    bytes: a typed error, never the wrong data.
  await window.tamper(true);
  let error = null;
  try {
    const fresh = await Vault.open(store(), me, 'browser', 'third-tab');
    await fresh.sync();
    await fresh.get('hello.txt');
  } catch (e) { error = e; }
  await window.tamper(false);
  check(error instanceof CofferError, `a CofferError, got ${error}`);
  check(/do not match|Corrupt/i.test(`${error.code} ${error.message}`), `names the mismatch: ${error.code} ${error.message}`);
  steps.push(`swapped block refused (${error.code})`);

  // 3. Untampered again, the same read works; a delete unpins.
  const again = await Vault.open(store(), me, 'browser', 'third-tab');
  await again.sync();
  check((await again.getText('hello.txt')) === 'hello from chromium over ipfs', 'read after tampering stops');
  const s = store();
  await s.delete(info.data);
  check((await s.has(info.data)) === false, 'delete unpins');
  steps.push('delete');

  await new Promise((r) => setTimeout(r, 50));
  check(unhandled.length === 0, `unhandled rejections: ${unhandled.join('; ')}`);
  return { steps, me: me.recipient };
}

run().then(
  ({ steps }) => { window.__result = { ok: true, steps }; },
  (e) => { window.__result = { ok: false, error: `${e?.name}: ${e?.code} ${e?.message}\n${e?.stack}` }; },
);
