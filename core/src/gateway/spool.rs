//! Request bodies spooled to local files: a vault put reads its source three times (to learn the
//! sealed object's CID before uploading it), so a body is written to a file under the gateway's
//! state directory first, with its MD5 (the S3 ETag) and any checksums the client asked for
//! computed on the way. A body that is too large, stalls, or breaks off leaves nothing behind:
//! the file is removed when the spool is dropped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use md5::Digest;
use s3s::checksum::ChecksumHasher;
use s3s::dto::{Checksum, StreamingBlob};
use s3s::{S3Error, S3ErrorCode, S3Result};
use tempfile::TempPath;
use tokio::io::AsyncWriteExt;

use super::error::{internal, s3, spool_io};

/// A request body on disk.
pub(crate) struct Spooled {
    /// The file (removed on drop).
    pub path: TempPath,
    /// Its length.
    pub len: u64,
    /// MD5 of the body.
    pub md5: [u8; 16],
    /// The checksums computed (those the client sent or announced).
    pub checksum: Checksum,
}

impl Spooled {
    /// The body's path, for a [`crate::vault::PutSource`].
    pub(crate) fn path_buf(&self) -> PathBuf {
        self.path.to_path_buf()
    }

    /// The S3 ETag of a single-part body: its MD5 in hex.
    pub(crate) fn etag(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.md5)
    }
}

/// What the client said about the body, checked against what arrived.
#[derive(Default)]
pub(crate) struct Expect<'a> {
    /// `Content-Length` (of the decoded body).
    pub len: Option<u64>,
    /// `Content-MD5` (base64).
    pub content_md5: Option<&'a str>,
    /// `x-amz-checksum-*` values sent as headers, and the algorithm announced for a trailer.
    pub checksum: Checksum,
    /// `x-amz-sdk-checksum-algorithm` / `x-amz-checksum-algorithm`, when a checksum comes later
    /// (in a trailer).
    pub algorithm: Option<&'a str>,
}

/// Bounds on a body.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BodyLimits {
    /// Largest body accepted.
    pub max_len: u64,
    /// Longest wait for the next piece of the body.
    pub idle: Duration,
}

fn too_large(max: u64) -> S3Error {
    s3(
        S3ErrorCode::EntityTooLarge,
        format!("Your proposed upload exceeds the maximum allowed size of {max} bytes"),
    )
}

/// Writes `body` to a new file in `dir`, checking it against `expect` and `limits`.
pub(crate) async fn spool(
    body: Option<StreamingBlob>,
    dir: &Path,
    limits: BodyLimits,
    expect: &Expect<'_>,
) -> S3Result<Spooled> {
    if let Some(len) = expect.len
        && len > limits.max_len
    {
        return Err(too_large(limits.max_len));
    }
    let want_md5 = match expect.content_md5 {
        Some(b64) => Some(
            data_encoding::BASE64
                .decode(b64.trim().as_bytes())
                .ok()
                .filter(|d| d.len() == 16)
                .ok_or_else(|| {
                    s3(
                        S3ErrorCode::InvalidDigest,
                        "The Content-MD5 you specified is not valid.",
                    )
                })?,
        ),
        None => None,
    };
    let mut hasher = checksum_hasher(&expect.checksum, expect.algorithm)?;
    let (file, path) = tempfile::NamedTempFile::new_in(dir)
        .map_err(spool_io)?
        .into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut md5 = md5::Md5::new();
    let mut len = 0u64;
    if let Some(mut body) = body {
        loop {
            let next = tokio::time::timeout(limits.idle, body.next())
                .await
                .map_err(|_| {
                    s3(
                        S3ErrorCode::RequestTimeout,
                        "Your socket connection to the server was not read from or written to \
                         within the timeout period.",
                    )
                })?;
            let chunk = match next {
                None => break,
                Some(Ok(chunk)) => chunk,
                Some(Err(e)) => return Err(body_error(e)),
            };
            len += chunk.len() as u64;
            if len > limits.max_len {
                return Err(too_large(limits.max_len));
            }
            md5.update(&chunk);
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(spool_io)?;
        }
    }
    file.flush().await.map_err(spool_io)?;
    drop(file);
    if let Some(want) = expect.len
        && want != len
    {
        return Err(s3(
            S3ErrorCode::IncompleteBody,
            "You did not provide the number of bytes specified by the Content-Length HTTP header.",
        ));
    }
    let md5: [u8; 16] = md5.finalize().into();
    if let Some(want) = want_md5
        && want != md5
    {
        return Err(s3(
            S3ErrorCode::BadDigest,
            "The Content-MD5 you specified did not match what we received.",
        ));
    }
    let checksum = hasher.finalize();
    check_checksums(&expect.checksum, &checksum)?;
    Ok(Spooled {
        path,
        len,
        md5,
        checksum,
    })
}

/// How a body stream failure is reported: s3s gives its own S3 errors (a bad aws-chunked
/// signature, a wrong `x-amz-content-sha256`) through the stream; anything else is a body that
/// broke off.
fn body_error(e: s3s::StdError) -> S3Error {
    match e.downcast::<S3Error>() {
        Ok(s3e) => *s3e,
        Err(other) => s3(
            S3ErrorCode::IncompleteBody,
            format!("the request body broke off: {other}"),
        ),
    }
}

/// A hasher for each checksum the client sent or announced.
fn checksum_hasher(sent: &Checksum, algorithm: Option<&str>) -> S3Result<ChecksumHasher> {
    let mut h = ChecksumHasher::default();
    if sent.checksum_crc32.is_some() {
        h.crc32 = Some(Default::default());
    }
    if sent.checksum_crc32c.is_some() {
        h.crc32c = Some(Default::default());
    }
    if sent.checksum_sha1.is_some() {
        h.sha1 = Some(Default::default());
    }
    if sent.checksum_sha256.is_some() {
        h.sha256 = Some(Default::default());
    }
    if sent.checksum_crc64nvme.is_some() {
        h.crc64nvme = Some(Default::default());
    }
    match algorithm.map(str::to_ascii_uppercase).as_deref() {
        None => {}
        Some("CRC32") => h.crc32 = Some(Default::default()),
        Some("CRC32C") => h.crc32c = Some(Default::default()),
        Some("SHA1") => h.sha1 = Some(Default::default()),
        Some("SHA256") => h.sha256 = Some(Default::default()),
        Some("CRC64NVME") => h.crc64nvme = Some(Default::default()),
        Some(_) => {
            return Err(s3(
                S3ErrorCode::InvalidRequest,
                "Value for x-amz-sdk-checksum-algorithm header is invalid.",
            ));
        }
    }
    Ok(h)
}

/// Checks each checksum the client sent against the computed one.
pub(crate) fn check_checksums(sent: &Checksum, got: &Checksum) -> S3Result<()> {
    let pairs = [
        (&sent.checksum_crc32, &got.checksum_crc32, "CRC32"),
        (&sent.checksum_crc32c, &got.checksum_crc32c, "CRC32C"),
        (&sent.checksum_sha1, &got.checksum_sha1, "SHA1"),
        (&sent.checksum_sha256, &got.checksum_sha256, "SHA256"),
        (
            &sent.checksum_crc64nvme,
            &got.checksum_crc64nvme,
            "CRC64NVME",
        ),
    ];
    for (want, have, name) in pairs {
        if let Some(want) = want
            && have.as_deref() != Some(want.as_str())
        {
            return Err(s3(
                S3ErrorCode::BadDigest,
                format!("The {name} you specified did not match the calculated checksum."),
            ));
        }
    }
    Ok(())
}

/// The checksums a client sent in the trailer of an aws-chunked body.
pub(crate) fn trailer_checksums(trailers: Option<&s3s::TrailingHeaders>) -> Checksum {
    let mut c = Checksum::default();
    let Some(map) = trailers.and_then(|t| t.read(Clone::clone)) else {
        return c;
    };
    let get = |name: &str| {
        map.get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    c.checksum_crc32 = get("x-amz-checksum-crc32");
    c.checksum_crc32c = get("x-amz-checksum-crc32c");
    c.checksum_sha1 = get("x-amz-checksum-sha1");
    c.checksum_sha256 = get("x-amz-checksum-sha256");
    c.checksum_crc64nvme = get("x-amz-checksum-crc64nvme");
    c
}

/// A file under the spool that must not outlive an error (removed on drop unless kept).
pub(crate) fn temp_in(dir: &Path) -> S3Result<(std::fs::File, TempPath)> {
    tempfile::NamedTempFile::new_in(dir)
        .map(tempfile::NamedTempFile::into_parts)
        .map_err(|e| internal(format!("the gateway's local spool failed: {e}")))
}
