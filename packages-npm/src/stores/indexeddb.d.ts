import type { Store, StoredHead, HeadCondition } from '../index.js';
/** Blocks and heads in the browser's IndexedDB (offline use); conditional writes enforced. */
export class IndexedDbStore implements Store {
  static open(name?: string, indexedDB?: IDBFactory): Promise<IndexedDbStore>;
  readonly conditionalWrites: 'enforced';
  close(): void;
  put(cid: string, bytes: Uint8Array): Promise<void>;
  get(cid: string): Promise<Uint8Array | null>;
  has(cid: string): Promise<boolean>;
  delete(cid: string): Promise<void>;
  list(): Promise<string[]>;
  readHeads(vault: string): Promise<StoredHead[]>;
  writeHead(vault: string, writer: string, bytes: Uint8Array, condition: HeadCondition): Promise<string>;
}
