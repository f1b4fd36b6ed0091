import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

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
