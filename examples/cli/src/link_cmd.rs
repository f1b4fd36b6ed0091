//! `coffer link` (the owner makes a share link) and `coffer open-link` (anyone opens one).

use std::path::PathBuf;

use coffer::share::{Link, parse_duration_ms};
use coffer::vault::now_ms;

use crate::config::VaultArgs;
use crate::share_cmd::share_error;
use crate::vault_cmd::{block_on, rfc3339, vault_error};
use crate::{CliError, CliResult, files};

/// Arguments of `coffer link`.
#[derive(clap::Args, Debug)]
pub struct LinkArgs {
    /// The object key (its current version is linked).
    key: String,
    /// How long the link works: 30s, 15m, 1h, 7d (S3 enforces it, at most 7 days; an IPFS
    /// gateway does not, coffer's opener does).
    #[arg(long, value_name = "DURATION")]
    expires: String,
    #[command(flatten)]
    vault: VaultArgs,
}

/// `coffer link`: prints a URL that opens the object with no identity, until it expires.
pub fn link(args: LinkArgs) -> CliResult {
    let ms = parse_duration_ms(&args.expires).map_err(share_error)?;
    let resolved = args.vault.resolve()?;
    let url = block_on(async {
        let v = resolved.open().await?;
        v.share_link(args.key.as_bytes(), now_ms() + ms)
            .await
            .map_err(vault_error)
    })?;
    println!("{url}");
    let until = rfc3339(now_ms() + ms.min(7 * 86_400_000));
    let on_ipfs = Link::parse(&url).is_ok_and(|l| l.fetches_car());
    if on_ipfs {
        eprintln!(
            "coffer: anyone with this link can read {} until {until}; it cannot be revoked. \
             The gateway keeps serving the ciphertext while the node holds it: only coffer's \
             opener refuses the link after {until}",
            args.key
        );
    } else {
        eprintln!(
            "coffer: anyone with this link can read {} until {until}; it cannot be revoked before then",
            args.key
        );
    }
    Ok(())
}

/// Arguments of `coffer open-link`.
#[derive(clap::Args, Debug)]
pub struct OpenLinkArgs {
    /// The link, or `-` to read it from stdin; omitted: from the environment variable
    /// COFFER_LINK. Prefer `-` or COFFER_LINK: a link on the command line (it holds the key) is
    /// visible to other users in `ps` and stays in the shell's history.
    #[arg(value_name = "LINK")]
    url: Option<String>,
    /// Where to write the object (`-` or omitted: stdout).
    #[arg(short = 'o', long = "output", default_value = "-")]
    output: PathBuf,
}

/// The longest link read from stdin or COFFER_LINK (a link is a URL and a few hundred bytes of
/// fragment).
const MAX_LINK_TEXT: u64 = 64 << 10;

/// The link text: the argument, stdin (`-`), or COFFER_LINK.
fn link_text(arg: Option<String>) -> CliResult<zeroize::Zeroizing<String>> {
    let text = match arg.as_deref() {
        Some("-") => {
            use std::io::Read;
            let mut buf = String::new();
            std::io::stdin()
                .take(MAX_LINK_TEXT + 1)
                .read_to_string(&mut buf)
                .map_err(|e| CliError::usage(format!("reading the link from stdin: {e}")))?;
            buf
        }
        Some(url) => url.to_string(),
        None => std::env::var("COFFER_LINK").map_err(|_| {
            CliError::usage("give the link as `-` (read from stdin) or in COFFER_LINK")
        })?,
    };
    let text = zeroize::Zeroizing::new(text);
    if text.len() as u64 > MAX_LINK_TEXT {
        return Err(CliError::usage(
            "the link is longer than 64 KiB: not a coffer link",
        ));
    }
    Ok(zeroize::Zeroizing::new(text.trim().to_string()))
}

/// `coffer open-link`: fetches, verifies and decrypts what a link points to.
pub fn open_link(args: OpenLinkArgs) -> CliResult {
    let text = link_text(args.url)?;
    let link = Link::parse(&text).map_err(share_error)?;
    link.check_time(now_ms()).map_err(share_error)?;
    // The answer can only be the sealed object (S3), or a CAR file of its blocks (IPFS): read
    // no more than that.
    let cap = if link.fetches_car() {
        coffer::store::max_car_len(link.sealed_len())
    } else {
        link.sealed_len()
    };
    let sealed = block_on(fetch(link.fetch_url().to_string(), cap))?;
    let plain = link.open_response(&sealed, now_ms()).map_err(share_error)?;
    let mut out = files::Output::create(&args.output)?;
    out.writer()
        .write_all(&plain)
        .map_err(|e| CliError::io(&args.output, e))?;
    out.commit()?;
    eprintln!(
        "coffer: {} ({} bytes), shared and signed by {}",
        crate::escape::text(link.name()),
        link.size(),
        link.owner()
    );
    Ok(())
}

/// The error for an answer over `cap` bytes: the server is broken or hostile (exit 3).
#[cfg_attr(not(feature = "stores"), allow(dead_code))]
fn too_large(cap: u64) -> CliError {
    CliError::integrity(format!(
        "the server answered more than the {cap} bytes the link allows; refused without reading \
         the rest (the server is broken or hostile)"
    ))
}

/// GETs `url`, reading at most `cap` bytes of its answer.
#[cfg(feature = "stores")]
async fn fetch(url: String, cap: u64) -> CliResult<Vec<u8>> {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| CliError::other(format!("no TLS root certificates: {e}")))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Empty<bytes::Bytes>> =
        Client::builder(TokioExecutor::new()).build(connector);
    let uri: http::Uri = url
        .parse()
        .map_err(|e| CliError::usage(format!("the link's URL: {e}")))?;
    let response = client
        .get(uri)
        .await
        .map_err(|e| CliError::other(format!("fetching the link failed: {e}")))?;
    let status = response.status();
    let declared = response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if status.is_success() && declared.is_some_and(|l| l > cap) {
        return Err(too_large(cap));
    }
    // Error answers are read only for their status; keep a little of them.
    let limit = if status.is_success() { cap } else { 64 << 10 };
    let mut body = response.into_body();
    let mut out = Vec::with_capacity(usize::try_from(cap.min(64 << 20)).unwrap_or(0));
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| CliError::other(format!("reading the link's response failed: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if (out.len() + data.len()) as u64 > limit {
            if status.is_success() {
                return Err(too_large(cap));
            }
            break;
        }
        out.extend_from_slice(&data);
    }
    if status.as_u16() == 403 {
        return Err(CliError::with_code(
            crate::share_cmd::EXIT_SHARE_INVALID,
            "the server refused the link (403): it expired, or the object is gone",
        ));
    }
    if !status.is_success() {
        return Err(CliError::other(format!("the server answered {status}")));
    }
    Ok(out)
}

#[cfg(not(feature = "stores"))]
async fn fetch(_url: String, _cap: u64) -> CliResult<Vec<u8>> {
    Err(CliError::usage(
        "this coffer was built without HTTP (feature `stores`); rebuild with default features",
    ))
}
