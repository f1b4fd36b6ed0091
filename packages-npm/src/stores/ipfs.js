// A coffer store on a Kubo node through its RPC API over fetch, with the layout of the Rust IPFS
// store (docs/FORMAT.md §7), so either side reads the other's data:
// - blocks ≤ 1 MiB: block/put (cid-codec raw|dag-cbor, mhtype blake3) — the CID Kubo returns must
//   equal coffer's — then pin/add named `coffer:<namespace>`;
// - larger blobs: 1 MiB raw leaves under a DAG-CBOR "blob-v1" root pinned as
//   `coffer:<namespace>:blob`, the MFS file /coffer/<namespace>/blobs/<cid> holding the root's CID;
// - heads: MFS files /coffer/<namespace>/heads/<vault>/<writer>, written to a temp name and moved
//   over the head; the condition is checked by reading first (bestEffort); version = the first
//   128 bits of BLAKE3 of the head, hex.
// Every block read is checked against its CID, and every answer is read with a cap from what it
// should hold (a block: 1 MiB or the caller's limit; a head: 1 MiB; a short JSON answer: 64 KiB;
// a listing of the store: 256 MiB); more is refused with a `TooLarge` error without reading on. In a browser the node must allow the page's origin
// (API.HTTPHeaders.Access-Control-Allow-Origin).
import { cid as cidOf, blake3, blobRootEncode, blobRootDecode } from '../index.js';

const MAX_BLOCK = 1 << 20;
const LEAF_SIZE = 1 << 20;
/** The largest head read (as the Rust stores: MAX_HEAD_BYTES) and the most heads per namespace. */
export const MAX_HEAD_BYTES = 1 << 20;
export const MAX_HEADS = 10000;
const SMALL_ANSWER = 64 << 10;
const ERROR_ANSWER = 64 << 10;
const MAP_ENTRY = 1 << 10;
const HEAD_LISTING = MAX_HEADS * 256 + (64 << 10);
const LISTING_ANSWER = 256 << 20;

function storeError(code, message, extra) {
  const e = new Error(message);
  e.code = code;
  if (extra) Object.assign(e, extra);
  return e;
}

const tooLarge = (what, limit) =>
  storeError('TooLarge', `${what} is larger than the limit of ${limit}; the rest was not read (the store is broken or hostile)`, { limit });

/** Reads a fetch Response's body, throwing `tooLarge()` as soon as it passes `cap` bytes. */
async function readCapped(res, cap, onOver) {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && res.headers.has('content-length') && declared > cap) {
    await res.body?.cancel().catch(() => {});
    throw onOver();
  }
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const parts = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (n + value.length > cap) {
      await reader.cancel().catch(() => {});
      throw onOver();
    }
    parts.push(value);
    n += value.length;
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

const codecOf = (cid) => (cid.startsWith('bafkr4') ? 'raw' : cid.startsWith('bafyr4') ? 'dag-cbor' : null);
const version = (bytes) => blake3(bytes).slice(0, 32);
const randomHex = () => Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');

export class IpfsStore {
  conditionalWrites = 'bestEffort';

  /** @param {{ api: string, namespace?: string, fetchFromNetwork?: boolean, concurrency?: number }} options */
  constructor(options) {
    if (!options || typeof options.api !== 'string') throw storeError('BadInput', 'IpfsStore needs { api }');
    this.api = options.api.replace(/\/+$/, '');
    this.namespace = options.namespace ?? 'default';
    this.offline = options.fetchFromNetwork ? 'false' : 'true';
    this.concurrency = options.concurrency ?? 4;
    this.root = `/coffer/${this.namespace}`;
  }

  async #call(cmd, args = [], body, max = SMALL_ANSWER) {
    const qs = args.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
    const url = `${this.api}/api/v0/${cmd}${qs ? `?${qs}` : ''}`;
    let init = { method: 'POST' };
    if (body !== undefined) {
      const form = new FormData();
      form.append('file', new Blob([body]), 'file');
      init = { method: 'POST', body: form };
    }
    let res;
    try {
      res = await fetch(url, init);
    } catch (e) {
      throw storeError('Unavailable', `IPFS ${cmd}: ${e?.message ?? e}${e?.cause ? ` (${e.cause.message ?? e.cause})` : ''}`);
    }
    if (res.ok) return readCapped(res, max, () => tooLarge(`the answer of IPFS ${cmd}`, max));
    const bytes = await readCapped(res, ERROR_ANSWER, () => storeError('Unavailable', `IPFS ${cmd} failed (HTTP ${res.status}) with an oversized answer`));
    let message;
    try { message = JSON.parse(new TextDecoder().decode(bytes)).Message; } catch { message = new TextDecoder().decode(bytes.slice(0, 300)); }
    const lower = String(message).toLowerCase();
    if (/not found|could not find|does not exist|not pinned/.test(lower)) throw storeError('NotFound', `IPFS ${cmd}: ${message}`);
    if (res.status === 401 || res.status === 403) throw storeError('AccessDenied', `IPFS ${cmd}: ${message}`);
    if (res.status === 429 || res.status === 503) throw storeError('Throttled', `IPFS ${cmd}: ${message}`);
    throw storeError('Unavailable', `IPFS ${cmd} failed (HTTP ${res.status}): ${message}`);
  }

  async #json(cmd, args, body, max = SMALL_ANSWER) {
    return JSON.parse(new TextDecoder().decode(await this.#call(cmd, args, body, max)));
  }

  async #orNull(p) {
    try { return await p; } catch (e) { if (e.code === 'NotFound') return null; throw e; }
  }

  async #putBlock(cid, bytes) {
    const codec = codecOf(cid);
    if (!codec) throw storeError('Unsupported', `CID ${cid} is not a coffer raw/dag-cbor blake3 CID`);
    if (bytes.length > MAX_BLOCK) throw storeError('Unsupported', `block of ${bytes.length} bytes is over 1 MiB`);
    const answer = await this.#json('block/put', [['cid-codec', codec], ['mhtype', 'blake3'], ['mhlen', '32']], bytes);
    if (answer.Key !== cid) {
      await this.#call('block/rm', [['arg', answer.Key], ['force', 'true']]).catch(() => {});
      throw storeError('Corrupt', `the IPFS node computed ${answer.Key} for the bytes of ${cid}`);
    }
  }

  #pin(cid, name) { return this.#call('pin/add', [['arg', cid], ['name', name]]); }

  async #fetchBlock(cid, max = MAX_BLOCK) {
    const cap = Math.min(max, MAX_BLOCK);
    let bytes;
    try {
      bytes = await this.#orNull(this.#call('block/get', [['arg', cid], ['offline', this.offline]], undefined, cap));
    } catch (e) {
      if (e.code === 'TooLarge') throw tooLarge(`block ${cid}`, cap);
      throw e;
    }
    if (bytes === null) return null;
    if (cidOf(bytes, codecOf(cid) ?? 'raw') !== cid) throw storeError('Corrupt', `IPFS returned bytes that do not match ${cid}`);
    return bytes;
  }

  #mapPath(cid) { return `${this.root}/blobs/${cid}`; }

  async #blobRoot(cid) {
    const text = await this.#orNull(this.#call('files/read', [['arg', this.#mapPath(cid)]], undefined, MAP_ENTRY));
    if (text === null) return null;
    const rootCid = new TextDecoder().decode(text).trim();
    const bytes = await this.#fetchBlock(rootCid);
    if (bytes === null) throw storeError('Corrupt', `blob ${cid}: its root ${rootCid} is missing`);
    return { rootCid, root: blobRootDecode(cid, bytes) };
  }

  async #pool(items, f) {
    const out = new Array(items.length);
    let next = 0;
    const worker = async () => { while (next < items.length) { const i = next++; out[i] = await f(items[i], i); } };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, items.length) }, worker));
    return out;
  }

  async put(cid, bytes) {
    if (bytes.length <= MAX_BLOCK) {
      await this.#putBlock(cid, bytes);
      await this.#pin(cid, `coffer:${this.namespace}`);
      return;
    }
    if (cidOf(bytes) !== cid) throw storeError('Corrupt', `the bytes do not match ${cid}`);
    const pieces = [];
    for (let at = 0; at < bytes.length; at += LEAF_SIZE) pieces.push(bytes.subarray(at, Math.min(at + LEAF_SIZE, bytes.length)));
    const leaves = await this.#pool(pieces, async (p) => { const c = cidOf(p); await this.#putBlock(c, p); return c; });
    const root = blobRootEncode(cid, bytes.length, leaves);
    await this.#putBlock(root.cid, root.bytes);
    await this.#pin(root.cid, `coffer:${this.namespace}:blob`);
    await this.#call('files/write', [['arg', this.#mapPath(cid)], ['create', 'true'], ['parents', 'true'], ['truncate', 'true']], new TextEncoder().encode(root.cid));
  }

  async get(cid) {
    return this.getMax(cid, Number.MAX_SAFE_INTEGER);
  }

  /** The bytes of `cid`, or a `TooLarge` error as soon as they exceed `maxLen`. */
  async getMax(cid, maxLen) {
    const block = await this.#fetchBlock(cid, maxLen);
    if (block !== null) return block;
    const blob = await this.#blobRoot(cid);
    if (blob === null) return null;
    if (blob.root.size > maxLen) throw tooLarge(`blob ${cid} (${blob.root.size} bytes)`, maxLen);
    const sizes = blob.root.leaves.map((_, i) => Math.min(blob.root.leafSize, blob.root.size - i * blob.root.leafSize));
    const parts = await this.#pool(blob.root.leaves, (l, i) => this.#leaf(l, sizes[i]));
    const out = new Uint8Array(blob.root.size);
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  async #leaf(cid, len) {
    const b = await this.#fetchBlock(cid, len);
    if (b === null) throw storeError('Corrupt', `leaf ${cid} is missing`);
    if (b.length !== len) throw storeError('Corrupt', `leaf ${cid} has ${b.length} bytes where the blob root says ${len}`);
    return b;
  }

  async getRange(cid, start, end) {
    const block = await this.#fetchBlock(cid);
    const oob = (len) => storeError('RangeOutOfBounds', `range ${start}..${end} is outside ${cid} of ${len} bytes`);
    if (block !== null) {
      if (start > end || end > block.length) throw oob(block.length);
      return block.slice(start, end);
    }
    const blob = await this.#blobRoot(cid);
    if (blob === null) return null;
    const { size, leafSize, leaves } = blob.root;
    if (start > end || end > size) throw oob(size);
    if (start === end) return new Uint8Array(0);
    const first = Math.floor(start / leafSize);
    const last = Math.floor((end - 1) / leafSize);
    const idx = Array.from({ length: last - first + 1 }, (_, k) => first + k);
    const parts = await this.#pool(idx, async (i) => {
      const leaf = await this.#leaf(leaves[i], Math.min(leafSize, size - i * leafSize));
      const ls = i * leafSize;
      return leaf.subarray(Math.max(start, ls) - ls, Math.min(end, ls + leaf.length) - ls);
    });
    const out = new Uint8Array(end - start);
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  async has(cid) {
    if ((await this.#orNull(this.#call('pin/ls', [['arg', cid], ['type', 'recursive']]))) !== null) return true;
    return (await this.#orNull(this.#call('files/stat', [['arg', this.#mapPath(cid)]]))) !== null;
  }

  async delete(cid) {
    const blob = await this.#blobRoot(cid);
    if (blob) {
      await this.#orNull(this.#call('pin/rm', [['arg', blob.rootCid]]));
      await this.#call('files/rm', [['arg', this.#mapPath(cid)]]);
      for (const c of [blob.rootCid, ...blob.root.leaves]) {
        await this.#call('block/rm', [['arg', c], ['force', 'true']]).catch(() => {});
      }
      return;
    }
    await this.#orNull(this.#call('pin/rm', [['arg', cid]]));
    await this.#call('block/rm', [['arg', cid], ['force', 'true']]).catch(() => {});
  }

  async list() {
    const name = `coffer:${this.namespace}`;
    const pins = await this.#json('pin/ls', [['type', 'recursive'], ['names', 'true'], ['name', name]], undefined, LISTING_ANSWER);
    const out = Object.entries(pins.Keys ?? {}).filter(([, v]) => v.Name === name).map(([k]) => k);
    const ls = await this.#orNull(this.#json('files/ls', [['arg', `${this.root}/blobs`]], undefined, LISTING_ANSWER));
    for (const e of ls?.Entries ?? []) out.push(e.Name);
    return out;
  }

  #headDir(vault) { return `${this.root}/heads/${vault}`; }

  async readHeads(vault) {
    const dir = this.#headDir(vault);
    const ls = await this.#orNull(this.#json('files/ls', [['arg', dir]], undefined, HEAD_LISTING));
    // Temp files start with '.'.
    const names = (ls?.Entries ?? []).map((e) => e.Name).filter((n) => /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(n));
    if (names.length > MAX_HEADS) throw tooLarge(`the head listing of ${vault} (${names.length} heads)`, MAX_HEADS);
    const heads = [];
    for (const name of names) {
      const bytes = await this.#readHead(vault, name);
      if (bytes !== null) heads.push({ writer: name, bytes, version: version(bytes) });
    }
    return heads;
  }

  async #readHead(vault, writer) {
    try {
      return await this.#orNull(this.#call('files/read', [['arg', `${this.#headDir(vault)}/${writer}`]], undefined, MAX_HEAD_BYTES));
    } catch (e) {
      if (e.code === 'TooLarge') throw tooLarge(`head ${vault}/${writer}`, MAX_HEAD_BYTES);
      throw e;
    }
  }

  async writeHead(vault, writer, bytes, condition) {
    const dir = this.#headDir(vault);
    const path = `${dir}/${writer}`;
    if (condition.type !== 'any') {
      let curVersion;
      try {
        const cur = await this.#readHead(vault, writer);
        curVersion = cur === null ? null : version(cur);
      } catch (e) {
        if (e.code !== 'TooLarge') throw e;
        curVersion = 'oversized'; // matches no version a reader accepted
      }
      const ok = (condition.type === 'absent' && curVersion === null) ||
        (condition.type === 'matches' && curVersion === condition.version);
      if (!ok) throw storeError('PreconditionFailed', `head ${vault}/${writer} was changed by another writer`);
    }
    const tmp = `${dir}/.tmp-${randomHex()}`;
    await this.#call('files/write', [['arg', tmp], ['create', 'true'], ['parents', 'true'], ['truncate', 'true']], bytes);
    try {
      await this.#call('files/mv', [['arg', tmp], ['arg', path]]);
    } catch (e) {
      await this.#call('files/rm', [['arg', tmp]]).catch(() => {});
      throw e;
    }
    return version(bytes);
  }
}
