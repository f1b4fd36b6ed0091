// A coffer store in the browser's IndexedDB, for offline use. Two object stores: "blocks"
// (cid -> Uint8Array) and "heads" ("<vault>/<writer>" -> { bytes, version }). Conditional head
// writes are enforced: the check and the write happen in one readwrite transaction.

/** The largest head read (as the Rust stores: MAX_HEAD_BYTES) and the most heads per namespace. */
export const MAX_HEAD_BYTES = 1 << 20;
export const MAX_HEADS = 10000;

function storeError(code, message) {
  const e = new Error(message);
  e.code = code;
  return e;
}

function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(storeError('Unavailable', `IndexedDB: ${r.error?.message ?? r.error}`));
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error?.code ? tx.error : storeError('Unavailable', `IndexedDB: ${tx.error?.message ?? tx.error}`));
    tx.onabort = () => reject(tx.error?.code ? tx.error : storeError('Unavailable', `IndexedDB transaction aborted: ${tx.error?.message ?? ''}`));
  });
}

export class IndexedDbStore {
  conditionalWrites = 'enforced';
  #db;

  constructor(db) { this.#db = db; }

  /** Opens (creating when needed) the database `name`. */
  static async open(name = 'coffer', indexedDB = globalThis.indexedDB) {
    if (!indexedDB) throw storeError('Config', 'IndexedDB is not available here');
    const r = indexedDB.open(name, 1);
    r.onupgradeneeded = () => {
      r.result.createObjectStore('blocks');
      r.result.createObjectStore('heads');
    };
    return new IndexedDbStore(await req(r));
  }

  close() { this.#db.close(); }

  async #one(store, mode, f) {
    const tx = this.#db.transaction(store, mode);
    const result = req(f(tx.objectStore(store)));
    await done(tx);
    return result;
  }

  async put(cid, bytes) { await this.#one('blocks', 'readwrite', (s) => s.put(bytes.slice(), cid)); }
  async get(cid) { return (await this.#one('blocks', 'readonly', (s) => s.get(cid))) ?? null; }
  /** Like `get`, refusing a block over `maxLen` bytes (a `TooLarge` error). */
  async getMax(cid, maxLen) {
    const b = await this.get(cid);
    if (b !== null && b.length > maxLen) {
      const e = storeError('TooLarge', `block ${cid} (${b.length} bytes) is larger than the limit of ${maxLen}`);
      e.limit = maxLen;
      throw e;
    }
    return b;
  }
  async has(cid) { return (await this.#one('blocks', 'readonly', (s) => s.count(cid))) > 0; }
  async delete(cid) { await this.#one('blocks', 'readwrite', (s) => s.delete(cid)); }
  async list() { return this.#one('blocks', 'readonly', (s) => s.getAllKeys()); }

  async readHeads(vault) {
    const range = IDBKeyRange.bound(`${vault}/`, `${vault}/\uffff`);
    const tx = this.#db.transaction('heads', 'readonly');
    const s = tx.objectStore('heads');
    // One more than the limit tells a flooded namespace from a full one.
    const [keys, values] = await Promise.all([req(s.getAllKeys(range, MAX_HEADS + 1)), req(s.getAll(range, MAX_HEADS + 1))]);
    await done(tx);
    if (keys.length > MAX_HEADS) {
      const e = storeError('TooLarge', `the head listing of ${vault} holds more than ${MAX_HEADS} heads`);
      e.limit = MAX_HEADS;
      throw e;
    }
    for (let i = 0; i < keys.length; i++) {
      if (values[i].bytes.length > MAX_HEAD_BYTES) {
        const e = storeError('TooLarge', `head ${keys[i]} (${values[i].bytes.length} bytes) is larger than the limit of ${MAX_HEAD_BYTES}`);
        e.limit = MAX_HEAD_BYTES;
        throw e;
      }
    }
    return keys.map((k, i) => ({ writer: k.slice(vault.length + 1), bytes: values[i].bytes, version: values[i].version }));
  }

  async writeHead(vault, writer, bytes, condition) {
    const key = `${vault}/${writer}`;
    const version = crypto.randomUUID();
    const tx = this.#db.transaction('heads', 'readwrite');
    const s = tx.objectStore('heads');
    const finished = done(tx);
    const cur = await req(s.get(key));
    const ok =
      condition.type === 'any' ||
      (condition.type === 'absent' && !cur) ||
      (condition.type === 'matches' && cur && cur.version === condition.version);
    if (!ok) {
      tx.abort();
      await finished.catch(() => {});
      throw storeError('PreconditionFailed', `head ${key} was changed by another writer`);
    }
    s.put({ bytes: bytes.slice(), version }, key);
    await finished;
    return version;
  }
}
