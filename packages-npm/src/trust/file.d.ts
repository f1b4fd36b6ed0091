import type { TrustStorage } from '../index.js';
/**
 * Trust memory in directory `dir` (Node; created when missing, mode 0700): one file per document,
 * mode 0600, replaced atomically (the layout of the Rust side's FileTrust).
 */
export function fileTrust(dir: string): TrustStorage;
