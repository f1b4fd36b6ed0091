//! Checking a vault export and copying it into a store.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;

use super::file::{IN_MEMORY, Section, scan};
use super::view::CarView;
use super::{CarError, CarPhase, CarProgress, CarProgressFn, report};
use crate::block::{Cid, verify_block};
use crate::keys::Identity;
use crate::store::{BlockStore, HeadCondition, HeadStore, StoreError};
use crate::vault::{HeadRecord, Vault};

/// Blocks copied at once (network stores answer each put after a round trip; a directory store
/// after its fsync).
const IN_FLIGHT: usize = 16;

/// The device name the check opens the vault under (its head is never written anywhere).
const CHECK_DEVICE: &str = "coffer-car-import-check";

/// What [`import_car`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// The vault's name.
    pub vault: String,
    /// Blocks in the file.
    pub blocks: u64,
    /// Bytes of block data in the file.
    pub bytes: u64,
    /// Blocks the target already had (an earlier, interrupted import, or shared content).
    pub skipped: u64,
    /// Head records written.
    pub heads_written: u64,
    /// Head records the target already held, identical.
    pub heads_present: u64,
}

/// Checks the vault export in `file` completely (see the [module docs](super)) with `identity`,
/// the vault owner's, then copies it into `target`: blocks first (skipping those `target` has),
/// head records last. Re-running an interrupted import finishes it.
///
/// Nothing is written before the whole file is checked: a truncated file, an oversized section,
/// a block that does not hash to its CID, a block the vault does not reference, a referenced
/// block the file lacks, or a head that does not verify is an error and the target is
/// untouched. A target that already holds different heads of the vault is refused
/// ([`CarError::HeadConflict`]).
pub async fn import_car<T, R>(
    target: &T,
    identity: &Identity,
    mut file: R,
    mut progress: Option<CarProgressFn<'_>>,
) -> Result<ImportReport, CarError>
where
    T: BlockStore + HeadStore + ?Sized,
    R: Read + Seek + Send,
{
    let scanned = {
        let progress = &mut progress;
        scan(&mut file, &mut |blocks_done, bytes_done| {
            report(
                progress,
                CarProgress {
                    phase: CarPhase::Scan,
                    blocks_done,
                    blocks_total: 0,
                    bytes_done,
                    bytes_total: None,
                },
            )
        })?
    };
    let total = scanned.sections.len() as u64;
    report(
        &mut progress,
        CarProgress {
            phase: CarPhase::Check,
            blocks_done: 0,
            blocks_total: total,
            bytes_done: 0,
            bytes_total: Some(scanned.bytes),
        },
    );
    let records = scanned.root.records();
    let name = scanned.root.vault.clone();
    let view = Arc::new(CarView::new(file, &scanned.sections, &records));
    check(&view, identity, &name, &scanned.sections, &records).await?;

    // Refuse a target with other heads of this vault before writing anything.
    let mut present: HashSet<(String, String)> = HashSet::new();
    let mut by_ns: HashMap<&str, Vec<&HeadRecord>> = HashMap::new();
    for r in &records {
        by_ns.entry(r.namespace.as_str()).or_default().push(r);
    }
    for (ns, recs) in &by_ns {
        let existing = target.read_heads(ns).await?;
        for r in recs {
            if let Some(h) = existing.iter().find(|h| h.writer == r.writer) {
                if h.bytes != r.bytes {
                    return Err(CarError::HeadConflict {
                        namespace: r.namespace.clone(),
                        writer: r.writer.clone(),
                    });
                }
                present.insert((r.namespace.clone(), r.writer.clone()));
            }
        }
    }

    let mut out = ImportReport {
        vault: name.clone(),
        blocks: total,
        bytes: scanned.bytes,
        ..Default::default()
    };
    let (mut bytes_done, mut blocks_done) = (0u64, 0u64);
    let view_ref = &*view;
    let mut copies = futures_util::stream::iter(scanned.sections.iter())
        .map(|s| async move {
            if target.has(&s.cid).await? {
                return Ok::<_, CarError>((s.len, true));
            }
            copy_block(view_ref, target, s).await?;
            Ok((s.len, false))
        })
        .buffer_unordered(IN_FLIGHT);
    while let Some(done) = copies.next().await {
        let (len, skipped) = done?;
        out.skipped += u64::from(skipped);
        bytes_done += len;
        blocks_done += 1;
        report(
            &mut progress,
            CarProgress {
                phase: CarPhase::Copy,
                blocks_done,
                blocks_total: total,
                bytes_done,
                bytes_total: Some(scanned.bytes),
            },
        );
    }
    drop(copies);

    // Heads last; the vault's own device heads after its other records.
    let mut ordered: Vec<&HeadRecord> = records.iter().filter(|r| r.namespace != name).collect();
    ordered.extend(records.iter().filter(|r| r.namespace == name));
    for (i, r) in ordered.iter().enumerate() {
        if present.contains(&(r.namespace.clone(), r.writer.clone())) {
            out.heads_present += 1;
        } else {
            match target
                .write_head(
                    &r.namespace,
                    &r.writer,
                    r.bytes.clone(),
                    HeadCondition::Absent,
                )
                .await
            {
                Ok(_) => out.heads_written += 1,
                Err(StoreError::PreconditionFailed(_)) => {
                    // Written meanwhile: fine if it is the same record.
                    match target.read_head(&r.namespace, &r.writer).await? {
                        Some(h) if h.bytes == r.bytes => out.heads_present += 1,
                        _ => {
                            return Err(CarError::HeadConflict {
                                namespace: r.namespace.clone(),
                                writer: r.writer.clone(),
                            });
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        report(
            &mut progress,
            CarProgress {
                phase: CarPhase::Heads,
                blocks_done: i as u64 + 1,
                blocks_total: ordered.len() as u64,
                bytes_done: 0,
                bytes_total: None,
            },
        );
    }
    Ok(out)
}

/// Opens the vault from the file and checks that its heads verify and reference exactly the
/// file's blocks.
async fn check<R: Read + Seek + Send>(
    view: &Arc<CarView<R>>,
    identity: &Identity,
    name: &str,
    sections: &[Section],
    records: &[HeadRecord],
) -> Result<(), CarError> {
    if !records.iter().any(|r| r.namespace == name) {
        return Err(CarError::Malformed(format!(
            "the root block holds no head of vault {name}"
        )));
    }
    let mut vault = Vault::open(view.clone(), identity.clone(), name, CHECK_DEVICE)
        .await
        .map_err(|e| missing_or(view, e))?;
    if let Some(s) = vault.skipped_heads().first() {
        let namespace = records
            .iter()
            .find(|r| r.writer == s.writer)
            .map_or(name, |r| r.namespace.as_str());
        return Err(CarError::BadHead {
            namespace: namespace.to_string(),
            writer: s.writer.clone(),
            reason: s.reason.clone(),
        });
    }
    let reach = vault.reachable().await.map_err(|e| missing_or(view, e))?;
    drop(vault);
    if let Some(m) = reach.missing.first() {
        return Err(CarError::MissingBlock {
            cid: m.cid.clone(),
            what: format!("{}, not in the file", m.reason),
        });
    }
    for r in records {
        if !reach.heads.contains(r) {
            return Err(CarError::BadHead {
                namespace: r.namespace.clone(),
                writer: r.writer.clone(),
                reason: "it does not verify as one of the vault's records".into(),
            });
        }
    }
    let in_file: HashSet<Cid> = sections.iter().map(|s| s.cid).collect();
    let needed: HashSet<Cid> = reach.blocks.iter().map(|b| b.cid).collect();
    for b in reach.blocks.iter().filter(|b| !in_file.contains(&b.cid)) {
        // The check device's own empty index root is not the file's to carry.
        if !view.wrote(&b.cid).await {
            return Err(CarError::MissingBlock {
                cid: b.cid.to_string(),
                what: "not in the file".into(),
            });
        }
    }
    if let Some(s) = sections.iter().find(|s| !needed.contains(&s.cid)) {
        return Err(CarError::ForeignBlock(s.cid.to_string()));
    }
    Ok(())
}

/// A walk that failed on a block the file does not hold is a missing block.
fn missing_or<R: Read + Seek + Send>(view: &CarView<R>, e: crate::vault::VaultError) -> CarError {
    if let crate::vault::VaultError::Corrupt { cid, .. } = &e
        && let Ok(c) = cid.parse::<Cid>()
        && !view.holds(&c)
    {
        return CarError::MissingBlock {
            cid: cid.clone(),
            what: "not in the file".into(),
        };
    }
    CarError::Vault(e)
}

/// Copies one section into the target, verified.
async fn copy_block<T, R>(view: &CarView<R>, target: &T, s: &Section) -> Result<(), CarError>
where
    T: BlockStore + ?Sized,
    R: Read + Seek + Send,
{
    let bad = |detail: String| CarError::BadBlock {
        cid: s.cid.to_string(),
        detail,
    };
    if s.len <= IN_MEMORY {
        let data: Bytes = view.read_at(s.offset, s.len)?;
        verify_block(&s.cid, &data)
            .map_err(|_| bad("its bytes do not hash to its CID (the file changed?)".into()))?;
        target.put(&s.cid, data).await?;
    } else {
        let mut source = SectionReader {
            view,
            pos: s.offset,
            end: s.offset + s.len,
        };
        let mut source = futures_util::io::AllowStdIo::new(&mut source);
        match target.put_stream(&s.cid, &mut source, Some(s.len)).await {
            Ok(()) => {}
            Err(StoreError::Corrupt { detail, .. }) => return Err(bad(detail)),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// One section's data, read from the file in pieces.
struct SectionReader<'a, R> {
    view: &'a CarView<R>,
    pos: u64,
    end: u64,
}

impl<R: Read + Seek + Send> Read for SectionReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (self.end - self.pos).min(buf.len() as u64).min(1 << 20);
        if n == 0 {
            return Ok(0);
        }
        let data = self
            .view
            .read_at(self.pos, n)
            .map_err(std::io::Error::other)?;
        buf[..data.len()].copy_from_slice(&data);
        self.pos += n;
        Ok(n as usize)
    }
}
