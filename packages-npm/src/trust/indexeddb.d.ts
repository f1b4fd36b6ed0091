import type { TrustStorage } from '../index.js';
/** Trust memory in IndexedDB (browsers): survives page reloads. */
export interface IndexedDbTrust extends TrustStorage {
  /** Closes the database (a later call opens it again). */
  close(): Promise<void>;
}
/** Trust memory in the IndexedDB database `dbName` (default "coffer-trust"), created on first use. */
export function indexedDbTrust(dbName?: string, indexedDB?: IDBFactory): IndexedDbTrust;
