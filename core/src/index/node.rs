//! Index nodes: the in-memory form, the DAG-CBOR wire form, and the checks a decoded node must
//! pass before the tree uses it.
//!
//! Wire form (canonical DAG-CBOR, a map with three keys in this order):
//!
//! ```text
//! { "c": [ [key: bytes, child: CID(tag 42)], ... ]          children (internal nodes, else [])
//!   "e": [ [key: bytes, time: uint, writer: bytes(16), value: bytes | null], ... ]
//!                                                            entries (leaves, else [])
//!   "l": uint }                                              level: 0 for leaves
//! ```

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use serde_bytes::Bytes;

use super::entry::{Entry, Hlc, WriterId};
use super::error::{IndexError, IndexResult, NodeDefect};
use super::keys::{IndexKey, IndexSecrets};
use super::{IndexConfig, MAX_KEY_LEN, MAX_LEVEL, MAX_VALUE_LEN};
use crate::block::{self, CODEC_RAW, Cid};

/// The keys of a node, stored back to back in one buffer (binary search touches few cache lines).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyList {
    bytes: Vec<u8>,
    ends: Vec<u32>,
}

impl KeyList {
    fn with_capacity(keys: usize, bytes: usize) -> Self {
        KeyList {
            bytes: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(keys),
        }
    }

    fn push(&mut self, key: &[u8]) {
        self.bytes.extend_from_slice(key);
        // Keys are at most 1024 bytes and nodes at most a few MiB of them: fits u32.
        self.ends.push(self.bytes.len() as u32);
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there is no key.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Key `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)? as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        Some(&self.bytes[start..end])
    }

    /// The first key.
    pub fn first(&self) -> Option<&[u8]> {
        self.get(0)
    }

    /// The last key.
    pub fn last(&self) -> Option<&[u8]> {
        self.get(self.len().wrapping_sub(1))
    }

    /// The keys in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + Clone + '_ {
        (0..self.len()).map(|i| &self[i])
    }

    /// Index of the first key in `from..` for which `pred` is false (keys where it is true
    /// must come first).
    pub(crate) fn partition_from(&self, from: usize, pred: impl Fn(&[u8]) -> bool) -> usize {
        let (mut lo, mut hi) = (from, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(&self[mid]) {
                lo = mid + 1
            } else {
                hi = mid
            }
        }
        lo
    }

    /// Index of the first key `>= key`.
    pub(crate) fn lower_bound(&self, key: &[u8]) -> usize {
        self.partition_from(0, |k| k < key)
    }

    /// Index of `key`, if present.
    pub(crate) fn find(&self, key: &[u8]) -> Option<usize> {
        let i = self.lower_bound(key);
        (self.get(i) == Some(key)).then_some(i)
    }
}

impl std::ops::Index<usize> for KeyList {
    type Output = [u8];
    fn index(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }
}

impl From<Vec<Vec<u8>>> for KeyList {
    fn from(keys: Vec<Vec<u8>>) -> Self {
        let mut list = KeyList::with_capacity(keys.len(), keys.iter().map(Vec::len).sum());
        for k in &keys {
            list.push(k);
        }
        list
    }
}

/// One decoded, validated index node.
#[derive(Clone, Debug)]
pub struct Node {
    level: u8,
    keys: KeyList,
    body: Body,
}

#[derive(Clone, Debug)]
pub(crate) enum Body {
    Leaf(Vec<Entry>),
    Internal(Vec<Cid>),
}

impl Node {
    pub(crate) fn leaf(keys: Vec<Vec<u8>>, entries: Vec<Entry>) -> Self {
        Node {
            level: 0,
            keys: keys.into(),
            body: Body::Leaf(entries),
        }
    }

    pub(crate) fn internal(level: u8, keys: Vec<Vec<u8>>, children: Vec<Cid>) -> Self {
        Node {
            level,
            keys: keys.into(),
            body: Body::Internal(children),
        }
    }

    /// The node's level: 0 for leaves, parent = child + 1.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// Number of entries (leaf) or children (internal node).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the node holds nothing (only the root of an empty tree does).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys: entry keys in a leaf, each child's first key in an internal node.
    pub fn keys(&self) -> &KeyList {
        &self.keys
    }

    /// The entries, when this is a leaf.
    pub fn entries(&self) -> Option<&[Entry]> {
        match &self.body {
            Body::Leaf(e) => Some(e),
            Body::Internal(_) => None,
        }
    }

    /// The child CIDs, when this is an internal node.
    pub fn children(&self) -> Option<&[Cid]> {
        match &self.body {
            Body::Leaf(_) => None,
            Body::Internal(c) => Some(c),
        }
    }

    pub(crate) fn body(&self) -> &Body {
        &self.body
    }

    /// Index of the child whose key range holds `key` (the leftmost child for keys before all).
    pub(crate) fn child_for(&self, key: &[u8]) -> usize {
        self.keys.partition_from(0, |k| k <= key).saturating_sub(1)
    }

    /// Rough heap size, for the cache budget.
    pub(crate) fn approx_bytes(&self) -> usize {
        let keys = self.keys.bytes.len() + 4 * self.keys.len();
        let body = match &self.body {
            Body::Leaf(e) => e
                .iter()
                .map(|e| 48 + e.value.as_ref().map_or(0, Vec::len))
                .sum(),
            Body::Internal(c) => c.len() * std::mem::size_of::<Cid>(),
        };
        64 + keys + body
    }
}

/// The boundary weight of a leaf entry: roughly its encoded size.
pub(crate) fn leaf_weight(key: &[u8], entry: &Entry) -> usize {
    key.len() + entry.value.as_ref().map_or(0, Vec::len) + 32
}

/// The boundary weight of an internal item: roughly its encoded size.
pub(crate) fn inner_weight(key: &[u8]) -> usize {
    key.len() + 40
}

/// Encodes, encrypts and checks index nodes for one index key and node size.
#[derive(Clone, Debug)]
pub struct NodeCodec {
    pub(crate) secrets: IndexSecrets,
    target: u64,
}

impl NodeCodec {
    /// A codec for trees under `key` built with `config`'s node size.
    pub fn new(key: &IndexKey, config: &IndexConfig) -> IndexResult<Self> {
        config.check()?;
        Ok(NodeCodec {
            secrets: IndexSecrets::derive(key),
            target: u64::from(config.target_node_bytes),
        })
    }

    /// Whether an item of `weight` bytes with `key` closes a node at `level`:
    /// `hash(level, key) / 2^64 < min(weight, target / 2) / target`.
    pub(crate) fn is_boundary(&self, level: u8, key: &[u8], weight: usize) -> bool {
        let w = (weight as u64).min(self.target / 2);
        let h = self.secrets.boundary_hash(level, key);
        u128::from(h) * u128::from(self.target) < u128::from(w) << 64
    }

    /// The canonical DAG-CBOR plaintext of `node`.
    pub fn encode(&self, node: &Node) -> IndexResult<Vec<u8>> {
        Ok(block::to_dag_cbor(&NodeView(node))?)
    }

    /// Encrypts `node` into a block: `(CID(raw, blake3), bytes)`.
    pub fn seal(&self, node: &Node) -> IndexResult<(Cid, Vec<u8>)> {
        let block = self.secrets.seal_node(&self.encode(node)?);
        Ok((block::raw_cid(&block), block))
    }

    /// Verifies `bytes` against `cid`, decrypts and decodes them, and checks the node.
    pub fn open(&self, cid: &Cid, bytes: &[u8]) -> IndexResult<Node> {
        if cid.codec() != CODEC_RAW {
            return Err(IndexError::Structure {
                cid: cid.to_string(),
                detail: "index nodes use the raw codec",
            });
        }
        block::verify_block(cid, bytes)?;
        let plain = self
            .secrets
            .open_node(bytes)
            .ok_or_else(|| IndexError::Decrypt {
                cid: cid.to_string(),
            })?;
        self.decode(&plain).map_err(|defect| IndexError::Malformed {
            cid: cid.to_string(),
            defect,
        })
    }

    /// Decodes and checks a node plaintext: schema, level, sorted unique keys, lengths, and that
    /// no item but the last is a node boundary.
    pub fn decode(&self, plaintext: &[u8]) -> Result<Node, NodeDefect> {
        // Borrows keys and writer ids from the plaintext; only values are copied out.
        let wire: WireNode<'_> =
            serde_ipld_dagcbor::from_slice(plaintext).map_err(|_| NodeDefect::Decode)?;
        if wire.l > MAX_LEVEL {
            return Err(NodeDefect::LevelTooHigh);
        }
        let node = if wire.l == 0 {
            if !wire.c.is_empty() {
                return Err(NodeDefect::Shape);
            }
            let mut keys = KeyList::with_capacity(wire.e.len(), 32 * wire.e.len());
            let mut entries = Vec::with_capacity(wire.e.len());
            for (k, time, writer, value) in wire.e {
                let writer: [u8; 16] = (**writer)
                    .try_into()
                    .map_err(|_| NodeDefect::WriterLength)?;
                let value = value.map(|v| v.to_vec());
                if value.as_ref().is_some_and(|v| v.len() > MAX_VALUE_LEN) {
                    return Err(NodeDefect::ValueLength);
                }
                keys.push(k);
                entries.push(Entry {
                    time: Hlc::from_u64(time),
                    writer: WriterId(writer),
                    value,
                });
            }
            Node {
                level: 0,
                keys,
                body: Body::Leaf(entries),
            }
        } else {
            if !wire.e.is_empty() || wire.c.is_empty() {
                return Err(NodeDefect::Shape);
            }
            let mut keys = KeyList::with_capacity(wire.c.len(), 32 * wire.c.len());
            let mut children = Vec::with_capacity(wire.c.len());
            for (k, cid) in wire.c {
                if cid.codec() != CODEC_RAW || block::blake3_digest(&cid).is_err() {
                    return Err(NodeDefect::ChildCid);
                }
                keys.push(k);
                children.push(cid);
            }
            Node {
                level: wire.l,
                keys,
                body: Body::Internal(children),
            }
        };
        self.check(&node)?;
        Ok(node)
    }

    fn check(&self, node: &Node) -> Result<(), NodeDefect> {
        for (i, k) in node.keys.iter().enumerate() {
            if k.is_empty() || k.len() > MAX_KEY_LEN {
                return Err(NodeDefect::KeyLength);
            }
            if i > 0 {
                match node.keys[i - 1].cmp(k) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => return Err(NodeDefect::Duplicate),
                    std::cmp::Ordering::Greater => return Err(NodeDefect::Unsorted),
                }
            }
        }
        let interior = node.keys.len().saturating_sub(1);
        for i in 0..interior {
            let k = &node.keys[i];
            let weight = match &node.body {
                Body::Leaf(e) => leaf_weight(k, &e[i]),
                Body::Internal(_) => inner_weight(k),
            };
            if self.is_boundary(node.level, k, weight) {
                return Err(NodeDefect::InteriorBoundary);
            }
        }
        Ok(())
    }
}

type WireEntry<'a> = (&'a Bytes, u64, &'a Bytes, Option<&'a Bytes>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireNode<'a> {
    #[serde(borrow)]
    c: Vec<(&'a Bytes, Cid)>,
    #[serde(borrow)]
    e: Vec<WireEntry<'a>>,
    l: u8,
}

struct NodeView<'a>(&'a Node);
struct ChildrenView<'a>(&'a Node);
struct EntriesView<'a>(&'a Node);

impl Serialize for NodeView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("Node", 3)?;
        m.serialize_field("c", &ChildrenView(self.0))?;
        m.serialize_field("e", &EntriesView(self.0))?;
        m.serialize_field("l", &self.0.level)?;
        m.end()
    }
}

impl Serialize for ChildrenView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let children: &[Cid] = self.0.children().unwrap_or(&[]);
        s.collect_seq(
            self.0
                .keys
                .iter()
                .zip(children)
                .map(|(k, c)| (Bytes::new(k), c)),
        )
    }
}

impl Serialize for EntriesView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let entries: &[Entry] = self.0.entries().unwrap_or(&[]);
        s.collect_seq(self.0.keys.iter().zip(entries).map(|(k, e)| {
            (
                Bytes::new(k),
                e.time.as_u64(),
                Bytes::new(&e.writer.0),
                e.value.as_deref().map(Bytes::new),
            )
        }))
    }
}
