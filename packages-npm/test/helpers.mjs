import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import assert from 'node:assert/strict';
import { CofferError } from '@coffer/sdk';

export const pkgDir = dirname(dirname(fileURLToPath(import.meta.url)));
export const repoDir = dirname(pkgDir);
export const hex = (s) => Uint8Array.from(Buffer.from(s, 'hex'));
export const toHex = (b) => Buffer.from(b).toString('hex');
export const vectors = (name) => JSON.parse(readFileSync(join(repoDir, 'test-vectors', name), 'utf8'));
/** `len` bytes of 0, 1, …, 250, 0, 1, … (the vectors' input pattern). */
export const pattern251 = (len) => Uint8Array.from({ length: len }, (_, i) => i % 251);
export const enc = (s) => new TextEncoder().encode(s);

/** Records unhandled rejections while a test file runs; `assertNone()` at the end. */
export function watchUnhandled() {
  const seen = [];
  const h = (reason) => seen.push(reason);
  process.on('unhandledRejection', h);
  return {
    seen,
    assertNone() {
      process.off('unhandledRejection', h);
      if (seen.length) throw new Error(`unhandled rejections: ${seen.map(String).join('; ')}`);
    },
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** For `assert.rejects`/`assert.throws`: the error is a CofferError with code `c`. */
export const code = (c) => (e) => {
  assert.ok(e instanceof CofferError, `expected a CofferError, got ${e}`);
  assert.equal(e.code, c, e.message);
  return true;
};
