// Types of @coffer/sdk. Bytes are Uint8Array; object keys are strings (UTF-8) or Uint8Array.

/** Stable error codes of CofferError. */
export type CofferErrorCode =
  | 'BadInput'          // a wrong type, missing field, out-of-range number, invalid name or key
  | 'BadKey'            // a malformed identity or recipient text
  | 'NotFound'          // no object under the key (or no such version / block)
  | 'NoSuchVault'
  | 'AlreadyExists'
  | 'PreconditionFailed'// ifAbsent / ifMatch did not hold, or a head was changed concurrently
  | 'NotRecipient'      // the object is not sealed to this identity
  | 'WrongIdentity'     // the vault belongs to another identity
  | 'Integrity'         // authentication / hash check failed: data modified, truncated or forged
  | 'Corrupt'           // malformed data from the store
  | 'Conflict'          // the vault was created twice concurrently
  | 'Store'             // the store's transport failed (a rejected Promise, network, access)
  | 'ShareNotValid'     // a share that expired, is not valid yet, or was revoked
  | 'Untrusted'         // the store rolled back, forked or hid what this device saw (options.trust)
  | 'TrustStorage'      // the trust memory (options.trust) failed, answered a wrong type, or is damaged
  | 'NotWriter'         // a read-only share, or a co-writer the owner no longer lists (SharedWriter)
  | 'WriteOutsideScope' // a co-writer's put or delete of a key outside its share's scope
  | 'HandedOver'        // this identity handed the vault over to another one (rotateIdentity)
  | 'Internal';

/** Every error coffer throws or rejects with. */
export class CofferError extends Error {
  constructor(code: CofferErrorCode, message: string);
  readonly name: 'CofferError';
  readonly code: CofferErrorCode;
}

/** A secret identity: X25519 (receive) and Ed25519 (sign) from one 32-byte seed. */
export class Identity {
  private constructor();
  static generate(): Identity;
  /** `COFFER-SECRET-KEY-1…`, or the contents of an identity file. */
  static fromString(text: string): Identity;
  static fromSeed(seed: Uint8Array): Identity;
  /**
   * The identity of `passphrase` for `account` (e-mail or user name; white space trimmed, case
   * kept): Argon2id with 64 MiB, 3 passes, 4 lanes (about a second in wasm). Deterministic; the
   * passphrase must be strong (anyone with the recipient can test guesses offline). "BadInput"
   * when either is empty.
   */
  static fromPassphrase(passphrase: string, account: string): Identity;
  /**
   * The identity of a wallet's `personal_sign` signature of WALLET_MESSAGE: 65 bytes (or the
   * 64-byte compact form), as bytes or hex text ("0x…"). The signature is the secret; it is not
   * checked against an address. "BadKey" when malformed.
   */
  static fromWalletSignature(signature: Uint8Array | string): Identity;
  /** The secret text form. Keep it secret. */
  toSecretString(): string;
  /** The public recipient text form, `coffer1…`. */
  readonly recipient: string;
  /**
   * The post-quantum hybrid recipient `cofferpq1…` (X-Wing: ML-KEM-768 + X25519, 2,065
   * characters): what is sealed or shared to it resists a future quantum computer.
   */
  readonly postQuantumRecipient: string;
  /** This identity as a W3C `did:key` (`did:key:z6Mk…`, its Ed25519 key); usable as a recipient. */
  readonly didKey: string;
  /** Ed25519 signature (64 bytes). */
  sign(message: Uint8Array): Uint8Array;
  /** Releases the wasm memory holding the secret. */
  free(): void;
}

/** The message an app asks a wallet to sign for Identity.fromWalletSignature. Never changes. */
export const WALLET_MESSAGE: string;

export function coreVersion(): string;
/** Checks a recipient (`coffer1…`, `cofferpq1…` or `did:key:z6Mk…`); returns its canonical text. */
export function parseRecipient(text: string): string;
export function verifySignature(recipient: string, message: Uint8Array, signature: Uint8Array): boolean;

export interface SealOptions {
  /** Signs the header; `open` then reports this identity's recipient as the signer. */
  signer?: Identity;
  /** Segment size as a power of two, 10..=24 (default 16: 64 KiB). */
  segmentSizeLog2?: number;
}
export type Recipients = string | Identity | Array<string | Identity>;
export function seal(plaintext: Uint8Array, recipients: Recipients, options?: SealOptions): Uint8Array;
export interface Opened {
  plaintext: Uint8Array;
  /** The verified signer's recipient text, or null when unsigned. */
  signer: string | null;
  /** Whether the signature covers the header only (objects sealed before format v2). */
  headerOnly: boolean;
}
export function open(identity: Identity, sealed: Uint8Array): Opened;

/**
 * Which AES-GCM the async functions use: `"webcrypto"` (`crypto.subtle`, hardware AES), or
 * `"portable"` (the core's own, in wasm: what `seal`/`open` use). Default: WebCrypto when
 * `globalThis.crypto.subtle` exists, else portable.
 */
export type AesBackend = 'webcrypto' | 'portable';
export interface SealAsyncOptions extends SealOptions {
  backend?: AesBackend;
}
/** `seal`, with WebCrypto's AES-GCM when available: the same format, several times faster. */
export function sealAsync(plaintext: Uint8Array, recipients: Recipients, options?: SealAsyncOptions & { outboard?: false }): Promise<Uint8Array>;
/** The same, with the Bao outboard of the sealed object built while WebCrypto encrypts. */
export function sealAsync(plaintext: Uint8Array, recipients: Recipients, options: SealAsyncOptions & { outboard: true }): Promise<{ sealed: Uint8Array; root: string; outboard: Uint8Array }>;
/**
 * `open`, with WebCrypto's AES-GCM when available: the same result, and for a damaged object the
 * same error (code and message) as `open`. Nothing is returned unless every segment and the
 * signature verified.
 */
export function openAsync(identity: Identity, sealed: Uint8Array, options?: { backend?: AesBackend }): Promise<Opened & { root: string }>;
/** Whether `sealAsync`/`openAsync` use WebCrypto here by default. */
export function webCryptoAvailable(): boolean;

export function blake3(bytes: Uint8Array): string;
export function cid(bytes: Uint8Array, codec?: 'raw' | 'dag-cbor'): string;

/** The DAG-CBOR root of a large blob stored as 1 MiB leaves (the IPFS layout, docs/FORMAT.md §7). */
export function blobRootEncode(blob: string, size: number, leaves: string[]): { cid: string; bytes: Uint8Array };
export function blobRootDecode(blob: string, bytes: Uint8Array): { size: number; leafSize: number; leaves: string[] };

export const verify: {
  outboard(data: Uint8Array): { root: string; outboard: Uint8Array };
  coveringRange(len: number, start: number, end: number): { start: number; end: number };
  rangeProof(root: string, len: number, outboard: Uint8Array, start: number, end: number): Uint8Array;
  /** Returns the verified bytes start..end; `covering` = the bytes of coveringRange(len, start, end). */
  verifyRange(root: string, len: number, start: number, end: number, proof: Uint8Array, covering: Uint8Array): Uint8Array;
  verifyAll(root: string, data: Uint8Array, outboard: Uint8Array): void;
};

/** Conditions a HeadStore must honour on writeHead. */
export type HeadCondition = { type: 'absent' } | { type: 'matches'; version: string } | { type: 'any' };

/**
 * A store of content-addressed blocks, named by CID text. Methods may return values or Promises.
 * A thrown error / rejected Promise becomes a CofferError with code "Store" (or, by its `code`
 * property: "NotFound", "PreconditionFailed"); never a crash, and nothing is committed half-way.
 */
export interface BlockStore {
  put(cid: string, bytes: Uint8Array): Promise<void> | void;
  /** null or undefined when missing. */
  get(cid: string): Promise<Uint8Array | null | undefined> | Uint8Array | null | undefined;
  /** Optional: bytes start..end; must throw when the range lies outside the block. An answer
   * longer than asked is refused (TooLarge), a shorter one taken as out of bounds. */
  getRange?(cid: string, start: number, end: number): Promise<Uint8Array | null | undefined>;
  /** Optional: like get, but should stop reading (throw an error with code "TooLarge") as soon as
   * the bytes exceed maxLen; without it, get's answer is checked against maxLen afterwards. */
  getMax?(cid: string, maxLen: number): Promise<Uint8Array | null | undefined>;
  has(cid: string): Promise<boolean> | boolean;
  delete(cid: string): Promise<void> | void;
  list(): Promise<string[]> | string[];
}

export interface StoredHead {
  writer: string;
  bytes: Uint8Array;
  /** Opaque; compared for equality only. */
  version: string;
}

/** Mutable, versioned writer heads (one small signed blob per vault and writer). */
export interface HeadStore {
  readHeads(vault: string): Promise<StoredHead[]> | StoredHead[];
  /** Returns the new version; throws an error with code "PreconditionFailed" when the condition fails. */
  writeHead(vault: string, writer: string, bytes: Uint8Array, condition: HeadCondition): Promise<string> | string;
  /** Whether writeHead's condition is checked atomically (default "bestEffort"). */
  readonly conditionalWrites?: 'enforced' | 'bestEffort';
}

export type Store = BlockStore & HeadStore;

export type Key = string | Uint8Array;

export interface PutOptions {
  contentType?: string;
  metadata?: Record<string, string>;
  /** Fail with PreconditionFailed when the key holds a live object. */
  ifAbsent?: boolean;
  /** Fail with PreconditionFailed unless the current version is this one. */
  ifMatch?: string;
  /** Tags of the new version (at most 10, encrypted); change them later with setTags. */
  tags?: Record<string, string>;
}

export interface ObjectInfo {
  /** The key as text, or null when it is not UTF-8 (see keyBytes). */
  key: string | null;
  keyBytes: Uint8Array;
  /** The version id (= etag): the manifest's CID. */
  version: string;
  etag: string;
  size: number;
  sealedSize: number;
  contentType: string | null;
  metadata: Record<string, string>;
  createdMs: number;
  /** CID of the sealed data. */
  data: string;
}

export interface ListRequest {
  prefix?: Key;
  delimiter?: Key;
  startAfter?: Key;
  continuationToken?: string;
  maxKeys?: number;
}

export interface ListedObject {
  key: string | null;
  keyBytes: Uint8Array;
  size: number;
  etag: string;
  lastModifiedMs: number;
}

export interface ListPage {
  contents: ListedObject[];
  commonPrefixes: Array<string | null>;
  keyCount: number;
  isTruncated: boolean;
  nextContinuationToken: string | null;
}

export interface SyncReport {
  merged: string[];
  rootBefore: string;
  rootAfter: string;
}

export interface DeleteResult {
  key: string | null;
  error: CofferError | null;
}

/**
 * What a share covers: a prefix (empty: the whole vault), one object (its current version and
 * those written while the share is live), or one version of one object. Keys and prefixes come
 * back as text, or as bytes when not UTF-8.
 */
export type Scope =
  | { kind?: 'prefix'; prefix: Key }
  | { kind?: 'object'; key: Key }
  | { kind?: 'version'; key: Key; version: string };
export type ShareScope =
  | { kind: 'prefix'; prefix: string | Uint8Array }
  | { kind: 'object'; key: string | Uint8Array }
  | { kind: 'version'; key: string | Uint8Array; version: string };

export type ShareRequest = Scope & {
  /** The recipient (`coffer1…`) or an Identity (its recipient is used). */
  to: string | Identity;
  /** Valid until, exclusive (ms since the Unix epoch; must be in the future). */
  expiresMs: number;
  /** Valid from (ms since the Unix epoch; default now). */
  notBeforeMs?: number;
  /**
   * Object and prefix shares: also grant `write` (a read-write share): the recipient writes
   * under the scope with a SharedWriter, and the owner merges it at its next sync.
   */
  write?: boolean;
};

export type ShareStatus = 'active' | 'pending' | 'expired' | 'revoked';

/** One share a vault issued. */
export interface ShareInfo {
  id: string;
  scope: ShareScope;
  /** The recipient. */
  to: string;
  notBeforeMs: number;
  expiresMs: number;
  issuedMs: number;
  revokedMs: number | null;
  /** The latest grant delivered (1, then +1 per rotation it survived). */
  grant: number;
  /** Whether it grants `write` (a read-write share). */
  write: boolean;
  status: ShareStatus;
}

/** What Vault.rotateIdentity did. */
export interface IdentityRotation {
  /** The handover block's CID. */
  handover: string;
  /** The new key block's CID (the same vault key, sealed to the new identity). */
  keyBlock: string;
  /** The retired identity's recipient. */
  from: string;
  /** The new owner's recipient. */
  to: string;
  /** The old identity's final heads the handover pins. */
  finalHeads: number;
  /** The share records it pins. */
  records: number;
  /** Bytes written to the store (key block, handover, head): nothing is re-encrypted. */
  bytesWritten: number;
  /** Whether an earlier, interrupted run had already committed it (openAndRotateIdentity). */
  resumed: boolean;
}

/** One identity handover of a vault: `from` handed it over to `to`. */
export interface Handover {
  /** Its place in the chain (1: the first rotation). */
  n: number;
  cid: string;
  from: string;
  to: string;
  /** When it was signed (ms since the Unix epoch). */
  timeMs: number;
}

/** What a revocation or rotation did to a scope's keys. */
export interface RotationReport {
  /** The scope's epoch now (0: nothing is shared any more). */
  epoch: number;
  /** Objects whose keys went into the new epoch's keyring. */
  objects: number;
  /** File keys written. */
  keys: number;
  bytesWritten: number;
  /** Grants delivered to recipients' inboxes. */
  grants: number;
}

/** An S3-style bucket of sealed, verified, versioned objects; one device (writer) of it. */
/**
 * Where a device keeps its trust memory: small named documents (a few KiB each) that must
 * survive restarts. A thrown error / rejected Promise, or a load answer other than a Uint8Array
 * or null, fails the vault call with code "TrustStorage". Ready-made: indexedDbTrust
 * (@coffer/sdk/trust/indexeddb) and fileTrust (@coffer/sdk/trust/file).
 */
export interface TrustStorage {
  /** The document saved under `name`, or null when there is none. */
  load(name: string): Promise<Uint8Array | null>;
  /** Saves `bytes` under `name`, replacing what was there (atomically if the medium allows). */
  save(name: string, bytes: Uint8Array): Promise<void>;
}

export interface VaultOptions {
  /**
   * Where this device remembers what it saw of the vault, so that a store serving an older
   * state, a forked one or hiding a writer is refused ("Untrusted"), across restarts too.
   * Without it: memory of this open vault only. Use one per store and identity.
   */
  trust?: TrustStorage;
  /**
   * When creating a vault: wrap its key, and every share keyring, with X-Wing (ML-KEM-768 +
   * X25519) instead of X25519 alone. Ignored when the vault exists (its key says which).
   */
  postQuantum?: boolean;
}

/** A head skipped by the last open or sync, and why. */
export interface SkippedHead {
  writer: string;
  reason: string;
}

export class Vault {
  private constructor();
  static create(store: Store, identity: Identity, name: string, device?: string, options?: VaultOptions): Promise<Vault>;
  static open(store: Store, identity: Identity, name: string, device?: string, options?: VaultOptions): Promise<Vault>;
  static openOrCreate(store: Store, identity: Identity, name: string, device?: string, options?: VaultOptions): Promise<Vault>;
  /**
   * Opens vault `name` with `oldIdentity` and hands it over to `newIdentity` (rotateIdentity).
   * Resumable: after an interrupted run it opens the vault with `newIdentity` (`resumed`).
   */
  static openAndRotateIdentity(store: Store, oldIdentity: Identity, newIdentity: Identity, name: string, device?: string, options?: VaultOptions): Promise<{ vault: Vault; rotation: IdentityRotation }>;
  readonly name: string;
  put(key: Key, bytes: Uint8Array, options?: PutOptions): Promise<ObjectInfo>;
  get(key: Key): Promise<Uint8Array>;
  getText(key: Key): Promise<string>;
  getRange(key: Key, start: number, end: number): Promise<Uint8Array>;
  head(key: Key): Promise<ObjectInfo>;
  /** The tags of the current version (empty object when none). */
  tags(key: Key): Promise<Record<string, string>>;
  /** Replaces the tags of the current version ({} removes them); the version id stays. */
  setTags(key: Key, tags: Record<string, string>): Promise<void>;
  versions(key: Key): Promise<ObjectInfo[]>;
  getVersion(key: Key, version: string): Promise<Uint8Array>;
  delete(key: Key): Promise<void>;
  deleteMany(keys: Key[]): Promise<DeleteResult[]>;
  copy(src: Key, dst: Key): Promise<ObjectInfo>;
  list(request?: ListRequest): Promise<ListPage>;
  keys(request?: Omit<ListRequest, 'continuationToken'>): AsyncGenerator<ListedObject>;
  sync(): Promise<SyncReport>;
  root(): Promise<string>;
  /** A short code (XXXX-XXXX-XXXX-XXXX) of the state this device has seen, to compare with another device's after both synced. */
  stateFingerprint(): Promise<string>;
  /** Heads skipped by the last open or sync (not this vault's owner's, malformed, moved). */
  skippedHeads(): Promise<SkippedHead[]>;
  /**
   * Shares a scope with a recipient until `expiresMs`: a signed capability, sealed to them, in
   * their inbox on this store. Resolves to the share id (32 hex digits). Later writes in scope
   * reach the recipient until the share expires or is revoked.
   */
  share(request: ShareRequest): Promise<string>;
  /** Every share this vault issued (as of the last open or sync), with its status now. */
  shares(): Promise<ShareInfo[]>;
  /** Revokes a share: its scope moves to new keys that only the remaining recipients receive. */
  revoke(id: string): Promise<RotationReport>;
  /** New keys for a shared object or prefix; every live recipient gets a new grant. */
  rotate(scope: Scope): Promise<RotationReport>;
  /** Why publishing the shared views failed after the last write (null when it did not). */
  sharePublishError(): Promise<string | null>;
  /**
   * Merges what co-writers of read-write shares committed, without reading the other devices'
   * heads (sync does it too). Entries outside a writer's scope, or from a writer revoked or
   * expired, are not merged and are listed by skippedHeads().
   */
  mergeCowriters(): Promise<void>;
  /**
   * Hands the vault over to `newIdentity`: the vault key re-sealed to it and a handover signed
   * by both (nothing re-encrypted or re-uploaded). This vault then writes as `newIdentity`; the
   * old identity's devices fail with "HandedOver" and must be reopened with the new one.
   * "BadInput" when `newIdentity` is the owner, a retired owner or a share recipient.
   */
  rotateIdentity(newIdentity: Identity): Promise<IdentityRotation>;
  /** The identity handovers, oldest first (empty: never rotated). */
  handovers(): Promise<Handover[]>;
  /** The current owner's recipient (`coffer1…`). */
  owner(): Promise<string>;
  free(): void;
}

/** A verified share addressed to this identity. The clock is checked on accept and every read. */
export class Share {
  private constructor();
  /** 32 hex digits; the same for every grant of one share. */
  readonly id: string;
  /** 1, then +1 each time the owner re-grants after a rotation. */
  readonly grant: number;
  /** The owner's recipient. */
  readonly issuer: string;
  /** The recipient it is for. */
  readonly audience: string;
  /** The owner's vault name. */
  readonly vault: string;
  readonly scope: ShareScope;
  readonly notBeforeMs: number;
  /** Valid until, exclusive. */
  readonly expiresMs: number;
  readonly issuedMs: number;
  /** ["read"], or ["read", "write"] for a read-write share. */
  readonly rights: string[];
  /** Whether it grants write (open a SharedWriter with it). */
  readonly canWrite: boolean;
  free(): void;
}

/**
 * One entry of an inbox: the verified share, or the CofferError it was refused with
 * ("WrongIdentity", "Integrity", "Corrupt", …).
 */
export type InboxEntry = { name: string; share: Share; error?: undefined } | { name: string; share?: undefined; error: CofferError };

/** Every share waiting in `identity`'s inbox on `store` (each entry verified on its own). */
export function readInbox(store: Store, identity: Identity): Promise<InboxEntry[]>;

/** Parses "30s", "15m", "1h", "7d" or "2w" into milliseconds ("BadInput" otherwise). */
export function parseDuration(text: string): number;

/**
 * The shares a recipient accepted, by id. `accept` throws "ShareNotValid" for an expired share
 * and "Integrity" for a replay (the same or an older grant of a share already held).
 */
export class ShareBook {
  constructor();
  /** Reads a book written by toBytes; every share is verified again. */
  static fromBytes(identity: Identity, bytes: Uint8Array): ShareBook;
  accept(share: Share, nowMs?: number): 'new' | 'updated';
  shares(): Share[];
  get(id: string): Share | undefined;
  /** By the start of its id (at least 4 hex digits); "BadInput" when none or several match. */
  find(idPrefix: string): Share;
  remove(id: string): boolean;
  readonly size: number;
  /** The book sealed to `identity` and signed by it. */
  toBytes(identity: Identity): Uint8Array;
  free(): void;
}

export interface SharedObjectInfo {
  key: string | null;
  keyBytes: Uint8Array;
  version: string;
  size: number;
  contentType: string | null;
  createdMs: number;
}

/**
 * Reads what one share grants from the owner's store. Every call checks the clock
 * ("ShareNotValid" once expired or revoked) and the scope ("BadInput" outside it).
 */
export class SharedReader {
  private constructor();
  static open(store: Store, share: Share): Promise<SharedReader>;
  readonly share: Share;
  /** The prefix must lie inside the share's scope (default: the scope's own). */
  list(request?: ListRequest): Promise<ListPage>;
  keys(request?: Omit<ListRequest, 'continuationToken'>): AsyncGenerator<ListedObject>;
  get(key: Key): Promise<Uint8Array>;
  getText(key: Key): Promise<string>;
  head(key: Key): Promise<SharedObjectInfo>;
  free(): void;
}

/**
 * Writes under a read-write share as its recipient: put and delete land in this co-writer's own
 * signed index; commit publishes them and the owner merges them at its next sync. Every call
 * checks the clock ("ShareNotValid" once expired) and the scope ("WriteOutsideScope"); commit is
 * refused with "ShareNotValid" once the owner revoked the share, "NotWriter" when the owner no
 * longer lists this identity.
 */
export class SharedWriter {
  private constructor();
  /** "NotWriter" for a read-only share, "WrongIdentity" when it is for another identity. */
  static open(store: Store, identity: Identity, share: Share): Promise<SharedWriter>;
  readonly share: Share;
  /** 32 hex digits: the writer id this co-writer's entries carry. */
  readonly writerId: string;
  /** Resolves to the new version id; visible to others after commit. */
  put(key: Key, bytes: Uint8Array, options?: { contentType?: string }): Promise<string>;
  delete(key: Key): Promise<void>;
  /** Publishes this co-writer's head; resolves to its seq. */
  commit(): Promise<number>;
  /** The share as the store holds it now (this writer's commits included). */
  reader(): Promise<SharedReader>;
  free(): void;
}

/**
 * A parsed share link (`<fetch URL>#coffer-link-2.…`, made by `coffer link`). The fragment holds
 * the file key; `fetchUrl` is the URL without it. `parse` throws "Corrupt" when it is not a link.
 */
export class Link {
  private constructor();
  static parse(url: string): Link;
  /** The URL to GET: an S3 presigned URL, or an IPFS gateway URL answering a CAR file. */
  readonly fetchUrl: string;
  /** The object's key in the owner's vault (a name to save it under). */
  readonly name: string;
  readonly contentType: string | null;
  /** Plaintext length in bytes. */
  readonly size: number;
  /** The sealed length the fetch must return (the blob's, inside a CAR). */
  readonly sealedLen: number;
  /** The owner's recipient (coffer1…); the object must be signed by it. */
  readonly owner: string;
  /** When the link expires (ms since the Unix epoch). */
  readonly expiresMs: number;
  /** Whether fetchUrl answers a CAR file (IPFS trustless gateway) rather than the sealed bytes. */
  readonly fetchesCar: boolean;
  /** Throws "ShareNotValid" from the expiry on (nowMs defaults to Date.now()). */
  checkTime(nowMs?: number): void;
  /** Verifies and opens what a GET of fetchUrl answered; "ShareNotValid" once expired. */
  openResponse(body: Uint8Array, nowMs?: number): Uint8Array;
  /** Zeroizes the key it holds. */
  free(): void;
}

/** What openLink reads of a fetch answer (a WHATWG Response has all of it). */
export interface LinkResponse {
  ok: boolean;
  status: number;
  statusText?: string;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export interface OpenLinkOptions {
  /** The fetch to use (default globalThis.fetch); called once, with link.fetchUrl only. */
  fetch?: (url: string) => Promise<LinkResponse>;
  /** The time in ms since the Unix epoch (default Date.now()). */
  now?: number;
}

/** A share link opened and verified. */
export interface OpenedLink {
  name: string;
  contentType: string | null;
  size: number;
  /** The owner's recipient, whose signature the object carries. */
  owner: string;
  bytes: Uint8Array;
}

/**
 * Opens a share link: refuses an expired one before any request ("ShareNotValid"), fetches
 * link.fetchUrl (an HTTP 403 is "ShareNotValid", 404 "NotFound", other errors "Store"), verifies
 * and decrypts ("Corrupt" / "Integrity" when the bytes are not the linked object).
 */
export function openLink(url: string, options?: OpenLinkOptions): Promise<OpenedLink>;

export { MemoryStore } from './stores/memory.js';
