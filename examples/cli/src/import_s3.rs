//! `coffer import s3://bucket/prefix`: an S3 bucket on any endpoint, with its own credentials, as
//! an import source (see [`crate::import`]).
//!
//! Credentials, first found wins: `--access-key-id ID` with `--secret-access-key-file FILE`;
//! the environment variables `COFFER_IMPORT_AWS_ACCESS_KEY_ID`, `COFFER_IMPORT_AWS_SECRET_ACCESS_KEY`
//! (and `COFFER_IMPORT_AWS_SESSION_TOKEN`); `--profile NAME` from the AWS shared config files;
//! else the standard AWS chain (`AWS_ACCESS_KEY_ID`, `AWS_PROFILE`, …), the one the vault's own S3
//! store uses. A secret is never taken from the command line, and never printed.
//!
//! Each object is fetched with `If-Match` on the ETag it was listed with, and refused (reported,
//! not imported) when it no longer matches, when its size or ETag differs from the listing, or
//! when its bytes do not hash to an MD5 ETag.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use md5::Digest;

use crate::config::StoreUrl;
use crate::import::{Body, Fetched, Item, Refused, S3SourceArgs, WHOLE_OBJECT_MAX, put_options};
use crate::tree;
use crate::{CliError, CliResult};

/// Explicit credentials; `Debug` never shows the secret.
struct Keys {
    id: String,
    secret: zeroize::Zeroizing<String>,
    token: Option<zeroize::Zeroizing<String>>,
}

/// The credentials the options and environment give, if explicit ones are given.
fn explicit_keys(args: &S3SourceArgs) -> CliResult<Option<Keys>> {
    match (&args.access_key_id, &args.secret_access_key_file) {
        (Some(id), Some(file)) => {
            let text = zeroize::Zeroizing::new(
                std::fs::read_to_string(file).map_err(|e| CliError::io(file, e))?,
            );
            let secret = text.trim_end_matches(['\n', '\r']).to_string();
            if secret.is_empty() {
                return Err(CliError::usage(format!(
                    "{}: the secret access key file is empty",
                    file.display()
                )));
            }
            return Ok(Some(Keys {
                id: id.clone(),
                secret: zeroize::Zeroizing::new(secret),
                token: None,
            }));
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(CliError::usage(
                "--access-key-id and --secret-access-key-file go together",
            ));
        }
        (None, None) => {}
    }
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    match (
        var("COFFER_IMPORT_AWS_ACCESS_KEY_ID"),
        var("COFFER_IMPORT_AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(id), Some(secret)) => Ok(Some(Keys {
            id,
            secret: zeroize::Zeroizing::new(secret),
            token: var("COFFER_IMPORT_AWS_SESSION_TOKEN").map(zeroize::Zeroizing::new),
        })),
        (None, None) => Ok(None),
        _ => Err(CliError::usage(
            "COFFER_IMPORT_AWS_ACCESS_KEY_ID and COFFER_IMPORT_AWS_SECRET_ACCESS_KEY go together",
        )),
    }
}

/// An S3 bucket (prefix) to import.
pub struct S3Source {
    client: Client,
    /// The endpoint as messages name it.
    endpoint: String,
    bucket: String,
    /// What listed keys start with (the prefix and `/`, or empty).
    prefix: String,
}

/// An endpoint as compared for overlap: no trailing `/`, lower case; `None` is AWS.
fn same_endpoint(a: Option<&str>, b: Option<&str>) -> bool {
    let norm = |e: Option<&str>| e.map(|e| e.trim_end_matches('/').to_ascii_lowercase());
    norm(a) == norm(b)
}

/// The S3 locations (endpoint, bucket, prefix) a store URL keeps blocks in.
fn s3_stores(url: &StoreUrl) -> Vec<(Option<String>, String, String)> {
    match url {
        StoreUrl::S3 {
            bucket,
            prefix,
            endpoint,
            ..
        } => vec![(endpoint.clone(), bucket.clone(), prefix.clone())],
        StoreUrl::Erasure { backends, .. } => backends.iter().flat_map(s3_stores).collect(),
        _ => Vec::new(),
    }
}

impl S3Source {
    /// Parses `url` (`s3://bucket/prefix`, optionally `?endpoint=…&path_style=true&region=…`),
    /// applies the flags, refuses a source that overlaps the vault's own store (`target`), and
    /// builds the client (no request yet).
    pub async fn new(url: &str, args: &S3SourceArgs, target: &StoreUrl) -> CliResult<Self> {
        let StoreUrl::S3 {
            bucket,
            prefix,
            endpoint,
            region,
            path_style,
        } = StoreUrl::parse(url)?
        else {
            return Err(CliError::usage(format!("{url:?} is not an s3:// URL")));
        };
        let endpoint = args.endpoint.clone().or(endpoint);
        let region = args.region.clone().or(region);
        let path_style = args.path_style || path_style;
        let list_prefix = tree::list_prefix(&prefix);
        for (e, b, p) in s3_stores(target) {
            let p = tree::list_prefix(&p);
            if same_endpoint(e.as_deref(), endpoint.as_deref())
                && b == bucket
                && (p.starts_with(&list_prefix) || list_prefix.starts_with(&p))
            {
                return Err(CliError::usage(format!(
                    "refusing to import s3://{bucket}/{prefix}: it overlaps the vault's own store \
                     (s3://{b}/{p} on the same endpoint), which would import coffer's own ciphertext"
                )));
            }
        }
        let keys = explicit_keys(args)?;
        let plain_http = endpoint
            .as_deref()
            .is_some_and(|e| e.len() >= 7 && e[..7].eq_ignore_ascii_case("http://"));
        let http = if plain_http {
            aws_smithy_http_client::Builder::new().build_http()
        } else {
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https()
        };
        use aws_sdk_s3::config::{
            BehaviorVersion, Credentials, Region, RequestChecksumCalculation,
            ResponseChecksumValidation, retry::RetryConfig,
        };
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
        if let Some(r) = &region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(k) = keys {
            loader = loader.credentials_provider(Credentials::new(
                k.id,
                k.secret.to_string(),
                k.token.map(|t| t.to_string()),
                None,
                "coffer-import",
            ));
        } else if let Some(p) = &args.profile {
            loader = loader.profile_name(p);
        }
        let sdk = loader.load().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(path_style)
            .retry_config(RetryConfig::standard().with_max_attempts(5))
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if sdk.region().is_none() {
            builder = builder.region(Region::new("us-east-1"));
        }
        if let Some(e) = &endpoint {
            builder = builder.endpoint_url(e.clone());
        }
        Ok(Self {
            client: Client::from_conf(builder.build()),
            endpoint: endpoint.unwrap_or_else(|| "AWS S3".into()),
            bucket,
            prefix: list_prefix,
        })
    }

    /// How reports name it.
    pub fn describe(&self) -> String {
        format!("s3://{}/{} at {}", self.bucket, self.prefix, self.endpoint)
    }

    /// A request's failure, naming the endpoint and bucket (never a secret).
    fn error<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
        &self,
        what: &str,
        e: SdkError<E, R>,
    ) -> CliError {
        let code = e.code().unwrap_or("").to_string();
        match code.as_str() {
            "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "AccessDenied"
            | "InvalidToken"
            | "ExpiredToken"
            | "Forbidden" => CliError::other(format!(
                "the S3 endpoint {} refused the credentials for bucket {} ({code}): check the \
                 access key id and secret (--access-key-id with --secret-access-key-file, \
                 COFFER_IMPORT_AWS_*, --profile, or the AWS environment)",
                self.endpoint, self.bucket
            )),
            "NoSuchBucket" => CliError::other(format!(
                "bucket {} does not exist at {}",
                self.bucket, self.endpoint
            )),
            _ if matches!(e, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)) => {
                CliError::other(format!(
                    "cannot reach the S3 endpoint {}: {}",
                    self.endpoint,
                    causes(&e)
                ))
            }
            _ => CliError::other(format!(
                "{what} at {} (bucket {}): {}",
                self.endpoint,
                self.bucket,
                DisplayErrorContext(&e)
            )),
        }
    }

    /// Every object under the prefix, in key order (what S3 listings give).
    pub async fn list(&self) -> CliResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut req = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&self.prefix);
            if let Some(t) = token.take() {
                req = req.continuation_token(t);
            }
            let page = req
                .send()
                .await
                .map_err(|e| self.error("listing the bucket", e))?;
            for o in page.contents() {
                let Some(key) = o.key() else { continue };
                let rel = key.strip_prefix(&self.prefix).unwrap_or(key).to_string();
                items.push(Item {
                    name: key.to_string(),
                    rel,
                    size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                    etag: o.e_tag().map(unquote),
                    mtime_ns: None,
                    path: None,
                });
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(items)
    }

    /// Reads one object (If-Match its listed ETag): into memory when small, else spooled to a
    /// file in `spool`; checks size, ETag and (for an MD5 ETag) the content.
    pub async fn fetch(
        &self,
        item: &Item,
        spool: &Path,
        progress: &indicatif::ProgressBar,
    ) -> Result<Fetched, Refused> {
        let mut req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&item.name);
        if let Some(e) = &item.etag {
            req = req.if_match(format!("\"{e}\""));
        }
        let out = match req.send().await {
            Ok(out) => out,
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                return Err(match (e.code(), status) {
                    (Some("PreconditionFailed"), _) | (_, Some(412)) => Refused::Skipped(
                        "changed since it was listed (its ETag no longer matches): not imported"
                            .into(),
                    ),
                    (Some("NoSuchKey"), _) | (_, Some(404)) => {
                        Refused::Skipped("deleted since it was listed: not imported".into())
                    }
                    _ => Refused::Failed(self.error("reading an object", e)),
                });
            }
        };
        let etag = out.e_tag().map(unquote);
        let len = out.content_length().and_then(|l| u64::try_from(l).ok());
        if etag != item.etag || len != Some(item.size) {
            return Err(Refused::Skipped(format!(
                "changed since it was listed (listed {} bytes, ETag {}; now {} bytes, ETag {}): not imported",
                item.size,
                item.etag.as_deref().unwrap_or("-"),
                len.map_or("?".to_string(), |l| l.to_string()),
                etag.as_deref().unwrap_or("-"),
            )));
        }
        // An MD5 ETag (a single-part upload without SSE-KMS or SSE-C) is checked against the
        // bytes: a change or damage in flight is refused.
        let md5_etag = etag
            .as_deref()
            .filter(|e| e.len() == 32 && e.bytes().all(|b| b.is_ascii_hexdigit()))
            .filter(|_| {
                out.sse_customer_algorithm().is_none()
                    && !matches!(
                        out.server_side_encryption(),
                        Some(
                            aws_sdk_s3::types::ServerSideEncryption::AwsKms
                                | aws_sdk_s3::types::ServerSideEncryption::AwsKmsDsse
                        )
                    )
            })
            .map(str::to_ascii_lowercase);
        let mut metadata: BTreeMap<String, String> = out
            .metadata()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        for (name, value) in [
            ("s3:cache-control", out.cache_control()),
            ("s3:content-disposition", out.content_disposition()),
            ("s3:content-encoding", out.content_encoding()),
            ("s3:content-language", out.content_language()),
            ("s3:expires", out.expires_string()),
            (
                "s3:website-redirect-location",
                out.website_redirect_location(),
            ),
        ] {
            if let Some(v) = value {
                metadata.insert(name.into(), v.to_string());
            }
        }
        let mtime = out.last_modified().and_then(|t| {
            let secs = u128::try_from(t.secs()).ok()?;
            Some(secs * 1_000_000_000 + u128::from(t.subsec_nanos()))
        });
        let content_type = out.content_type().map(str::to_string);
        let read_error = |e: &dyn std::fmt::Display| {
            Refused::Failed(CliError::other(format!(
                "reading {} from {}: {e}",
                item.name, self.endpoint
            )))
        };
        let mut body = out.body;
        let mut hasher = blake3::Hasher::new();
        let mut md5 = md5::Md5::new();
        let mut n = 0u64;
        let spooled = item.size > WHOLE_OBJECT_MAX;
        let mut memory = Vec::new();
        let mut file = if spooled {
            Some(tempfile::NamedTempFile::new_in(spool).map_err(|e| CliError::io(spool, e))?)
        } else {
            memory.reserve(item.size as usize);
            None
        };
        while let Some(chunk) = body.try_next().await.map_err(|e| read_error(&e))? {
            n += chunk.len() as u64;
            if n > item.size {
                break;
            }
            hasher.update(&chunk);
            if md5_etag.is_some() {
                md5.update(&chunk);
            }
            match &mut file {
                Some(f) => f.write_all(&chunk).map_err(|e| CliError::io(f.path(), e))?,
                None => memory.extend_from_slice(&chunk),
            }
            progress.inc(chunk.len() as u64);
        }
        if n != item.size {
            return Err(Refused::Skipped(format!(
                "changed while it was read ({n} bytes instead of {}): not imported",
                item.size
            )));
        }
        if let Some(want) = &md5_etag {
            let got: String = md5.finalize().iter().map(|b| format!("{b:02x}")).collect();
            if &got != want {
                return Err(Refused::Skipped(
                    "its bytes do not match its ETag (changed while it was read, or damaged in \
                     transit): not imported"
                        .into(),
                ));
            }
        }
        let hash = hasher.finalize();
        let body = match file {
            Some(f) => {
                let path = f.into_temp_path();
                Body::File {
                    path: path.to_path_buf(),
                    _spool: Some(path),
                }
            }
            None => Body::Memory(memory),
        };
        Ok(Fetched {
            body,
            blake3: hash,
            opts: put_options(content_type, metadata, mtime, &hash, etag),
        })
    }

    /// Deletes a source object.
    pub async fn delete(&self, item: &Item) -> CliResult {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(&item.name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.error("deleting a source object", e))
    }
}

/// An error and its causes, `a: b: c` (without the SDK's debug dump).
fn causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(c) = next {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        next = c.source();
    }
    out
}

/// An ETag without its quotes.
fn unquote(e: &str) -> String {
    e.trim_matches('"').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_compare_loosely() {
        assert!(same_endpoint(
            Some("http://127.0.0.1:9000/"),
            Some("HTTP://127.0.0.1:9000")
        ));
        assert!(same_endpoint(None, None));
        assert!(!same_endpoint(Some("http://127.0.0.1:9000"), None));
    }
}
