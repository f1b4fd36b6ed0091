// Shared by the page scripts run in headless Chromium (bundled by esbuild with them): the test's
// configuration from the URL fragment, byte helpers, checks, and a record of unhandled rejections.
import { CofferError } from '../../dist/index.js';

export const unhandled = [];
window.addEventListener('unhandledrejection', (e) => unhandled.push(String(e.reason)));

export const cfg = JSON.parse(decodeURIComponent(location.hash.slice(1)));
export const enc = (s) => new TextEncoder().encode(s);
export const pattern = (n) => Uint8Array.from({ length: n }, (_, i) => (i * 7) % 251);
export const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
export function check(cond, what) { if (!cond) throw new Error(`check failed: ${what}`); }
export async function expectError(p, code, what) {
  try { await p; } catch (e) {
    check(e instanceof CofferError, `${what}: a CofferError, got ${e}`);
    check(e.code === code, `${what}: code ${code}, got ${e.code} (${e.message})`);
    return e;
  }
  throw new Error(`${what}: no error`);
}
