//! Streaming seal and open over `futures-io` (runtime-agnostic: tokio via `tokio-util`'s
//! compat layer, async-std, smol, or the browser).

use futures_io::{AsyncRead, AsyncWrite};
use futures_util::{AsyncReadExt, AsyncWriteExt};

use super::header::{HeaderSigner, Unlock};
use super::segments::TAG_LEN;
use super::trailer::{self, Hashing, HoldBack, TRAILER_LEN};
use super::{Header, OpenSummary, OsRng, SealError, SealOptions, SealSummary};
use crate::keys::{Identity, Recipient};

/// Reads until `buf` is full or the input ends; returns the bytes read.
async fn read_full<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]).await {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads one segment-sized chunk into `buf` (resized to what was read).
async fn read_chunk<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    size: usize,
) -> std::io::Result<()> {
    buf.resize(size, 0);
    let n = read_full(r, buf).await?;
    buf.truncate(n);
    Ok(())
}

/// Seals everything `reader` yields into `writer`, holding at most two segments in memory. A
/// signed object ends with its signature trailer.
pub async fn seal_async<R, W>(
    opts: &SealOptions,
    mut reader: R,
    mut writer: W,
) -> Result<SealSummary, SealError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (header, keys) = opts.start(&mut OsRng)?;
    let cipher = super::cipher_for(&header, &keys);
    let header = header.to_bytes();
    let mut hashing = if opts.signer.is_some() {
        Hashing::Plain(Box::default())
    } else {
        Hashing::None
    };
    hashing.update(&header);
    writer.write_all(&header).await?;
    let seg = cipher.segment_size();
    let mut summary = SealSummary {
        plaintext_len: 0,
        sealed_len: header.len() as u64,
        root: None,
    };
    let mut cur = Vec::with_capacity(seg + TAG_LEN);
    let mut next = Vec::with_capacity(seg + TAG_LEN);
    read_chunk(&mut reader, &mut cur, seg).await?;
    let mut index = 0u64;
    loop {
        // Only a full segment can have a successor.
        if cur.len() == seg {
            read_chunk(&mut reader, &mut next, seg).await?;
        } else {
            next.clear();
        }
        let last = next.is_empty();
        summary.plaintext_len += cur.len() as u64;
        cipher.seal_segment(index, last, &mut cur);
        hashing.update(&cur);
        writer.write_all(&cur).await?;
        summary.sealed_len += cur.len() as u64;
        if last {
            break;
        }
        std::mem::swap(&mut cur, &mut next);
        index += 1;
    }
    if let Some(id) = &opts.signer {
        let zeroed = hashing
            .zeroed_root()
            .ok_or(SealError::Internal("a signed seal is not hashed"))?;
        let total = summary.sealed_len + TRAILER_LEN as u64;
        let t = trailer::sign(&keys, id, &zeroed, total);
        hashing.update(&t);
        writer.write_all(&t).await?;
        summary.sealed_len = total;
    }
    summary.root = hashing.finish().0;
    writer.flush().await?;
    Ok(summary)
}

/// Opens the sealed object `reader` yields into `writer`, holding at most two segments in
/// memory. Only authenticated segments are written (for a signed v2 object the final one only
/// once the signature trailer verified); on error, what was written so far is a prefix of the
/// plaintext and must be discarded by the caller.
pub async fn open_async<R, W>(
    identity: &Identity,
    reader: R,
    writer: W,
) -> Result<OpenSummary, SealError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    open_async_with(Unlock::Identity(identity), reader, writer, None).await
}

/// The input of an async opener: `reader` through a [`HoldBack`].
struct Input<R> {
    reader: R,
    hold: HoldBack,
    eof: bool,
    chunk: Vec<u8>,
}

impl<R: AsyncRead + Unpin> Input<R> {
    async fn fill(&mut self, buf: &mut Vec<u8>, size: usize) -> std::io::Result<()> {
        buf.resize(size, 0);
        let mut n = 0;
        while n < size {
            if self.hold.releasable() == 0 {
                if self.eof {
                    break;
                }
                if self.hold.direct(size - n) {
                    // Straight into the caller's buffer (see the sync opener).
                    let t = self.hold.unload(&mut buf[n..]);
                    let k = self.reader.read(&mut buf[n + t..size]).await?;
                    if k == 0 {
                        self.eof = true;
                    }
                    n += self.hold.settle(&buf[n..n + t + k]);
                    continue;
                }
                let want = (size - n + TRAILER_LEN).max(1 << 16);
                self.chunk.resize(want, 0);
                let k = self.reader.read(&mut self.chunk).await?;
                if k == 0 {
                    self.eof = true;
                } else {
                    self.hold.push(&self.chunk[..k]);
                }
                continue;
            }
            n += self.hold.take(&mut buf[n..]);
        }
        buf.truncate(n);
        Ok(())
    }
}

/// [`open_async`] with any [`Unlock`], requiring the object to be signed by `signer` when given:
/// an unsigned or otherwise-signed object fails before any plaintext is written (v1, unsigned)
/// or before its final segment is (v2, whose signer is in the trailer).
pub(crate) async fn open_async_with<R, W>(
    unlock: Unlock<'_>,
    reader: R,
    mut writer: W,
    signer: Option<&Recipient>,
) -> Result<OpenSummary, SealError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut input = Input {
        reader,
        hold: HoldBack::new(0),
        eof: false,
        chunk: Vec::new(),
    };
    let mut bytes = Vec::new();
    input.fill(&mut bytes, super::PREFIX_LEN).await?;
    let len = Header::len_from_prefix(&bytes)?;
    if len > bytes.len() {
        let mut rest = Vec::new();
        input.fill(&mut rest, len - bytes.len()).await?;
        bytes.extend_from_slice(&rest);
    }
    if bytes.len() < len {
        return Err(SealError::TruncatedHeader {
            expected: len,
            found: bytes.len(),
        });
    }
    let header = Header::parse(&bytes)?;
    let (keys, _, found) = header.unlock(unlock)?;
    let trailer_expected = header.trailer_len() > 0;
    input.hold.set(header.trailer_len(), trailer_expected);
    let (mut known, header_only) = match found {
        HeaderSigner::HeaderOnly(s) => (Some(s), true),
        HeaderSigner::Unsigned | HeaderSigner::Trailer => (None, false),
    };
    if let Some(want) = signer
        && !trailer_expected
        && known.as_ref() != Some(want)
    {
        return Err(SealError::BadSignature);
    }
    let cipher = super::cipher_for(&header, &keys);
    let stride = cipher.segment_size() + TAG_LEN;
    let mut cur = Vec::with_capacity(stride);
    let mut next = Vec::with_capacity(stride);
    let mut plain = Vec::with_capacity(stride);
    input.fill(&mut cur, stride).await?;
    if cur.is_empty() {
        return Err(SealError::Truncated);
    }
    let mut plaintext_len = 0u64;
    let mut index = 0u64;
    loop {
        if cur.len() == stride {
            input.fill(&mut next, stride).await?;
        } else {
            next.clear();
        }
        let last = next.is_empty();
        cipher.open_segment(
            index,
            last,
            &cur,
            &mut plain,
            (!last).then_some(next.as_slice()),
        )?;
        if last {
            let tail = input.hold.finish()?;
            if trailer_expected {
                let zeroed = tail
                    .zeroed_root
                    .ok_or(SealError::Internal("a signed object was not hashed"))?;
                let s = trailer::verify(&keys, &tail.bytes, &zeroed, tail.total_len)?;
                if signer.is_some_and(|want| !want.same_identity(&s)) {
                    return Err(SealError::BadSignature);
                }
                known = Some(s);
            }
        }
        writer.write_all(&plain).await?;
        plaintext_len += plain.len() as u64;
        if last {
            break;
        }
        std::mem::swap(&mut cur, &mut next);
        index += 1;
    }
    writer.flush().await?;
    Ok(OpenSummary {
        plaintext_len,
        signer: known,
        header_only,
    })
}
