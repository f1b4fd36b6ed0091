// A real browser: headless Chromium (playwright-core, /usr/bin/chromium) loads a page from a tiny
// static server on 127.0.0.1; the page uses the package against SeaweedFS (S3 CORS) and IndexedDB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, mkdirSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, extname, normalize } from 'node:path';
import { randomBytes } from 'node:crypto';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { pkgDir } from './helpers.mjs';

const CHROMIUM = process.env.COFFER_CHROMIUM || '/usr/bin/chromium';

test('Chromium: vault on SeaweedFS and IndexedDB, offline mid-upload, trust memory in IndexedDB across a reload', { timeout: 180_000 }, async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing (apt-get install chromium)`);
  const endpoint = process.env.COFFER_TEST_S3_ENDPOINT;
  assert.ok(endpoint, 'COFFER_TEST_S3_ENDPOINT unset: run via npm test');
  const root = mkdtempSync(join(tmpdir(), 'coffer-browser-'));
  const profile = mkdtempSync(join(tmpdir(), 'coffer-chromium-'));
  let server, context;
  try {
    await build({
      entryPoints: [join(pkgDir, 'test', 'browser', 'page.js')],
      bundle: true, format: 'esm', platform: 'browser', target: 'chrome110',
      outfile: join(root, 'bundle.js'), external: ['node:*'], logLevel: 'warning',
    });
    mkdirSync(join(root, 'wasm'));
    copyFileSync(join(pkgDir, 'dist', 'wasm', 'coffer_wasm_bg.wasm'), join(root, 'wasm', 'coffer_wasm_bg.wasm'));
    const html = '<!doctype html><meta charset="utf-8"><title>coffer</title><script type="module" src="/bundle.js"></script>';
    const types = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
    server = createServer((req, res) => {
      const path = new URL(req.url, 'http://x').pathname;
      if (path === '/') { res.writeHead(200, { 'content-type': 'text/html' }); return res.end(html); }
      const file = normalize(join(root, path));
      if (!file.startsWith(root) || !existsSync(file)) { res.writeHead(404); return res.end(); }
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
      res.end(readFileSync(file));
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${server.address().port}`;

    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = context.pages()[0] ?? await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('crash', () => problems.push('page crashed'));

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
    await page.goto(`${origin}/#${encodeURIComponent(JSON.stringify(cfg))}`);
    await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 150_000 });
    const result = await page.evaluate(() => window.__result);
    assert.deepEqual(problems, []);
    assert.ok(result.ok, result.error);
    assert.equal(result.steps.length, 7);

    // The page again (a full navigation: a fresh wasm instance and fresh JS): the trust memory
    // kept in IndexedDB refuses the head the store rolled back before the reload.
    await page.goto(`${origin}/?reload#${encodeURIComponent(JSON.stringify({ ...cfg, phase: 'reload' }))}`);
    await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 60_000 });
    const reloaded = await page.evaluate(() => window.__result);
    assert.deepEqual(problems, []);
    assert.ok(reloaded.ok, reloaded.error);
    assert.deepEqual(reloaded.steps, ['indexeddb trust after reload']);
  } finally {
    await context?.close();
    server?.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  }
});
