import type { Store, StoredHead, HeadCondition } from '../index.js';
/** The largest head read (1 MiB) and the most heads per namespace, as in the Rust stores. */
export const MAX_HEAD_BYTES: number;
export const MAX_HEADS: number;
export interface IpfsStoreOptions {
  /** Kubo RPC address, e.g. http://127.0.0.1:5001 */
  api: string;
  /** Separates coffer stores sharing a node (pin names, MFS directory); default "default". */
  namespace?: string;
  /** Let the node search the network for missing blocks (default: local only). */
  fetchFromNetwork?: boolean;
  /** Leaves in flight for blobs over 1 MiB (default 4). */
  concurrency?: number;
}
/** Kubo over its RPC API, the Rust IPFS store's layout (docs/FORMAT.md §7). Heads: bestEffort. */
export class IpfsStore implements Store {
  constructor(options: IpfsStoreOptions);
  readonly conditionalWrites: 'bestEffort';
  put(cid: string, bytes: Uint8Array): Promise<void>;
  get(cid: string): Promise<Uint8Array | null>;
  /** The bytes of `cid`, or an error with code "TooLarge" as soon as they exceed maxLen. */
  getMax(cid: string, maxLen: number): Promise<Uint8Array | null>;
  getRange(cid: string, start: number, end: number): Promise<Uint8Array | null>;
  has(cid: string): Promise<boolean>;
  delete(cid: string): Promise<void>;
  list(): Promise<string[]>;
  readHeads(vault: string): Promise<StoredHead[]>;
  writeHead(vault: string, writer: string, bytes: Uint8Array, condition: HeadCondition): Promise<string>;
}
