//! The layout of a vault export (`docs/FORMAT.md` §10): a CAR v1 file whose single root is a
//! DAG-CBOR root block naming the vault and carrying its head records, followed by one section
//! per block. Reading it checks every rule as it goes.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};

use serde::{Deserialize, Serialize};

use super::CarError;
use crate::block::{CODEC_DAG_CBOR, CODEC_RAW, Cid, blake3_digest, dag_cbor_cid, from_dag_cbor};
use crate::store::car::{MAX_HEADER, parse_header, read_varint};
use crate::store::{MAX_HEAD_BYTES, MAX_HEADS};
use crate::vault::{HeadRecord, MAX_META_BLOCK};

/// The root block's `coffer` field.
pub(crate) const KIND: &str = "vault-car";
/// The largest root block accepted (its head records; a vault with a few hundred devices and
/// shares is well under 1 MiB).
pub const MAX_ROOT_BLOCK: u64 = 64 << 20;
/// The largest raw block section accepted (a sealed object of up to 1 TiB, its CID and length).
pub const MAX_SECTION: u64 = 1 << 40;
/// Blocks read into memory whole below this size; larger ones are streamed.
pub(crate) const IN_MEMORY: u64 = 4 << 20;

/// A file an export can be written to and resumed in.
pub trait CarFile: Read + std::io::Write + Seek + Send {
    /// Cuts the file to `len` bytes.
    fn truncate(&mut self, len: u64) -> std::io::Result<()>;
}

impl CarFile for std::fs::File {
    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        self.set_len(len)
    }
}

impl CarFile for std::io::Cursor<Vec<u8>> {
    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        let len = usize::try_from(len).map_err(std::io::Error::other)?;
        self.get_mut().truncate(len);
        Ok(())
    }
}

/// The root block (DAG-CBOR; fields in canonical order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RootBlock {
    /// Layout version: 1.
    pub v: u64,
    /// The head records, sorted by namespace then writer.
    pub heads: Vec<HeadWire>,
    /// The vault's name.
    pub vault: String,
    /// How many block sections follow the root block.
    pub blocks: u64,
    /// `"vault-car"`.
    pub coffer: String,
}

/// One head record in the root block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeadWire {
    /// The record's bytes.
    pub b: serde_bytes::ByteBuf,
    /// The writer.
    pub w: String,
    /// The namespace.
    pub ns: String,
}

impl RootBlock {
    pub(crate) fn new(vault: &str, blocks: u64, heads: &[HeadRecord]) -> Self {
        Self {
            v: 1,
            heads: heads
                .iter()
                .map(|h| HeadWire {
                    b: serde_bytes::ByteBuf::from(h.bytes.to_vec()),
                    w: h.writer.clone(),
                    ns: h.namespace.clone(),
                })
                .collect(),
            vault: vault.to_string(),
            blocks,
            coffer: KIND.to_string(),
        }
    }

    /// Decodes and checks a root block's bytes.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, CarError> {
        let root: Self = from_dag_cbor(bytes)
            .map_err(|e| CarError::Malformed(format!("unreadable root block: {e}")))?;
        if root.coffer != KIND || root.v != 1 {
            return Err(CarError::Malformed(format!(
                "root block of kind {:?} version {} (vault-car version 1 expected)",
                root.coffer, root.v
            )));
        }
        crate::store::validate_name(&root.vault)
            .map_err(|e| CarError::Malformed(format!("vault name: {e}")))?;
        if root.heads.len() > MAX_HEADS * 4 {
            return Err(CarError::Malformed(format!(
                "{} head records",
                root.heads.len()
            )));
        }
        let mut prev: Option<(&str, &str)> = None;
        for h in &root.heads {
            let bad = |reason: String| CarError::BadHead {
                namespace: h.ns.clone(),
                writer: h.w.clone(),
                reason,
            };
            crate::store::validate_name(&h.ns).map_err(|e| bad(e.to_string()))?;
            crate::store::validate_name(&h.w).map_err(|e| bad(e.to_string()))?;
            if h.b.len() as u64 > MAX_HEAD_BYTES {
                return Err(bad(format!("{} bytes", h.b.len())));
            }
            let key = (h.ns.as_str(), h.w.as_str());
            if prev.is_some_and(|p| p >= key) {
                return Err(bad("head records out of order or repeated".into()));
            }
            prev = Some(key);
        }
        Ok(root)
    }

    pub(crate) fn records(&self) -> Vec<HeadRecord> {
        self.heads
            .iter()
            .map(|h| HeadRecord {
                namespace: h.ns.clone(),
                writer: h.w.clone(),
                bytes: bytes::Bytes::from(h.b.to_vec()),
            })
            .collect()
    }
}

/// One block section of a scanned file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Section {
    pub cid: Cid,
    /// Where its block data starts in the file.
    pub offset: u64,
    /// Its block data's length.
    pub len: u64,
}

/// A file read through: the root block and where each block lies.
pub(crate) struct Scanned {
    pub root: RootBlock,
    pub sections: Vec<Section>,
    pub bytes: u64,
}

/// Reads through a file: `r` positioned anywhere; reports each verified section to `each`
/// (blocks done, bytes done). Checks every rule of §10 except what needs the vault's keys.
pub(crate) fn scan<R: Read + Seek>(
    r: &mut R,
    each: &mut dyn FnMut(u64, u64),
) -> Result<Scanned, CarError> {
    let file_len = r.seek(SeekFrom::End(0))?;
    r.seek(SeekFrom::Start(0))?;
    let mut reader = Positioned::new(std::io::BufReader::with_capacity(1 << 20, r), file_len);
    let (root_cid, root, _) = read_prefix(&mut reader)?;
    let mut seen: HashSet<Cid> = HashSet::new();
    seen.insert(root_cid);
    let mut sections = Vec::new();
    let mut bytes = 0u64;
    while reader.pos < file_len {
        if sections.len() as u64 >= root.blocks {
            return Err(CarError::CountMismatch {
                declared: root.blocks,
                found: sections.len() as u64 + 1,
            });
        }
        let s = read_section(&mut reader, None)?;
        if !seen.insert(s.cid) {
            return Err(CarError::Duplicate(s.cid.to_string()));
        }
        bytes += s.len;
        sections.push(s);
        each(sections.len() as u64, bytes);
    }
    if sections.len() as u64 != root.blocks {
        return Err(CarError::CountMismatch {
            declared: root.blocks,
            found: sections.len() as u64,
        });
    }
    Ok(Scanned {
        root,
        sections,
        bytes,
    })
}

/// Reads the CAR header and the root block section: (root CID, root block, bytes read).
pub(crate) fn read_prefix<R: Read>(
    reader: &mut Positioned<R>,
) -> Result<(Cid, RootBlock, u64), CarError> {
    let header_len = reader.varint()?;
    if header_len > MAX_HEADER {
        return Err(CarError::TooLarge {
            offset: 0,
            len: header_len,
            limit: MAX_HEADER,
        });
    }
    let header = reader.bytes(header_len, 0)?;
    let roots = parse_header(&header).map_err(CarError::Malformed)?;
    let [root_cid] = roots[..] else {
        return Err(CarError::Malformed(format!(
            "{} roots (one expected)",
            roots.len()
        )));
    };
    let start = reader.pos;
    let (cid, len) = reader.section_head(MAX_ROOT_BLOCK)?;
    if cid != root_cid || cid.codec() != CODEC_DAG_CBOR {
        return Err(CarError::Malformed(
            "the first section is not the root the header names".into(),
        ));
    }
    let bytes = reader.bytes(len, start)?;
    crate::block::verify_block(&cid, &bytes).map_err(|e| CarError::BadBlock {
        cid: cid.to_string(),
        detail: e.to_string(),
    })?;
    Ok((cid, RootBlock::decode(&bytes)?, reader.pos))
}

/// Reads and verifies one block section; `expect`, when given, is the CID it must have.
pub(crate) fn read_section<R: Read>(
    reader: &mut Positioned<R>,
    expect: Option<&Cid>,
) -> Result<Section, CarError> {
    let start = reader.pos;
    let (cid, len) = reader.section_head(MAX_SECTION)?;
    if expect.is_some_and(|e| *e != cid) {
        return Err(CarError::Malformed(format!("block {cid} out of place")));
    }
    let bad = |detail: &str| CarError::BadBlock {
        cid: cid.to_string(),
        detail: detail.to_string(),
    };
    let digest = match cid.codec() {
        CODEC_RAW | CODEC_DAG_CBOR if cid.version() == cid::Version::V1 => {
            blake3_digest(&cid).map_err(|e| bad(&e.to_string()))?
        }
        _ => return Err(bad("not a CIDv1 of codec raw or dag-cbor")),
    };
    if cid.codec() == CODEC_DAG_CBOR && len > MAX_META_BLOCK {
        return Err(CarError::TooLarge {
            offset: start,
            len,
            limit: MAX_META_BLOCK,
        });
    }
    let offset = reader.pos;
    let mut hasher = blake3::Hasher::new();
    let mut left = len;
    let mut buf = vec![0u8; 256 << 10];
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        reader.read_exact(&mut buf[..n], start)?;
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    if hasher.finalize().as_bytes() != &digest {
        return Err(bad("its bytes do not hash to its CID"));
    }
    Ok(Section { cid, offset, len })
}

/// A reader that knows where it is and where the file ends.
pub(crate) struct Positioned<R> {
    inner: R,
    pub pos: u64,
    end: u64,
}

impl<R: Read> Positioned<R> {
    pub(crate) fn new(inner: R, end: u64) -> Self {
        Self { inner, pos: 0, end }
    }

    pub(crate) fn at(inner: R, pos: u64, end: u64) -> Self {
        Self { inner, pos, end }
    }

    fn read_exact(&mut self, buf: &mut [u8], section: u64) -> Result<(), CarError> {
        if self.pos + buf.len() as u64 > self.end {
            return Err(CarError::Truncated { offset: section });
        }
        self.inner.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => CarError::Truncated { offset: section },
            _ => CarError::Io(e),
        })?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn bytes(&mut self, len: u64, section: u64) -> Result<Vec<u8>, CarError> {
        if self.pos + len > self.end {
            return Err(CarError::Truncated { offset: section });
        }
        let mut out = vec![0u8; len as usize];
        self.read_exact(&mut out, section)?;
        Ok(out)
    }

    /// A varint (minimal, at most 9 bytes), as CAR v1 frames use.
    fn varint(&mut self) -> Result<u64, CarError> {
        let start = self.pos;
        let mut raw = Vec::with_capacity(10);
        loop {
            let mut b = [0u8; 1];
            self.read_exact(&mut b, start)?;
            raw.push(b[0]);
            if b[0] & 0x80 == 0 || raw.len() >= 10 {
                break;
            }
        }
        let mut s: &[u8] = &raw;
        read_varint(&mut s)
            .ok_or_else(|| CarError::Malformed(format!("bad varint at byte {start}")))
    }

    /// A section's length varint and CID: (CID, length of the block data after it). The section
    /// may hold at most `limit` bytes of block data and must lie inside the file.
    fn section_head(&mut self, limit: u64) -> Result<(Cid, u64), CarError> {
        let start = self.pos;
        let len = self.varint()?;
        let after_len = self.pos;
        if len > limit.saturating_add(128) {
            return Err(CarError::TooLarge {
                offset: start,
                len,
                limit,
            });
        }
        if after_len + len > self.end {
            return Err(CarError::Truncated { offset: start });
        }
        let mut counted = Counting {
            inner: &mut self.inner,
            n: 0,
        };
        let cid = Cid::read_bytes(&mut counted)
            .map_err(|e| CarError::Malformed(format!("unreadable CID at byte {start}: {e}")))?;
        let id_len = counted.n;
        self.pos += id_len;
        if id_len > len {
            return Err(CarError::Malformed(format!(
                "section at byte {start} is shorter than its CID"
            )));
        }
        let data = len - id_len;
        if data > limit {
            return Err(CarError::TooLarge {
                offset: start,
                len: data,
                limit,
            });
        }
        Ok((cid, data))
    }
}

struct Counting<'a, R> {
    inner: &'a mut R,
    n: u64,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

/// The CID of a root block's bytes.
pub(crate) fn root_cid(bytes: &[u8]) -> Cid {
    dag_cbor_cid(bytes)
}

/// Runs the import decoder (everything before the vault's keys are needed) over arbitrary
/// bytes, as the fuzz target `vault_car` does: never panics.
pub fn fuzz_vault_car(data: &[u8]) {
    let _ = scan(&mut std::io::Cursor::new(data), &mut |_, _| {});
    // With a valid header and root block in front, so the fuzzer reaches the sections.
    let root = RootBlock::new("fuzz", 3, &[]);
    let Ok(bytes) = crate::block::to_dag_cbor(&root) else {
        return;
    };
    let cid = root_cid(&bytes);
    let mut car = crate::store::car::car_header(&[cid]);
    car.extend_from_slice(&crate::store::car::section_prefix(&cid, bytes.len() as u64));
    car.extend_from_slice(&bytes);
    car.extend_from_slice(data);
    let _ = scan(&mut std::io::Cursor::new(car), &mut |_, _| {});
    let _ = RootBlock::decode(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fuzz_entry_point_survives_garbage() {
        for seed in 0..64u8 {
            let mut data = vec![0u8; seed as usize * 13];
            blake3::Hasher::new()
                .update(&[seed])
                .finalize_xof()
                .fill(&mut data);
            fuzz_vault_car(&data);
        }
    }

    #[test]
    fn root_blocks_round_trip_and_refuse_unsorted_heads() {
        let rec = |ns: &str, w: &str| HeadRecord {
            namespace: ns.into(),
            writer: w.into(),
            bytes: bytes::Bytes::from_static(b"h"),
        };
        let root = RootBlock::new("v", 2, &[rec("a", "x"), rec("b", "x")]);
        let bytes = crate::block::to_dag_cbor(&root).unwrap();
        assert_eq!(RootBlock::decode(&bytes).unwrap(), root);
        let unsorted = RootBlock::new("v", 2, &[rec("b", "x"), rec("a", "x")]);
        let bytes = crate::block::to_dag_cbor(&unsorted).unwrap();
        assert!(matches!(
            RootBlock::decode(&bytes),
            Err(CarError::BadHead { .. })
        ));
        let mut other = root.clone();
        other.coffer = "something-else".into();
        let bytes = crate::block::to_dag_cbor(&other).unwrap();
        assert!(matches!(
            RootBlock::decode(&bytes),
            Err(CarError::Malformed(_))
        ));
    }
}
