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
    /// The link (quote it: it contains `#` and `&`).
    url: String,
    /// Where to write the object (`-` or omitted: stdout).
    #[arg(short = 'o', long = "output", default_value = "-")]
    output: PathBuf,
}

/// `coffer open-link`: fetches, verifies and decrypts what a link points to.
pub fn open_link(args: OpenLinkArgs) -> CliResult {
    let link = Link::parse(&args.url).map_err(share_error)?;
    link.check_time(now_ms()).map_err(share_error)?;
    let sealed = block_on(fetch(link.fetch_url().to_string()))?;
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

#[cfg(feature = "stores")]
async fn fetch(url: String) -> CliResult<Vec<u8>> {
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
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| CliError::other(format!("reading the link's response failed: {e}")))?
        .to_bytes();
    if status.as_u16() == 403 {
        return Err(CliError::with_code(
            crate::share_cmd::EXIT_SHARE_INVALID,
            "the server refused the link (403): it expired, or the object is gone",
        ));
    }
    if !status.is_success() {
        return Err(CliError::other(format!("the server answered {status}")));
    }
    Ok(body.to_vec())
}

#[cfg(not(feature = "stores"))]
async fn fetch(_url: String) -> CliResult<Vec<u8>> {
    Err(CliError::usage(
        "this coffer was built without HTTP (feature `stores`); rebuild with default features",
    ))
}
