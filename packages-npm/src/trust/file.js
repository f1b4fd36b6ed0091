// Trust memory in a local directory (Node): what this device saw of each vault, so that a store
// serving an older state is refused across restarts. The same layout as the Rust side's FileTrust
// (the CLI's $COFFER_HOME/trust): the directory is mode 0700, each document a file named after the
// BLAKE3 of its name, mode 0600, written to a temporary file, synced and renamed over the old one.
import { mkdir, chmod, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { blake3 } from '../index.js';

function trustError(message, cause) {
  const e = new Error(message, { cause });
  e.code = 'TrustStorage';
  return e;
}

let tmpCounter = 0;

/**
 * Trust memory in directory `dir` (created when missing): pass it as `{ trust: fileTrust(dir) }`
 * to `Vault.create/open/openOrCreate`. Use one per store and identity.
 */
export function fileTrust(dir) {
  if (typeof dir !== 'string' || dir === '') throw trustError('fileTrust needs a directory path');
  let ready = null;
  const ensureDir = () => {
    ready ??= (async () => {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await chmod(dir, 0o700);
    })().catch((e) => { ready = null; throw trustError(`${dir}: ${e.message}`, e); });
    return ready;
  };
  const path = (name) => join(dir, `${blake3(new TextEncoder().encode(name)).slice(0, 32)}.trust`);
  return {
    async load(name) {
      const p = path(name);
      try {
        return new Uint8Array(await readFile(p));
      } catch (e) {
        if (e.code === 'ENOENT') return null;
        throw trustError(`${p}: ${e.message}`, e);
      }
    },
    async save(name, bytes) {
      await ensureDir();
      const p = path(name);
      const tmp = `${p}.tmp-${process.pid}-${tmpCounter++}`;
      try {
        const f = await open(tmp, 'w', 0o600);
        try {
          await f.writeFile(bytes);
          await f.sync();
        } finally {
          await f.close();
        }
        await rename(tmp, p);
      } catch (e) {
        await rm(tmp, { force: true }).catch(() => {});
        throw trustError(`${p}: ${e.message}`, e);
      }
    },
  };
}
