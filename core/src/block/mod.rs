//! Content addressing: CIDv1 with the BLAKE3 multihash, and DAG-CBOR encoding of structured nodes.
//!
//! Ciphertext blobs are named `CIDv1(raw 0x55, blake3 0x1e, 32-byte digest)`; structured nodes
//! (manifests, index nodes) are DAG-CBOR (0x71). A CID computed here is byte-for-byte the CID an
//! IPFS node computes for the same bytes (`ipfs block put --cid-codec raw --mhtype blake3`).

use serde::{Serialize, de::DeserializeOwned};

pub use cid::Cid;

/// Multicodec code of raw bytes.
pub const CODEC_RAW: u64 = 0x55;
/// Multicodec code of DAG-CBOR.
pub const CODEC_DAG_CBOR: u64 = 0x71;
/// Multihash code of BLAKE3 (256-bit output).
pub const MULTIHASH_BLAKE3: u64 = 0x1e;

/// What can go wrong naming or decoding a block.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlockError {
    /// The CID does not use the BLAKE3 multihash with a 32-byte digest, so coffer cannot verify it.
    #[error("CID {0} does not use the blake3 multihash with a 32-byte digest")]
    UnsupportedCid(String),
    /// The bytes do not hash to the CID they were fetched under: the store returned wrong data.
    #[error("block {cid} is corrupt: its bytes hash to {actual}")]
    HashMismatch {
        /// The CID the block was requested by.
        cid: String,
        /// The CID the returned bytes actually have.
        actual: String,
    },
    /// The bytes are not valid DAG-CBOR for the expected node type.
    #[error("block is not a valid DAG-CBOR node: {0}")]
    Decode(String),
    /// The value could not be encoded as DAG-CBOR.
    #[error("cannot encode node as DAG-CBOR: {0}")]
    Encode(String),
}

/// The CID of `digest` (a BLAKE3 root) under `codec`.
pub fn cid_from_blake3(codec: u64, digest: &[u8; 32]) -> Cid {
    let mh = multihash::Multihash::<64>::wrap(MULTIHASH_BLAKE3, digest)
        .expect("a 32-byte digest always fits a 64-byte multihash");
    Cid::new_v1(codec, mh)
}

/// The CIDv1 (raw, blake3) of `bytes`: how ciphertext blobs are named.
pub fn raw_cid(bytes: &[u8]) -> Cid {
    cid_from_blake3(CODEC_RAW, blake3::hash(bytes).as_bytes())
}

/// The CIDv1 (dag-cbor, blake3) of already-encoded DAG-CBOR `bytes`.
pub fn dag_cbor_cid(bytes: &[u8]) -> Cid {
    cid_from_blake3(CODEC_DAG_CBOR, blake3::hash(bytes).as_bytes())
}

/// The CID of `bytes` under `codec`, hashed with BLAKE3.
pub fn cid_for(codec: u64, bytes: &[u8]) -> Cid {
    cid_from_blake3(codec, blake3::hash(bytes).as_bytes())
}

/// The 32-byte BLAKE3 digest inside `cid`, or an error when it is not a coffer CID.
pub fn blake3_digest(cid: &Cid) -> Result<[u8; 32], BlockError> {
    let mh = cid.hash();
    if mh.code() != MULTIHASH_BLAKE3 || mh.size() != 32 {
        return Err(BlockError::UnsupportedCid(cid.to_string()));
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(mh.digest());
    Ok(out)
}

/// Checks that `bytes` hash to `cid` (same codec, BLAKE3 digest), in constant time.
pub fn verify_block(cid: &Cid, bytes: &[u8]) -> Result<(), BlockError> {
    let expected = blake3_digest(cid)?;
    // blake3::Hash equality is constant-time.
    if blake3::Hash::from(expected) == blake3::hash(bytes) {
        Ok(())
    } else {
        Err(BlockError::HashMismatch {
            cid: cid.to_string(),
            actual: cid_for(cid.codec(), bytes).to_string(),
        })
    }
}

/// Encodes `value` as canonical DAG-CBOR.
pub fn to_dag_cbor<T: Serialize>(value: &T) -> Result<Vec<u8>, BlockError> {
    serde_ipld_dagcbor::to_vec(value).map_err(|e| BlockError::Encode(e.to_string()))
}

/// Decodes DAG-CBOR `bytes` into `T`; rejects trailing bytes and non-canonical input.
pub fn from_dag_cbor<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BlockError> {
    serde_ipld_dagcbor::from_slice(bytes).map_err(|e| BlockError::Decode(e.to_string()))
}

/// Encodes `value` as DAG-CBOR and returns the bytes with their CID.
pub fn encode_node<T: Serialize>(value: &T) -> Result<(Cid, Vec<u8>), BlockError> {
    let bytes = to_dag_cbor(value)?;
    Ok((dag_cbor_cid(&bytes), bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_cid_of_empty_input() {
        // BLAKE3("") = af1349b9…; CIDv1 raw blake3, base32: the value Kubo prints for
        // `printf '' | ipfs block put --cid-codec raw --mhtype blake3`.
        let cid = raw_cid(b"");
        assert_eq!(
            hex::encode(blake3_digest(&cid).unwrap()),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        assert_eq!(cid.codec(), CODEC_RAW);
        assert_eq!(&cid.to_bytes()[..4], &[0x01, 0x55, 0x1e, 0x20]);
    }

    #[test]
    fn verify_block_rejects_other_bytes() {
        let cid = raw_cid(b"hello");
        verify_block(&cid, b"hello").unwrap();
        assert!(matches!(
            verify_block(&cid, b"hellO"),
            Err(BlockError::HashMismatch { .. })
        ));
    }

    #[test]
    fn dag_cbor_round_trip() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Node {
            a: u64,
            b: String,
        }
        let n = Node {
            a: 7,
            b: "x".into(),
        };
        let (cid, bytes) = encode_node(&n).unwrap();
        assert_eq!(cid.codec(), CODEC_DAG_CBOR);
        assert_eq!(from_dag_cbor::<Node>(&bytes).unwrap(), n);
        assert!(from_dag_cbor::<Node>(&bytes[..bytes.len() - 1]).is_err());
    }
}
