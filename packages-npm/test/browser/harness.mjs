// Shared by the Chromium tests: bundles a page script with esbuild, serves it and the package's
// wasm from a static server on 127.0.0.1 (port 0 = any, or the origin a server was configured to
// trust), and runs `fn(page, origin, problems)` in headless Chromium (playwright-core,
// /usr/bin/chromium). `problems` collects page errors and crashes; everything is cleaned up.
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, mkdirSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, extname, normalize } from 'node:path';
import assert from 'node:assert/strict';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { pkgDir } from '../helpers.mjs';

const CHROMIUM = process.env.COFFER_CHROMIUM || '/usr/bin/chromium';

export async function withPage({ entry, port = 0 }, fn) {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing (apt-get install chromium)`);
  const root = mkdtempSync(join(tmpdir(), 'coffer-browser-'));
  const profile = mkdtempSync(join(tmpdir(), 'coffer-chromium-'));
  let server, context;
  try {
    await build({
      entryPoints: [join(pkgDir, 'test', 'browser', entry)],
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
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
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
    return await fn(page, origin, problems);
  } finally {
    await context?.close();
    server?.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  }
}

/** Loads `url` and waits for the page script's `window.__result`. */
export async function runPage(page, url, timeout) {
  await page.goto(url);
  await page.waitForFunction(() => window.__result !== undefined, null, { timeout });
  return page.evaluate(() => window.__result);
}
