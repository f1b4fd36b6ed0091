// A real browser: headless Chromium (playwright-core, /usr/bin/chromium) loads a page from a tiny
// static server on 127.0.0.1; the page uses the package against SeaweedFS (S3 CORS) and IndexedDB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { withPage, runPage } from './browser/harness.mjs';

test('Chromium: vault on SeaweedFS and IndexedDB, offline mid-upload, trust memory in IndexedDB across a reload', { timeout: 180_000 }, async () => {
  const endpoint = process.env.COFFER_TEST_S3_ENDPOINT;
  assert.ok(endpoint, 'COFFER_TEST_S3_ENDPOINT unset: run via npm test');
  await withPage({ entry: 'page.js' }, async (page, origin, problems) => {
    // "Offline" after N more S3 PUTs: the browser's requests fail as on a dropped connection.
    let offline = null;
    await page.exposeFunction('goOffline', (after) => { offline = { left: after }; });
    await page.exposeFunction('goOnline', () => { offline = null; });
    await page.route(`${endpoint}/**`, (route) => {
      const r = route.request();
      if (offline && r.method() === 'PUT') {
        if (offline.left-- <= 0) return route.abort('internetdisconnected');
      }
      return route.continue();
    });

    const cfg = {
      endpoint, bucket: process.env.COFFER_TEST_S3_BUCKET,
      prefix: `browser-${randomBytes(6).toString('hex')}`,
      credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY },
      trustStore: `trust-store-${randomBytes(6).toString('hex')}`,
      trustDb: `trust-db-${randomBytes(6).toString('hex')}`,
    };
    const result = await runPage(page, `${origin}/#${encodeURIComponent(JSON.stringify(cfg))}`, 150_000);
    assert.deepEqual(problems, []);
    assert.ok(result.ok, result.error);
    assert.equal(result.steps.length, 7);

    // The page again (a full navigation: a fresh wasm instance and fresh JS): the trust memory
    // kept in IndexedDB refuses the head the store rolled back before the reload.
    const reloaded = await runPage(page, `${origin}/?reload#${encodeURIComponent(JSON.stringify({ ...cfg, phase: 'reload' }))}`, 60_000);
    assert.deepEqual(problems, []);
    assert.ok(reloaded.ok, reloaded.error);
    assert.deepEqual(reloaded.steps, ['indexeddb trust after reload']);
  });
});
