// A real browser on IPFS: headless Chromium loads a page from the one origin the test Kubo allows
// (.ci/kubo.sh sets API.HTTPHeaders CORS for COFFER_TEST_IPFS_PAGE_ORIGIN), and the page runs a
// vault over the Kubo RPC API through the IPFS JS store; a block swapped in transit is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { withPage, runPage } from './browser/harness.mjs';

const api = process.env.COFFER_TEST_IPFS_API;
const pageOrigin = process.env.COFFER_TEST_IPFS_PAGE_ORIGIN;

test('Kubo allows its one configured page origin and refuses others', async () => {
  assert.ok(api && pageOrigin, 'COFFER_TEST_IPFS_API / COFFER_TEST_IPFS_PAGE_ORIGIN unset: run via npm test');
  const call = (origin) => fetch(`${api}/api/v0/version`, { method: 'POST', headers: { origin } });
  assert.equal((await call(pageOrigin)).status, 200);
  assert.equal((await call('http://evil.example')).status, 403);
});

test('Chromium: vault on Kubo through the IPFS store, a swapped block refused', { timeout: 180_000 }, async () => {
  const port = Number(new URL(pageOrigin).port);
  await withPage({ entry: 'ipfs-page.js', port }, async (page, origin, problems) => {
    assert.equal(origin, pageOrigin);
    // Armed by the page: every `block/get` answers with bytes of another block.
    let tamper = false;
    await page.exposeFunction('tamper', (on) => { tamper = on; });
    await page.route(`${api}/api/v0/block/get**`, async (route) => {
      if (!tamper) return route.continue();
      const real = await route.fetch();
      const body = Buffer.from(await real.body());
      body[0] ^= 0xff;
      return route.fulfill({ response: real, body });
    });
    const cfg = { api, namespace: `browser-${randomBytes(5).toString('hex')}` };
    const result = await runPage(page, `${origin}/#${encodeURIComponent(JSON.stringify(cfg))}`, 150_000);
    assert.deepEqual(problems, []);
    assert.ok(result.ok, result.error);
    assert.equal(result.steps.length, 3, result.steps.join(', '));
  });
});
