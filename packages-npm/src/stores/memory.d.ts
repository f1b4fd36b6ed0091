import type { Store, StoredHead, HeadCondition } from '../index.js';
/** Blocks and heads in process memory; conditional head writes enforced. */
export class MemoryStore implements Store {
  readonly conditionalWrites: 'enforced';
  put(cid: string, bytes: Uint8Array): Promise<void>;
  get(cid: string): Promise<Uint8Array | null>;
  getRange(cid: string, start: number, end: number): Promise<Uint8Array | null>;
  has(cid: string): Promise<boolean>;
  delete(cid: string): Promise<void>;
  list(): Promise<string[]>;
  readHeads(vault: string): Promise<StoredHead[]>;
  writeHead(vault: string, writer: string, bytes: Uint8Array, condition: HeadCondition): Promise<string>;
  readonly blockCount: number;
}
