// coffer: the idiomatic ESM wrapper over the wasm-bindgen glue (bindings-wasm).
// Loads the module once (top-level await): from the file next to this one in Node, by fetch in a
// browser. Every error is a CofferError with a stable `code`.
import initWasm, * as raw from './wasm/coffer_wasm.js';

/** An error from coffer: `code` is stable ("NotFound", "BadInput", "Integrity", "Store", …). */
export class CofferError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'CofferError';
    this.code = code;
  }
}

async function load() {
  const url = new URL('./wasm/coffer_wasm_bg.wasm', import.meta.url);
  const isNode = typeof process === 'object' && process !== null && !!process.versions?.node;
  if (isNode && url.protocol === 'file:') {
    const { readFile } = await import(/* webpackIgnore: true */ 'node:fs/promises');
    await initWasm({ module_or_path: await readFile(url) });
  } else {
    await initWasm({ module_or_path: url });
  }
  raw.setErrorClass(CofferError);
}
await load();

const badInput = (message) => new CofferError('BadInput', message);

function checkIdentity(identity, what = 'identity') {
  if (!(identity instanceof raw.Identity)) {
    throw badInput(`${what} must be an Identity (Identity.generate(), Identity.fromString(…))`);
  }
}

/**
 * A secret identity (X25519 + Ed25519 from one seed): Identity.generate(), fromString, fromSeed,
 * fromPassphrase(passphrase, account) (Argon2id) and fromWalletSignature(bytesOrHex).
 */
export const Identity = raw.Identity;

/** The message a wallet signs (EIP-191 personal_sign) for Identity.fromWalletSignature. */
export const WALLET_MESSAGE = raw.walletMessage();

/** The version of the Rust core inside. */
export const coreVersion = raw.coreVersion;

/** Checks a recipient text (`coffer1…`) and returns its canonical form. */
export const parseRecipient = (text) => raw.parseRecipient(text);

/** Whether `signature` is `recipient`'s Ed25519 signature of `message`. */
export const verifySignature = (recipient, message, signature) =>
  raw.verifySignature(recipient, message, signature);

function recipientsArg(to) {
  if (typeof to === 'string') return [to];
  if (to instanceof raw.Identity) return [to.recipient];
  if (Array.isArray(to)) return to.map((r) => (r instanceof raw.Identity ? r.recipient : r));
  throw badInput('recipients must be a recipient string, an Identity or an array of them');
}

/**
 * Seals `plaintext` (Uint8Array) to recipients; `options.signer` (an Identity) signs the header.
 */
export function seal(plaintext, recipients, options = {}) {
  if (options === null || typeof options !== 'object') throw badInput('options must be an object');
  const to = recipientsArg(recipients);
  const { signer, segmentSizeLog2 } = options;
  if (signer === undefined || signer === null) return raw.seal(plaintext, to, segmentSizeLog2);
  checkIdentity(signer, 'options.signer');
  return raw.sealSigned(plaintext, to, signer, segmentSizeLog2);
}

/** Opens a sealed object: `{ plaintext, signer }` (signer: recipient text or null). */
export function open(identity, sealed) {
  checkIdentity(identity);
  return raw.open(identity, sealed);
}

/**
 * `seal`, with WebCrypto's AES-GCM (`crypto.subtle`) when available: a Promise of the same
 * format. `options.backend`: "webcrypto", "portable" (the wasm AES-GCM), or undefined (the best).
 * `options.outboard`: resolve to `{ sealed, root, outboard }`, the Bao outboard built meanwhile.
 */
export async function sealAsync(plaintext, recipients, options = {}) {
  if (options === null || typeof options !== 'object') throw badInput('options must be an object');
  const to = recipientsArg(recipients);
  const { signer, segmentSizeLog2, backend, outboard } = options;
  if (signer === undefined || signer === null) return raw.sealAsync(plaintext, to, segmentSizeLog2, backend, outboard);
  checkIdentity(signer, 'options.signer');
  return raw.sealSignedAsync(plaintext, to, signer, segmentSizeLog2, backend, outboard);
}

/**
 * `open`, with WebCrypto's AES-GCM when available; the same result (plus `root`, the BLAKE3 root
 * of `sealed`) and the same errors.
 */
export async function openAsync(identity, sealed, options = {}) {
  if (options === null || typeof options !== 'object') throw badInput('options must be an object');
  checkIdentity(identity);
  return raw.openAsync(identity, sealed, options.backend);
}

/** Whether sealAsync/openAsync use WebCrypto here by default. */
export const webCryptoAvailable = () => raw.webCryptoAvailable();

/** BLAKE3 of `bytes`, hex. */
export const blake3 = (bytes) => raw.blake3(bytes);
/** CIDv1 (blake3 multihash) of `bytes`; codec "raw" (default) or "dag-cbor". */
export const cid = (bytes, codec = 'raw') => raw.cid(bytes, codec);

/** The DAG-CBOR root of a blob stored as 1 MiB leaves (IPFS layout): `{ cid, bytes }`. */
export const blobRootEncode = (blob, size, leaves) => raw.blobRootEncode(blob, size, leaves);
/** Decodes and checks a blob root: `{ size, leafSize, leaves }`. */
export const blobRootDecode = (blob, bytes) => raw.blobRootDecode(blob, bytes);

/** Verified streaming: BLAKE3 roots, Bao outboards and range proofs (docs/verify.md). */
export const verify = Object.freeze({
  outboard: (data) => raw.computeOutboard(data),
  coveringRange: (len, start, end) => raw.coveringRange(len, start, end),
  rangeProof: (root, len, outboard, start, end) => raw.rangeProof(root, len, outboard, start, end),
  verifyRange: (root, len, start, end, proof, covering) =>
    raw.verifyRange(root, len, start, end, proof, covering),
  verifyAll: (root, data, outboard) => raw.verifyAll(root, data, outboard),
});

async function openVault(kind, store, identity, name, device, options) {
  checkIdentity(identity);
  return new Vault(await raw.Vault[kind](store, identity, name, device, options));
}

/** A vault (S3-style bucket of sealed, verified, versioned objects) over a store. */
/** Every entry of a paged listing (`list(request)`), following continuation tokens. */
async function* allPages(list, request) {
  if (request === null || typeof request !== 'object') throw badInput('request must be an object');
  let token;
  do {
    const page = await list({ ...request, continuationToken: token });
    for (const o of page.contents) yield o;
    token = page.nextContinuationToken ?? undefined;
  } while (token);
}

export class Vault {
  #v;
  /** @private use Vault.create / Vault.open / Vault.openOrCreate */
  constructor(inner) {
    if (!(inner instanceof raw.Vault)) throw badInput('use Vault.create, Vault.open or Vault.openOrCreate');
    this.#v = inner;
  }
  /**
   * `options.trust`: where this device remembers what it saw of the vault (`{ load, save }`, e.g.
   * indexedDbTrust() or fileTrust(dir)), so that a store serving an older state is refused
   * ("Untrusted") across restarts. Without it, memory of this open vault only.
   */
  static create(store, identity, name, device = 'default', options = undefined) {
    return openVault('create', store, identity, name, device, options);
  }
  static open(store, identity, name, device = 'default', options = undefined) {
    return openVault('open', store, identity, name, device, options);
  }
  static openOrCreate(store, identity, name, device = 'default', options = undefined) {
    return openVault('openOrCreate', store, identity, name, device, options);
  }
  /**
   * Opens vault `name` with `oldIdentity` and hands it over to `newIdentity` (rotateIdentity);
   * resumable: after an interrupted run it opens the vault with `newIdentity` and reports
   * `resumed`. Resolves to `{ vault, rotation }`, the vault opened with `newIdentity`.
   */
  static async openAndRotateIdentity(store, oldIdentity, newIdentity, name, device = 'default', options = undefined) {
    checkIdentity(oldIdentity, 'oldIdentity');
    checkIdentity(newIdentity, 'newIdentity');
    const { vault, rotation } = await raw.Vault.openAndRotateIdentity(store, oldIdentity, newIdentity, name, device, options);
    return { vault: new Vault(vault), rotation };
  }
  get name() { return this.#v?.name; }
  #call(method, ...args) {
    if (this.#v === null) return Promise.reject(badInput('this vault was freed'));
    return this.#v[method](...args);
  }
  put(key, bytes, options) { return this.#call('put', key, bytes, options); }
  get(key) { return this.#call('get', key); }
  async getText(key) { return new TextDecoder().decode(await this.#call('get', key)); }
  getRange(key, start, end) { return this.#call('getRange', key, start, end); }
  head(key) { return this.#call('head', key); }
  tags(key) { return this.#call('tags', key); }
  setTags(key, tags) { return this.#call('setTags', key, tags); }
  versions(key) { return this.#call('versions', key); }
  getVersion(key, version) { return this.#call('getVersion', key, version); }
  delete(key) { return this.#call('delete', key); }
  deleteMany(keys) { return this.#call('deleteMany', keys); }
  copy(src, dst) { return this.#call('copy', src, dst); }
  list(request) { return this.#call('list', request); }
  /** Every key, following continuation tokens. */
  keys(request = {}) { return allPages((r) => this.#call('list', r), request); }
  sync() { return this.#call('sync'); }
  root() { return this.#call('root'); }
  /** A short code of the state this device has seen, to compare with another device's. */
  stateFingerprint() { return this.#call('stateFingerprint'); }
  /** Heads skipped by the last open or sync: `[{ writer, reason }]`. */
  skippedHeads() { return this.#call('skippedHeads'); }
  /**
   * Shares a scope (`prefix`, `key`, or `key` + `version`) with `to` (a recipient or an
   * Identity) until `expiresMs`; resolves to the share id.
   */
  share(request) {
    if (request !== null && typeof request === 'object' && request.to instanceof raw.Identity) {
      request = { ...request, to: request.to.recipient };
    }
    return this.#call('share', request);
  }
  shares() { return this.#call('shares'); }
  revoke(id) { return this.#call('revoke', id); }
  rotate(scope) { return this.#call('rotate', scope); }
  sharePublishError() { return this.#call('sharePublishError'); }
  /**
   * Merges what the co-writers of read-write shares committed, without reading the other
   * devices' heads (`sync` does it too); refused entries are in skippedHeads().
   */
  mergeCowriters() { return this.#call('mergeCowriters'); }
  /**
   * Hands the vault over to `newIdentity` (nothing re-encrypted); this vault then writes as it,
   * and the old identity's devices fail with "HandedOver". Resolves to what the rotation did.
   */
  rotateIdentity(newIdentity) {
    try { checkIdentity(newIdentity, 'newIdentity'); } catch (e) { return Promise.reject(e); }
    return this.#call('rotateIdentity', newIdentity);
  }
  /** The identity handovers, oldest first: `[{ n, cid, from, to, timeMs }]`. */
  handovers() { return this.#call('handovers'); }
  /** The current owner's recipient. */
  owner() { return this.#call('owner'); }
  /** Releases the wasm memory held by this vault; later calls reject with BadInput. */
  free() { this.#v?.free(); this.#v = null; }
}

function checkShare(share) {
  if (!(share instanceof raw.Share)) {
    throw badInput('share must be a Share (from readInbox or a ShareBook)');
  }
}

/** A verified share addressed to this identity (from readInbox or a ShareBook). */
export const Share = raw.Share;

/** Parses a duration such as "30s", "15m", "1h", "7d" or "2w" into milliseconds. */
export const parseDuration = (text) => raw.parseDuration(text);

/**
 * Every share waiting in `identity`'s inbox on `store`: `[{ name, share } | { name, error }]`,
 * each entry verified on its own (a bad entry never hides the others).
 */
export async function readInbox(store, identity) {
  checkIdentity(identity);
  return raw.readInbox(store, identity);
}

/** The shares a recipient accepted: refuses replays and expired shares; persists sealed. */
export class ShareBook {
  #b;
  constructor(inner) {
    if (inner === undefined) inner = new raw.ShareBook();
    if (!(inner instanceof raw.ShareBook)) throw badInput('use new ShareBook() or ShareBook.fromBytes');
    this.#b = inner;
  }
  static fromBytes(identity, bytes) {
    checkIdentity(identity);
    return new ShareBook(raw.ShareBook.fromBytes(identity, bytes));
  }
  #book() {
    if (this.#b === null) throw badInput('this share book was freed');
    return this.#b;
  }
  /** Accepts a share at `nowMs` (default now): "new" or "updated" (a newer grant). */
  accept(share, nowMs) {
    checkShare(share);
    return this.#book().accept(share, nowMs);
  }
  shares() { return this.#book().shares(); }
  get(id) { return this.#book().get(id); }
  find(idPrefix) { return this.#book().find(idPrefix); }
  remove(id) { return this.#book().remove(id); }
  get size() { return this.#book().size; }
  toBytes(identity) {
    checkIdentity(identity);
    return this.#book().toBytes(identity);
  }
  free() { this.#b?.free(); this.#b = null; }
}

/** Reads what one accepted share grants from the owner's store; every read is verified. */
export class SharedReader {
  #r;
  /** @private use SharedReader.open */
  constructor(inner) {
    if (!(inner instanceof raw.SharedReader)) throw badInput('use SharedReader.open');
    this.#r = inner;
  }
  static async open(store, share) {
    checkShare(share);
    return new SharedReader(await raw.SharedReader.open(store, share));
  }
  get share() { return this.#r?.share; }
  #call(method, ...args) {
    if (this.#r === null) return Promise.reject(badInput('this reader was freed'));
    return this.#r[method](...args);
  }
  list(request) { return this.#call('list', request); }
  /** Every shared key, following continuation tokens. */
  keys(request = {}) { return allPages((r) => this.#call('list', r), request); }
  get(key) { return this.#call('get', key); }
  async getText(key) { return new TextDecoder().decode(await this.#call('get', key)); }
  head(key) { return this.#call('head', key); }
  free() { this.#r?.free(); this.#r = null; }
}

/**
 * Writes under a read-write share as its recipient: put/delete, then commit to publish; the
 * owner merges at its next sync. Every call checks the clock and the scope.
 */
export class SharedWriter {
  #w;
  /** @private use SharedWriter.open */
  constructor(inner) {
    if (!(inner instanceof raw.SharedWriter)) throw badInput('use SharedWriter.open');
    this.#w = inner;
  }
  static async open(store, identity, share) {
    checkIdentity(identity);
    checkShare(share);
    return new SharedWriter(await raw.SharedWriter.open(store, identity, share));
  }
  get share() { return this.#w?.share; }
  get writerId() { return this.#w?.writerId; }
  #call(method, ...args) {
    if (this.#w === null) return Promise.reject(badInput('this writer was freed'));
    return this.#w[method](...args);
  }
  put(key, bytes, options) { return this.#call('put', key, bytes, options); }
  delete(key) { return this.#call('delete', key); }
  commit() { return this.#call('commit'); }
  /** A SharedReader of the share as the store holds it now (this writer's commits included). */
  async reader() { return new SharedReader(await this.#call('reader')); }
  free() { this.#w?.free(); this.#w = null; }
}

/**
 * A parsed share link (`<fetch URL>#coffer-link-1.…`, made by `coffer link`): Link.parse(url),
 * then fetchUrl, name, contentType, size, sealedLen, owner, expiresMs, fetchesCar,
 * checkTime(nowMs?) and openResponse(body, nowMs?). `openLink` does it all in one call.
 */
export const Link = raw.Link;

/**
 * Opens a share link: parses it, refuses it once expired (before any request: an IPFS gateway
 * serves the content for as long as it is pinned), GETs `link.fetchUrl` (never the fragment, which
 * holds the key) with `options.fetch` (default globalThis.fetch), then checks the answer against
 * the link (length, BLAKE3, every CAR block, the owner's signature) and decrypts it.
 * `options.now` is the time in ms since the Unix epoch (default Date.now()).
 * Resolves to `{ name, contentType, size, owner, bytes }`; rejects with a CofferError:
 * "ShareNotValid" when expired (or the server refuses it with HTTP 403, as S3 does past a
 * presigned URL's expiry), "NotFound" on 404, "Store" on another HTTP error or a network failure,
 * "Corrupt" / "Integrity" when the bytes are not the linked object.
 */
export async function openLink(url, options = {}) {
  if (options === null || typeof options !== 'object') throw badInput('options must be an object');
  const { fetch: fetchFn = globalThis.fetch, now } = options;
  if (typeof fetchFn !== 'function') {
    throw badInput('options.fetch must be a function (no globalThis.fetch here: pass one)');
  }
  const link = raw.Link.parse(url);
  try {
    link.checkTime(now);
    let res;
    try {
      res = await fetchFn(link.fetchUrl);
    } catch (e) {
      throw new CofferError('Store', `fetching the link failed: ${e?.message ?? e}${e?.cause ? ` (${e.cause.message ?? e.cause})` : ''}`);
    }
    if (res.status === 403) {
      throw new CofferError('ShareNotValid',
        'the server refused the link (HTTP 403): it expired or was withdrawn; ask the owner for a new one');
    }
    if (res.status === 404) {
      throw new CofferError('NotFound', 'the server has no object at this link (HTTP 404): the owner deleted it or unpinned it');
    }
    if (!res.ok) {
      throw new CofferError('Store', `fetching the link failed: HTTP ${res.status} ${res.statusText ?? ''}`.trimEnd());
    }
    const body = new Uint8Array(await res.arrayBuffer());
    const bytes = link.openResponse(body, now);
    return { name: link.name, contentType: link.contentType ?? null, size: link.size, owner: link.owner, bytes };
  } finally {
    link.free();
  }
}

export { MemoryStore } from './stores/memory.js';
