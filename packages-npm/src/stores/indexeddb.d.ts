import type { Store, StoredHead, HeadCondition } from '../index.js';
/** The largest head read (1 MiB) and the most heads per namespace, as in the Rust stores. */
export const MAX_HEAD_BYTES: number;
export const MAX_HEADS: number;
/** Blocks and heads in the browser's IndexedDB (offline use); conditional writes enforced. */
export class IndexedDbStore implements Store {
  static open(name?: string, indexedDB?: IDBFactory): Promise<IndexedDbStore>;
  readonly conditionalWrites: 'enforced';
  close(): void;
  put(cid: string, bytes: Uint8Array): Promise<void>;
  get(cid: string): Promise<Uint8Array | null>;
  /** The bytes of `cid`, or an error with code "TooLarge" as soon as they exceed maxLen. */
  getMax(cid: string, maxLen: number): Promise<Uint8Array | null>;
  has(cid: string): Promise<boolean>;
  delete(cid: string): Promise<void>;
  list(): Promise<string[]>;
  readHeads(vault: string): Promise<StoredHead[]>;
  writeHead(vault: string, writer: string, bytes: Uint8Array, condition: HeadCondition): Promise<string>;
}
