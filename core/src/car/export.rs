//! Writing a vault export.

use std::io::SeekFrom;

use futures_util::StreamExt;

use super::file::{CarFile, IN_MEMORY, Positioned, RootBlock, read_section, root_cid};
use super::{CarError, CarPhase, CarProgress, CarProgressFn, report};
use crate::block::{Cid, blake3_digest, to_dag_cbor, verify_block};
use crate::store::car::{car_header, section_prefix};
use crate::store::{BlockStore, HeadStore, StoreError};
use crate::vault::{MAX_META_BLOCK, ReachableBlock, Vault};

/// Blocks fetched at once.
const IN_FLIGHT: usize = 16;

/// Blocks of unknown length (outboards, metadata) are refused beyond this when exported.
const MAX_UNSIZED: u64 = 1 << 30;

/// What [`export_car`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// The vault's name.
    pub vault: String,
    /// Blocks in the file.
    pub blocks: u64,
    /// Bytes of block data in the file.
    pub bytes: u64,
    /// Blocks kept from an earlier, interrupted export into the same file.
    pub resumed: u64,
    /// Head records in the root block.
    pub heads: u64,
    /// The file's length.
    pub file_len: u64,
}

/// Writes everything `vault` references (see [`Vault::reachable`]) to `out` as a CAR v1 file
/// (`docs/FORMAT.md` §10), each block verified against its CID as it is read from the store.
///
/// `out` may hold what an interrupted export of the same vault state wrote: the longest prefix
/// that matches (every section verified again) is kept and the rest appended; if the vault
/// changed since, the file is rewritten from the start. A store that lacks a block the vault
/// needs fails the export with [`CarError::MissingBlock`].
pub async fn export_car<S, F>(
    vault: &mut Vault<S>,
    out: &mut F,
    mut progress: Option<CarProgressFn<'_>>,
) -> Result<ExportReport, CarError>
where
    S: BlockStore + HeadStore + ?Sized,
    F: CarFile,
{
    report(
        &mut progress,
        CarProgress {
            phase: CarPhase::Walk,
            blocks_done: 0,
            blocks_total: 0,
            bytes_done: 0,
            bytes_total: None,
        },
    );
    let reach = vault.reachable().await?;
    if let Some(m) = reach.missing.first() {
        return Err(CarError::MissingBlock {
            cid: m.cid.clone(),
            what: format!("{}, not in the source store", m.reason),
        });
    }
    let root = RootBlock::new(vault.name(), reach.blocks.len() as u64, &reach.heads);
    let root_bytes = to_dag_cbor(&root).map_err(|e| CarError::Malformed(e.to_string()))?;
    let root_cid = root_cid(&root_bytes);
    let mut prefix = car_header(&[root_cid]);
    prefix.extend_from_slice(&section_prefix(&root_cid, root_bytes.len() as u64));
    prefix.extend_from_slice(&root_bytes);

    let (mut pos, resumed, mut bytes) = resume_point(out, &prefix, &reach.blocks)?;
    if pos == 0 {
        out.truncate(0)?;
        out.seek(SeekFrom::Start(0))?;
        out.write_all(&prefix)?;
        pos = prefix.len() as u64;
    } else {
        out.truncate(pos)?;
        out.seek(SeekFrom::Start(pos))?;
    }
    let store = vault.store().clone();
    let store = &*store;
    let total = reach.blocks.len() as u64;
    // Small blocks are fetched a few at once (in order); large ones stream one at a time.
    let mut fetches = futures_util::stream::iter(reach.blocks.iter().skip(resumed as usize))
        .map(|b| async move {
            if b.len.is_some_and(|l| l > IN_MEMORY) {
                return Ok::<_, CarError>((b, None));
            }
            Ok((b, Some(fetch_small(store, b).await?)))
        })
        .buffered(IN_FLIGHT);
    let mut done = resumed;
    while let Some(fetched) = fetches.next().await {
        let (b, data) = fetched?;
        let written = match data {
            Some(data) => {
                let prefix = section_prefix(&b.cid, data.len() as u64);
                out.write_all(&prefix)?;
                out.write_all(&data)?;
                (data.len() as u64, (prefix.len() + data.len()) as u64)
            }
            None => stream_big(store, b, out).await?,
        };
        bytes += written.0;
        pos += written.1;
        done += 1;
        report(
            &mut progress,
            CarProgress {
                phase: CarPhase::Copy,
                blocks_done: done,
                blocks_total: total,
                bytes_done: bytes,
                bytes_total: None,
            },
        );
    }
    drop(fetches);
    out.flush()?;
    Ok(ExportReport {
        vault: vault.name().to_string(),
        blocks: total,
        bytes,
        resumed,
        heads: reach.heads.len() as u64,
        file_len: pos,
    })
}

/// Where an interrupted export into `out` can continue: (file position, blocks kept, their
/// bytes); position 0 when nothing can be kept.
fn resume_point<F: CarFile>(
    out: &mut F,
    prefix: &[u8],
    blocks: &[ReachableBlock],
) -> Result<(u64, u64, u64), CarError> {
    let len = out.seek(SeekFrom::End(0))?;
    if len < prefix.len() as u64 {
        return Ok((0, 0, 0));
    }
    out.seek(SeekFrom::Start(0))?;
    let mut head = vec![0u8; prefix.len()];
    std::io::Read::read_exact(out, &mut head)?;
    if head != prefix {
        // Another state of the vault (or another vault): start over.
        return Ok((0, 0, 0));
    }
    let mut reader = Positioned::at(
        std::io::BufReader::with_capacity(1 << 20, &mut *out),
        prefix.len() as u64,
        len,
    );
    let (mut kept, mut bytes) = (0u64, 0u64);
    for b in blocks {
        let at = reader.pos;
        match read_section(&mut reader, Some(&b.cid)) {
            Ok(s) => {
                kept += 1;
                bytes += s.len;
            }
            Err(_) => return Ok((at, kept, bytes)),
        }
    }
    Ok((reader.pos, kept, bytes))
}

fn missing(cid: &Cid) -> CarError {
    CarError::MissingBlock {
        cid: cid.to_string(),
        what: "not in the source store".into(),
    }
}

fn corrupt(cid: &Cid, detail: &str) -> CarError {
    CarError::BadBlock {
        cid: cid.to_string(),
        detail: format!("the source store sent {detail}"),
    }
}

/// Fetches a block of at most [`IN_MEMORY`] bytes (or of unknown length) and verifies it.
async fn fetch_small<S: BlockStore + ?Sized>(
    store: &S,
    b: &ReachableBlock,
) -> Result<bytes::Bytes, CarError> {
    let limit = b
        .len
        .unwrap_or(if b.cid.codec() == crate::block::CODEC_DAG_CBOR {
            MAX_META_BLOCK
        } else {
            MAX_UNSIZED
        });
    let data = match store.get_max(&b.cid, limit).await {
        Ok(d) => d,
        Err(StoreError::NotFound(_)) => return Err(missing(&b.cid)),
        Err(e) => return Err(e.into()),
    };
    verify_block(&b.cid, &data)
        .map_err(|_| corrupt(&b.cid, "bytes that do not hash to its CID"))?;
    Ok(data)
}

/// Streams a large block from the store into its section, verifying it on the way: (data
/// bytes, section bytes). A mismatch leaves a bad section at the end of the file, which a
/// resumed export cuts off.
async fn stream_big<S, F>(
    store: &S,
    b: &ReachableBlock,
    out: &mut F,
) -> Result<(u64, u64), CarError>
where
    S: BlockStore + ?Sized,
    F: CarFile,
{
    let len = b.len.unwrap_or(0);
    let digest = blake3_digest(&b.cid).map_err(|e| corrupt(&b.cid, &e.to_string()))?;
    let mut stream = match store.get_stream(&b.cid).await {
        Ok(s) => s,
        Err(StoreError::NotFound(_)) => return Err(missing(&b.cid)),
        Err(e) => return Err(e.into()),
    };
    let prefix = section_prefix(&b.cid, len);
    out.write_all(&prefix)?;
    let mut hasher = blake3::Hasher::new();
    let mut got = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        got += chunk.len() as u64;
        if got > len {
            return Err(corrupt(
                &b.cid,
                &format!("more than the {len} bytes its manifest says"),
            ));
        }
        hasher.update(&chunk);
        out.write_all(&chunk)?;
    }
    if got != len || hasher.finalize().as_bytes() != &digest {
        return Err(corrupt(&b.cid, "bytes that do not hash to its CID"));
    }
    Ok((len, prefix.len() as u64 + len))
}
