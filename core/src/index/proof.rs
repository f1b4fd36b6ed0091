//! Inclusion and absence proofs: the encrypted blocks on the path from the root to the leaf
//! where a key is or would be. A verifier needs the root CID, the index key (to decrypt the
//! nodes) and the node size; nothing from the store.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use super::IndexConfig;
use super::entry::Entry;
use super::error::{IndexError, IndexResult};
use super::keys::IndexKey;
use super::node::{Body, NodeCodec};
use super::tree::ProllyTree;
use crate::block::{self, Cid};
use crate::store::BlockStore;

/// The blocks on the path from a root to the leaf that holds (or would hold) a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// The key the proof is about.
    pub key: Vec<u8>,
    /// Node blocks as stored (ciphertext), root first.
    pub nodes: Vec<Vec<u8>>,
}

/// What a verified proof shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProofOutcome {
    /// The key is in the tree with this entry (possibly a tombstone).
    Present(Entry),
    /// The key is not in the tree.
    Absent,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireProof {
    k: ByteBuf,
    n: Vec<ByteBuf>,
}

impl Proof {
    /// DAG-CBOR: `{"k": key bytes, "n": [node block bytes, root first]}`.
    pub fn to_bytes(&self) -> IndexResult<Vec<u8>> {
        let wire = WireProof {
            k: ByteBuf::from(self.key.clone()),
            n: self
                .nodes
                .iter()
                .map(|n| ByteBuf::from(n.clone()))
                .collect(),
        };
        Ok(block::to_dag_cbor(&wire)?)
    }

    /// Parses [`Proof::to_bytes`] output.
    pub fn from_bytes(bytes: &[u8]) -> IndexResult<Self> {
        let wire: WireProof = block::from_dag_cbor(bytes)
            .map_err(|_| IndexError::InvalidProof("not a DAG-CBOR index proof".into()))?;
        Ok(Proof {
            key: wire.k.into_vec(),
            nodes: wire.n.into_iter().map(ByteBuf::into_vec).collect(),
        })
    }
}

/// Checks `proof` against `root` and says whether its key is present (and with which entry).
///
/// Every block must hash to the CID its parent (or `root`) names, decrypt under `key`, decode,
/// and sit one level below its parent starting at the parent's separator; the path must follow
/// the separators to a leaf. Any tampering fails with an error, never a wrong answer.
pub fn verify_proof(
    key: &IndexKey,
    config: &IndexConfig,
    root: &Cid,
    proof: &Proof,
) -> IndexResult<ProofOutcome> {
    let codec = NodeCodec::new(key, config)?;
    let bad = |m: &str| Err(IndexError::InvalidProof(m.to_string()));
    let mut expected = *root;
    let mut parent: Option<(u8, Vec<u8>)> = None;
    for (i, bytes) in proof.nodes.iter().enumerate() {
        let node = codec
            .open(&expected, bytes)
            .map_err(|e| IndexError::InvalidProof(e.to_string()))?;
        if let Some((level, separator)) = &parent
            && (node.level() + 1 != *level || node.keys().first() != Some(separator.as_slice()))
        {
            return bad("a node does not fit under its parent");
        }
        match node.body() {
            Body::Leaf(entries) => {
                if i + 1 != proof.nodes.len() {
                    return bad("blocks follow the leaf");
                }
                let found = node.keys().find(&proof.key);
                return Ok(found.map_or(ProofOutcome::Absent, |j| {
                    ProofOutcome::Present(entries[j].clone())
                }));
            }
            Body::Internal(children) => {
                let c = node.child_for(&proof.key);
                expected = children[c];
                parent = Some((node.level(), node.keys()[c].to_vec()));
            }
        }
    }
    bad("the path ends before a leaf")
}

impl<S: BlockStore + ?Sized> ProllyTree<S> {
    /// A proof that `key` is in the tree at `root` (with its entry) or is not.
    pub async fn prove(&self, root: &Cid, key: &[u8]) -> IndexResult<Proof> {
        let mut nodes = Vec::new();
        let mut cid = *root;
        let mut node = self.load(&cid).await?;
        loop {
            nodes.push(self.store.get(&cid).await?.to_vec());
            let Body::Internal(children) = node.body() else {
                break;
            };
            let c = node.child_for(key);
            cid = children[c];
            node = self.load_child(&node, c).await?;
        }
        Ok(Proof {
            key: key.to_vec(),
            nodes,
        })
    }
}
