//! Streaming seal and open over `futures-io` (runtime-agnostic: tokio via `tokio-util`'s
//! compat layer, async-std, smol, or the browser).

use futures_io::{AsyncRead, AsyncWrite};
use futures_util::{AsyncReadExt, AsyncWriteExt};

use super::segments::TAG_LEN;
use super::{Header, OpenSummary, OsRng, SealError, SealOptions, SealSummary};
use crate::keys::Identity;

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

/// Seals everything `reader` yields into `writer`, holding at most two segments in memory.
pub async fn seal_async<R, W>(
    opts: &SealOptions,
    mut reader: R,
    mut writer: W,
) -> Result<SealSummary, SealError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (header, cipher) = opts.start(&mut OsRng)?;
    let header = header.to_bytes();
    writer.write_all(&header).await?;
    let seg = cipher.segment_size();
    let mut summary = SealSummary {
        plaintext_len: 0,
        sealed_len: header.len() as u64,
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
        writer.write_all(&cur).await?;
        summary.sealed_len += cur.len() as u64;
        if last {
            break;
        }
        std::mem::swap(&mut cur, &mut next);
        index += 1;
    }
    writer.flush().await?;
    Ok(summary)
}

/// Opens the sealed object `reader` yields into `writer`, holding at most two segments in
/// memory. Only authenticated segments are written; on error, what was written so far is a
/// prefix of the plaintext and must be discarded by the caller.
pub async fn open_async<R, W>(
    identity: &Identity,
    reader: R,
    writer: W,
) -> Result<OpenSummary, SealError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    open_async_signed(identity, reader, writer, None).await
}

/// [`open_async`] that fails with [`SealError::BadSignature`] before writing any plaintext unless
/// the header is signed by `signer` (when given).
pub(crate) async fn open_async_signed<R, W>(
    identity: &Identity,
    mut reader: R,
    mut writer: W,
    signer: Option<&crate::keys::Recipient>,
) -> Result<OpenSummary, SealError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut bytes = Vec::new();
    read_chunk(&mut reader, &mut bytes, super::PREFIX_LEN).await?;
    let len = Header::len_from_prefix(&bytes)?;
    let mut rest = Vec::new();
    read_chunk(&mut reader, &mut rest, len - super::PREFIX_LEN).await?;
    bytes.extend_from_slice(&rest);
    if bytes.len() < len {
        return Err(SealError::TruncatedHeader {
            expected: len,
            found: bytes.len(),
        });
    }
    let header = Header::parse(&bytes)?;
    let (keys, found) = header.unlock(identity)?;
    if let Some(want) = signer
        && found.as_ref() != Some(want)
    {
        return Err(SealError::BadSignature);
    }
    let signer = found;
    let cipher = super::cipher_for(&header, &keys);
    let stride = cipher.segment_size() + TAG_LEN;
    let mut cur = Vec::with_capacity(stride);
    let mut next = Vec::with_capacity(stride);
    let mut plain = Vec::with_capacity(stride);
    read_chunk(&mut reader, &mut cur, stride).await?;
    if cur.is_empty() {
        return Err(SealError::Truncated);
    }
    let mut summary = OpenSummary {
        plaintext_len: 0,
        signer,
    };
    let mut index = 0u64;
    loop {
        if cur.len() == stride {
            read_chunk(&mut reader, &mut next, stride).await?;
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
        writer.write_all(&plain).await?;
        summary.plaintext_len += plain.len() as u64;
        if last {
            break;
        }
        std::mem::swap(&mut cur, &mut next);
        index += 1;
    }
    writer.flush().await?;
    Ok(summary)
}
