import type { S3Client } from '@aws-sdk/client-s3';
import type { Store, StoredHead, HeadCondition } from '../index.js';
/** The largest head read (1 MiB) and the most heads per namespace, as in the Rust stores. */
export const MAX_HEAD_BYTES: number;
export const MAX_HEADS: number;
export interface S3StoreOptions {
  bucket: string;
  /** Key prefix; '/' is appended when missing. Same layout as the Rust S3 store. */
  prefix?: string;
  /** A configured client; otherwise one is made from the options below. */
  client?: S3Client;
  /** e.g. http://127.0.0.1:18333; path-style addressing is used when set. */
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  maxAttempts?: number;
  conditionalWrites?: 'enforced' | 'bestEffort';
}
/** <prefix>blocks/<cid>, <prefix>heads/<vault>/<writer> (version = ETag), as in docs/FORMAT.md §7. */
export class S3Store implements Store {
  constructor(options: S3StoreOptions);
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;
  readonly conditionalWrites: 'enforced' | 'bestEffort';
  blockKey(cid: string): string;
  headKey(vault: string, writer: string): string;
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
