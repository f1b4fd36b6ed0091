// Trust memory in the browser's IndexedDB: what this device saw of each vault (coffer's trust
// documents, a few KiB each), so that a store serving an older state is refused across page
// reloads. One object store "trust" (document name -> Uint8Array); each save is one readwrite
// transaction (atomic), requested with strict durability where the browser supports it.

function trustError(message) {
  const e = new Error(message);
  e.code = 'TrustStorage';
  return e;
}

function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(trustError(`IndexedDB: ${r.error?.message ?? r.error}`));
  });
}

/**
 * Trust memory in the IndexedDB database `dbName` (created on first use): pass it as
 * `{ trust: indexedDbTrust() }` to `Vault.create/open/openOrCreate`. Use one per store and
 * identity.
 */
export function indexedDbTrust(dbName = 'coffer-trust', indexedDB = globalThis.indexedDB) {
  let db = null;
  const open = () => {
    if (!indexedDB) return Promise.reject(trustError('IndexedDB is not available here'));
    if (db === null) {
      const r = indexedDB.open(dbName, 1);
      r.onupgradeneeded = () => r.result.createObjectStore('trust');
      db = req(r);
      db.catch(() => { db = null; }); // a failed open is retried by the next call
    }
    return db;
  };
  return {
    async load(name) {
      const d = await open();
      const tx = d.transaction('trust', 'readonly');
      const v = await req(tx.objectStore('trust').get(name));
      if (v === undefined || v === null) return null;
      return v instanceof Uint8Array ? v : new Uint8Array(v);
    },
    async save(name, bytes) {
      const d = await open();
      const tx = d.transaction('trust', 'readwrite', { durability: 'strict' });
      tx.objectStore('trust').put(bytes.slice(), name);
      await new Promise((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(trustError(`IndexedDB: ${tx.error?.message ?? tx.error}`));
        tx.onabort = () => reject(trustError(`IndexedDB transaction aborted: ${tx.error?.message ?? ''}`));
      });
    },
    /** Closes the database (a later call opens it again). */
    async close() {
      const d = db;
      db = null;
      if (d) (await d).close();
    },
  };
}
