//! The index: an encrypted, history-independent Prolly tree mapping object keys to entries.
//!
//! - **Shape.** Keys are byte strings (1 to 1024 bytes) in lexicographic byte order. Leaves hold
//!   entries; internal nodes hold each child's first key and CID. Node boundaries are cut where a
//!   keyed BLAKE3 hash of the item falls under its weight, so nodes average
//!   [`IndexConfig::target_node_bytes`] and the tree is a function of its set of entries: the same
//!   entries give the same root CID whatever the order of inserts and deletes.
//! - **Blocks.** Nodes are canonical DAG-CBOR, encrypted with AES-256-SIV (deterministic: the same
//!   node always gives the same ciphertext, so unchanged subtrees keep their CIDs across versions
//!   and devices) and named `CIDv1(raw, blake3)` of the ciphertext. The store sees sizes only.
//! - **Operations.** [`ProllyTree::get`], [`ProllyTree::apply`] (batches), [`ProllyTree::build`]
//!   (sorted bulk load), [`ProllyTree::range`], [`ProllyTree::list`] (S3 ListObjectsV2),
//!   [`ProllyTree::diff`], [`ProllyTree::merge`] (CRDT join), [`ProllyTree::compact_tombstones`],
//!   [`ProllyTree::prove`] and [`verify_proof`].
//!
//! The format is specified in `docs/FORMAT.md §6`.

mod build;
mod cache;
mod cursor;
mod diff;
mod entry;
mod error;
mod keys;
mod list;
mod merge;
mod node;
mod proof;
mod token;
mod tree;
mod write;

#[cfg(all(feature = "bench-internals", not(target_arch = "wasm32")))]
pub mod bench;

pub use cursor::RangeIter;
pub use diff::{Diff, DiffEntry};
pub use entry::{Entry, Hlc, WriterId};
pub use error::{IndexError, IndexResult, NodeDefect};
pub use keys::IndexKey;
pub use list::{ListPage, ListRequest, ListedObject, MAX_KEYS};
pub(crate) use node::Body;
pub use node::{KeyList, Node, NodeCodec};
pub use proof::{Proof, ProofOutcome, verify_proof};
pub use token::decode_list_token;
pub use tree::{IndexStats, ProllyTree};
pub use write::Mutation;

/// Longest key, in bytes (as in S3).
pub const MAX_KEY_LEN: usize = 1024;
/// Longest value, in bytes. Values are small records (a manifest CID); store data elsewhere.
pub const MAX_VALUE_LEN: usize = 64 * 1024;
/// Highest node level the format allows.
pub const MAX_LEVEL: u8 = 32;

/// Tuning of a tree. `target_node_bytes` is part of the format: every device of a vault must use
/// the same value. `cache_bytes` is local.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexConfig {
    /// Average encoded node size the chunker aims for (256 B to 1 MiB; default 4 KiB).
    pub target_node_bytes: u32,
    /// Budget of the decoded-node cache, in bytes (0 disables it; default 64 MiB).
    pub cache_bytes: usize,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            target_node_bytes: 4096,
            cache_bytes: 64 << 20,
        }
    }
}

impl IndexConfig {
    pub(crate) fn check(&self) -> IndexResult<()> {
        if !(256..=1 << 20).contains(&self.target_node_bytes) {
            return Err(IndexError::InvalidConfig(
                "target_node_bytes must be between 256 and 1048576",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
