// An in-memory coffer store (blocks and heads in Maps), for tests and ephemeral use.
// Conditional head writes are enforced: the check and the write run without an await between.

function storeError(code, message) {
  const e = new Error(message);
  e.code = code;
  return e;
}

function bytes(b, what) {
  if (!(b instanceof Uint8Array)) throw storeError('BadInput', `${what} must be a Uint8Array`);
  return b.slice();
}

export class MemoryStore {
  #blocks = new Map();
  #heads = new Map();
  #counter = 0;
  conditionalWrites = 'enforced';

  async put(cid, data) { this.#blocks.set(cid, bytes(data, 'block')); }
  async get(cid) { const b = this.#blocks.get(cid); return b ? b.slice() : null; }
  async getRange(cid, start, end) {
    const b = this.#blocks.get(cid);
    if (!b) return null;
    if (start > end || end > b.length) {
      throw storeError('RangeOutOfBounds', `range ${start}..${end} outside block of ${b.length} bytes`);
    }
    return b.slice(start, end);
  }
  async has(cid) { return this.#blocks.has(cid); }
  async delete(cid) { this.#blocks.delete(cid); }
  async list() { return [...this.#blocks.keys()]; }

  async readHeads(vault) {
    const prefix = `${vault}/`;
    const out = [];
    for (const [k, h] of this.#heads) {
      if (k.startsWith(prefix)) out.push({ writer: k.slice(prefix.length), bytes: h.bytes.slice(), version: h.version });
    }
    return out;
  }
  async writeHead(vault, writer, data, condition) {
    const k = `${vault}/${writer}`;
    const cur = this.#heads.get(k);
    const ok =
      condition.type === 'any' ||
      (condition.type === 'absent' && !cur) ||
      (condition.type === 'matches' && cur && cur.version === condition.version);
    if (!ok) throw storeError('PreconditionFailed', `head ${k} was changed by another writer`);
    const version = `m${++this.#counter}`;
    this.#heads.set(k, { bytes: bytes(data, 'head'), version });
    return version;
  }

  /** Number of blocks held (for tests). */
  get blockCount() { return this.#blocks.size; }
}
