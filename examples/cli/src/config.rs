//! Where the CLI keeps its state, store URLs, and opening the configured vault.
//!
//! Everything lives under the coffer home: `$COFFER_HOME`, else `$XDG_DATA_HOME/coffer`, else
//! `~/.local/share/coffer`. It holds `config.json` (written by `coffer init`), the default
//! identity (`identity`, mode 0600) and the default store (`store/`, a local directory).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use coffer::Identity;
use coffer::store::{BlockStore, DirStore, HeadStore};
use coffer::vault::Vault;
use serde_json::json;

use crate::{CliError, CliResult};

/// Any store a vault can live in.
pub trait AnyStore: BlockStore + HeadStore {}
impl<T: BlockStore + HeadStore + ?Sized> AnyStore for T {}

/// A vault over whichever store the URL named.
pub type CliVault = Vault<dyn AnyStore>;

/// The coffer home directory.
pub fn home() -> CliResult<PathBuf> {
    if let Some(h) = std::env::var_os("COFFER_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(d).join("coffer"));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(h) => Ok(PathBuf::from(h).join(".local/share/coffer")),
        None => Err(CliError::usage(
            "cannot find a home for coffer's state: set COFFER_HOME (or HOME)",
        )),
    }
}

/// What `coffer init` wrote.
#[derive(Debug, Clone)]
pub struct Config {
    /// The store URL.
    pub store: String,
    /// The vault name.
    pub vault: String,
    /// This device's name.
    pub device: String,
    /// The identity file.
    pub identity: PathBuf,
}

impl Config {
    fn path(home: &Path) -> PathBuf {
        home.join("config.json")
    }

    /// Reads the configuration; `None` when `coffer init` has not run.
    pub fn load(home: &Path) -> CliResult<Option<Self>> {
        let path = Self::path(home);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(CliError::io(&path, e)),
        };
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            CliError::usage(format!(
                "{}: not valid JSON ({e}); fix it or run `coffer init` again",
                path.display()
            ))
        })?;
        let field = |name: &str| {
            v.get(name)
                .and_then(|x| x.as_str())
                .map(str::to_string)
                .ok_or_else(|| {
                    CliError::usage(format!(
                        "{}: missing \"{name}\"; run `coffer init` again",
                        path.display()
                    ))
                })
        };
        Ok(Some(Self {
            store: field("store")?,
            vault: field("vault")?,
            device: field("device")?,
            identity: PathBuf::from(field("identity")?),
        }))
    }

    /// Writes the configuration atomically.
    pub fn save(&self, home: &Path) -> CliResult {
        let path = Self::path(home);
        let text = serde_json::to_string_pretty(&json!({
            "store": self.store,
            "vault": self.vault,
            "device": self.device,
            "identity": self.identity,
        }))
        .map_err(|e| CliError::other(e.to_string()))?;
        let mut out = crate::files::Output::create(&path)?;
        out.writer()
            .write_all(format!("{text}\n").as_bytes())
            .map_err(|e| CliError::io(&path, e))?;
        out.commit()
    }
}

/// This machine's name, the default device name.
pub fn default_device() -> String {
    let from_env = std::env::var("HOSTNAME").ok();
    let from_file = std::fs::read_to_string("/etc/hostname").ok();
    from_env
        .or(from_file)
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && coffer::store::validate_name(h).is_ok())
        .unwrap_or_else(|| "this-device".to_string())
}

/// A parsed store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `file:///path`: a local directory.
    File(PathBuf),
    /// `s3://bucket/prefix?endpoint=…&path_style=true&region=…`.
    S3 {
        /// Bucket.
        bucket: String,
        /// Key prefix (may be empty).
        prefix: String,
        /// Endpoint URL, for S3-compatible stores.
        endpoint: Option<String>,
        /// Region.
        region: Option<String>,
        /// Path-style addressing.
        path_style: bool,
    },
    /// `ipfs://host:port?gateway=URL&link_gateway=URL`: a Kubo node's RPC API.
    Ipfs {
        /// `http://host:port`.
        api: String,
        /// A trustless gateway to read verified blocks from.
        gateway: Option<String>,
        /// More gateways (`gateway=URL,URL…` or `gateway` repeated), tried in order of health.
        more_gateways: Vec<String>,
        /// The gateway written into share links (defaults to `gateway`).
        link_gateway: Option<String>,
    },
    /// `ipfs-cluster://host:port[,host:port…]?kubo=URL,URL…&rmin=N&rmax=M&ns=NAME`: IPFS Cluster
    /// REST APIs and the peers' Kubo RPC APIs.
    Cluster {
        /// `http://host:port` of each REST API.
        apis: Vec<String>,
        /// Kubo RPC API URLs.
        nodes: Vec<String>,
        /// Peers that must pin a block before a put is acknowledged.
        rmin: u32,
        /// Peers the cluster allocates each pin to.
        rmax: u32,
        /// Separates coffer stores sharing the cluster (pin names, MFS directory).
        namespace: String,
    },
    /// `federation:`: blocks placed by a policy on the backends of `backends.json` (`coffer
    /// backend add`); heads on every active backend.
    Federation,
    /// `ec:K+M:URL,URL,…`: blocks erasure-coded Reed–Solomon K+M over the listed stores (at least
    /// K+M; file, S3 or IPFS-free URLs, comma-separated, commas inside a URL percent-encoded);
    /// heads in the first store.
    Erasure {
        /// Data shards per stripe.
        k: usize,
        /// Parity shards per stripe.
        m: usize,
        /// The backends, in placement order (keep the order: it decides where shards live).
        backends: Vec<StoreUrl>,
    },
}

const URL_HELP: &str = "store URLs are file:///path, s3://bucket/prefix?endpoint=http://host:port&path_style=true&region=R, ipfs://host:port?gateway=http://host:port&link_gateway=https://gateway.example, ipfs-cluster://host:port?kubo=http://host:port,http://host:port&rmin=2&rmax=3, ec:K+M:URL,URL,… (erasure-coded over file:// and s3:// stores, heads in the first), or federation: (the backends of `coffer backend add`, placed by the vault's policy)";

impl StoreUrl {
    /// Parses a store URL.
    pub fn parse(url: &str) -> CliResult<Self> {
        let bad = |why: &str| CliError::usage(format!("bad store URL {url:?}: {why}; {URL_HELP}"));
        if url == "federation:" {
            return Ok(Self::Federation);
        }
        if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(bad("a file URL needs an absolute path (file:///…)"));
            }
            return Ok(Self::File(PathBuf::from(
                percent_decode(path).map_err(|e| bad(&e))?,
            )));
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
            let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket"));
            }
            let mut endpoint = None;
            let mut region = None;
            let mut path_style = false;
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let v = percent_decode(v).map_err(|e| bad(&e))?;
                match k {
                    "endpoint" => endpoint = Some(v),
                    "region" => region = Some(v),
                    "path_style" => {
                        path_style = match v.as_str() {
                            "true" | "1" | "" => true,
                            "false" | "0" => false,
                            _ => return Err(bad("path_style is true or false")),
                        }
                    }
                    other => return Err(bad(&format!("unknown parameter {other:?}"))),
                }
            }
            return Ok(Self::S3 {
                bucket: bucket.to_string(),
                prefix: percent_decode(prefix.trim_end_matches('/')).map_err(|e| bad(&e))?,
                endpoint,
                region,
                path_style,
            });
        }
        if let Some(rest) = url.strip_prefix("ipfs-cluster://") {
            let (hosts, query) = rest.split_once('?').unwrap_or((rest, ""));
            let hosts = hosts.trim_end_matches('/');
            let apis: Vec<String> = hosts.split(',').map(|h| format!("http://{h}")).collect();
            if hosts.is_empty() || hosts.split(',').any(|h| h.is_empty() || h.contains('/')) {
                return Err(bad(
                    "an IPFS Cluster URL is ipfs-cluster://host:port[,host:port…] (the REST APIs)",
                ));
            }
            let (mut nodes, mut rmin, mut rmax) = (Vec::new(), 2u32, None);
            let mut namespace = "default".to_string();
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let v = percent_decode(v).map_err(|e| bad(&e))?;
                let number = |v: &str| {
                    v.parse::<u32>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| bad(&format!("{k} is a number of peers (1 or more)")))
                };
                match k {
                    "kubo" => {
                        for n in v.split(',') {
                            if !(n.starts_with("http://") || n.starts_with("https://")) {
                                return Err(bad("kubo is a list of http:// or https:// URLs"));
                            }
                            nodes.push(n.to_string());
                        }
                    }
                    "rmin" => rmin = number(&v)?,
                    "rmax" => rmax = Some(number(&v)?),
                    "ns" => {
                        coffer::store::validate_name(&v).map_err(|e| bad(&e.to_string()))?;
                        namespace = v;
                    }
                    other => return Err(bad(&format!("unknown parameter {other:?}"))),
                }
            }
            if nodes.is_empty() {
                return Err(bad("kubo=URL,URL… names the peers' Kubo RPC APIs"));
            }
            let rmax = rmax.unwrap_or(rmin.max(3));
            if rmax < rmin {
                return Err(bad("rmax must be at least rmin"));
            }
            return Ok(Self::Cluster {
                apis,
                nodes,
                rmin,
                rmax,
                namespace,
            });
        }
        if let Some(rest) = url.strip_prefix("ipfs://") {
            let (host, query) = rest.split_once('?').unwrap_or((rest, ""));
            let host = host.trim_end_matches('/');
            if host.is_empty() || host.contains('/') {
                return Err(bad("an IPFS URL is ipfs://host:port (the Kubo RPC API)"));
            }
            let mut gateway = None;
            let mut more_gateways = Vec::new();
            let mut link_gateway = None;
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let v = percent_decode(v).map_err(|e| bad(&e))?;
                if !v
                    .split(',')
                    .all(|v| v.starts_with("http://") || v.starts_with("https://"))
                {
                    return Err(bad(&format!("{k} must be an http:// or https:// URL")));
                }
                match k {
                    "gateway" => {
                        for g in v.split(',') {
                            if gateway.is_none() {
                                gateway = Some(g.to_string());
                            } else {
                                more_gateways.push(g.to_string());
                            }
                        }
                    }
                    "link_gateway" => link_gateway = Some(v),
                    other => return Err(bad(&format!("unknown parameter {other:?}"))),
                }
            }
            return Ok(Self::Ipfs {
                api: format!("http://{host}"),
                gateway,
                more_gateways,
                link_gateway,
            });
        }
        if let Some(rest) = url.strip_prefix("ec:") {
            let (code, list) = rest
                .split_once(':')
                .ok_or_else(|| bad("an erasure URL is ec:K+M:URL,URL,…"))?;
            let (k, m) = code
                .split_once('+')
                .and_then(|(k, m)| Some((k.parse::<usize>().ok()?, m.parse::<usize>().ok()?)))
                .ok_or_else(|| bad("the code is K+M, e.g. 4+2"))?;
            let backends = list
                .split(',')
                .filter(|u| !u.is_empty())
                .map(Self::parse)
                .collect::<CliResult<Vec<_>>>()?;
            if backends
                .iter()
                .any(|b| !matches!(b, Self::File(_) | Self::S3 { .. }))
            {
                return Err(bad(
                    "erasure backends are file:// or s3:// stores (IPFS names blocks by content, \
                     shards are named by their block)",
                ));
            }
            for (i, b) in backends.iter().enumerate() {
                if backends[..i].contains(b) {
                    return Err(bad(&format!("backend {i} is listed twice")));
                }
            }
            if k == 0 || m == 0 || backends.len() < k + m {
                return Err(bad(&format!(
                    "rs {k}+{m} needs k, m ≥ 1 and at least {} backends, {} given",
                    k + m,
                    backends.len()
                )));
            }
            return Ok(Self::Erasure { k, m, backends });
        }
        Err(bad("unknown scheme"))
    }

    /// The erasure-coded block store of an `ec:` URL (and the heads store, its first backend).
    pub async fn connect_erasure(
        &self,
    ) -> CliResult<(coffer::store::erasure::ErasureStore, Arc<dyn AnyStore>)> {
        let Self::Erasure { k, m, backends } = self else {
            return Err(CliError::usage(
                "this needs an erasure-coded store: --store ec:K+M:URL,URL,… (see coffer init --help)",
            ));
        };
        let mut stores: Vec<Arc<dyn AnyStore>> = Vec::new();
        for b in backends {
            stores.push(Box::pin(b.connect()).await?);
        }
        let config = coffer::store::erasure::ErasureConfig::new(*k, *m);
        let blocks = coffer::store::erasure::ErasureStore::new(
            stores
                .iter()
                .map(|s| s.clone() as Arc<dyn BlockStore>)
                .collect(),
            config,
        )
        .map_err(|e| CliError::usage(format!("bad erasure store: {e}")))?;
        Ok((blocks, stores[0].clone()))
    }

    /// The URL of a local directory.
    pub fn for_dir(path: &Path) -> String {
        format!("file://{}", path.display())
    }

    /// Connects to the store.
    pub async fn connect(&self) -> CliResult<Arc<dyn AnyStore>> {
        match self {
            Self::File(path) => {
                let store = DirStore::open(path).map_err(|e| {
                    CliError::other(format!("cannot open the store at {}: {e}", path.display()))
                })?;
                Ok(Arc::new(store))
            }
            #[cfg(feature = "stores")]
            Self::S3 {
                bucket,
                prefix,
                endpoint,
                region,
                path_style,
            } => {
                use coffer::store::s3::{S3Config, S3Store};
                let mut c = S3Config::new(bucket.clone());
                c.prefix = prefix.clone();
                c.endpoint = endpoint.clone();
                c.region = region.clone();
                c.path_style = *path_style;
                // 8 MiB parts, 3 in flight: a large upload stays within ~32 MiB.
                c.part_size = 8 << 20;
                c.concurrency = 3;
                let store = S3Store::connect(c)
                    .await
                    .map_err(|e| CliError::other(format!("cannot reach the S3 store: {e}")))?;
                Ok(Arc::new(store))
            }
            #[cfg(feature = "stores")]
            Self::Ipfs {
                api,
                gateway,
                more_gateways,
                link_gateway,
            } => {
                use coffer::store::ipfs::{IpfsConfig, IpfsStore};
                let mut c = IpfsConfig::new(api.clone());
                c.gateway = gateway.clone();
                c.gateways = more_gateways.clone();
                c.link_gateway = link_gateway.clone();
                let store = IpfsStore::connect(c)
                    .await
                    .map_err(|e| CliError::other(format!("cannot reach the IPFS node: {e}")))?;
                Ok(Arc::new(store))
            }
            #[cfg(feature = "stores")]
            Self::Cluster { .. } => Ok(Arc::new(self.connect_cluster().await?)),
            Self::Federation => Ok(crate::backend_cmd::connect_federation().await?),
            Self::Erasure { .. } => {
                let (blocks, heads) = self.connect_erasure().await?;
                Ok(Arc::new(coffer::store::SplitStore::new(
                    Arc::new(blocks),
                    heads as Arc<dyn HeadStore>,
                )))
            }
            #[cfg(not(feature = "stores"))]
            _ => Err(CliError::usage(
                "this coffer was built without S3 and IPFS support; rebuild with --features stores",
            )),
        }
    }
}

impl StoreUrl {
    /// Connects to an IPFS Cluster store URL.
    #[cfg(feature = "stores")]
    pub async fn connect_cluster(&self) -> CliResult<coffer::store::ipfs::ClusterStore> {
        use coffer::store::ipfs::{ClusterConfig, ClusterStore};
        let Self::Cluster {
            apis,
            nodes,
            rmin,
            rmax,
            namespace,
        } = self
        else {
            return Err(CliError::usage("not an ipfs-cluster:// store URL"));
        };
        let mut c = ClusterConfig::new(apis.clone(), nodes.clone());
        c.replication_min = *rmin;
        c.replication_max = *rmax;
        c.namespace = namespace.clone();
        ClusterStore::connect(c)
            .await
            .map_err(|e| CliError::other(format!("cannot reach the IPFS Cluster: {e}")))
    }
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent escape at byte {i}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent escapes that are not UTF-8".to_string())
}

/// Which vault a command works on: flags override the configuration `coffer init` wrote.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct VaultArgs {
    /// Store URL (default: the one `coffer init` configured). See `coffer init --help`.
    #[arg(long, value_name = "URL", env = "COFFER_STORE", global = true)]
    pub store: Option<String>,
    /// Vault name (default: the configured one, else "default").
    #[arg(long, value_name = "NAME", global = true)]
    pub vault: Option<String>,
    /// This device's name (default: the configured one, else the host name).
    #[arg(long, value_name = "NAME", global = true)]
    pub device: Option<String>,
    /// Identity file (default: $COFFER_IDENTITY, else the configured one).
    #[arg(
        short = 'i',
        long = "identity",
        env = "COFFER_IDENTITY",
        value_name = "FILE",
        global = true
    )]
    pub identity: Option<PathBuf>,
}

/// What a command resolved to open.
pub struct Resolved {
    /// Store URL.
    pub store: String,
    /// Vault name.
    pub vault: String,
    /// Device name.
    pub device: String,
    /// Identity file.
    pub identity: PathBuf,
}

impl VaultArgs {
    /// Resolves flags against the configuration.
    pub fn resolve(&self) -> CliResult<Resolved> {
        let home = home()?;
        let config = Config::load(&home)?;
        let store = self
            .store
            .clone()
            .or_else(|| config.as_ref().map(|c| c.store.clone()))
            .ok_or_else(|| {
                CliError::usage(
                    "no vault configured: run `coffer init` first (or pass --store URL)",
                )
            })?;
        let identity = self
            .identity
            .clone()
            .or_else(|| config.as_ref().map(|c| c.identity.clone()))
            .unwrap_or_else(|| home.join("identity"));
        Ok(Resolved {
            store,
            vault: self
                .vault
                .clone()
                .or_else(|| config.as_ref().map(|c| c.vault.clone()))
                .unwrap_or_else(|| "default".into()),
            device: self
                .device
                .clone()
                .or_else(|| config.as_ref().map(|c| c.device.clone()))
                .unwrap_or_else(default_device),
            identity,
        })
    }
}

/// Where this machine remembers what it saw of the vaults of `store` for `identity` (so a store
/// that rolls a vault back is refused): `$COFFER_HOME/trust/<hash of store URL and recipient>/`,
/// private to the user.
pub fn trust_for(
    store: &str,
    identity: &Identity,
) -> CliResult<std::sync::Arc<dyn coffer::trust::TrustStore>> {
    let mut h = blake3::Hasher::new();
    h.update(store.as_bytes());
    h.update(&[0]);
    h.update(identity.recipient().to_string().as_bytes());
    let dir = home()?.join("trust").join(&h.finalize().to_hex()[..32]);
    let t = coffer::trust::FileTrust::open(&dir)
        .map_err(|e| CliError::other(format!("cannot keep the trust state: {e}")))?;
    Ok(std::sync::Arc::new(t))
}

impl Resolved {
    /// Opens the vault (it must exist). On `federation:` new writes follow the vault's
    /// placement policy (or the registry's default when it has none).
    pub async fn open(&self) -> CliResult<CliVault> {
        let url = StoreUrl::parse(&self.store)?;
        if url == StoreUrl::Federation {
            let store = crate::backend_cmd::connect_federation().await?;
            let vault = self.open_on(store.clone()).await?;
            crate::backend_cmd::apply_vault_policy(&store, &vault).await?;
            return Ok(vault);
        }
        self.open_on(url.connect().await?).await
    }

    /// Opens the vault over `store`.
    pub async fn open_on(&self, store: Arc<dyn AnyStore>) -> CliResult<CliVault> {
        let identity = self.load_identity()?;
        let trust = trust_for(&self.store, &identity)?;
        Vault::open_with_options(
            store,
            identity,
            &self.vault,
            &self.device,
            None,
            coffer::vault::VaultOptions {
                trust: Some(trust),
                ..Default::default()
            },
        )
        .await
        .map_err(crate::vault_cmd::vault_error)
    }

    /// Loads the identity file.
    pub fn load_identity(&self) -> CliResult<Identity> {
        if !self.identity.exists() {
            return Err(CliError::usage(format!(
                "no identity at {}: run `coffer init` (it creates one) or pass -i FILE",
                self.identity.display()
            )));
        }
        crate::keys::read_identity(&self.identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_parse() {
        assert_eq!(
            StoreUrl::parse("file:///tmp/x%20y").ok(),
            Some(StoreUrl::File(PathBuf::from("/tmp/x y")))
        );
        assert_eq!(
            StoreUrl::parse(
                "s3://b/some/prefix/?endpoint=http%3A%2F%2F127.0.0.1%3A9000&path_style=true"
            )
            .ok(),
            Some(StoreUrl::S3 {
                bucket: "b".into(),
                prefix: "some/prefix".into(),
                endpoint: Some("http://127.0.0.1:9000".into()),
                region: None,
                path_style: true,
            })
        );
        assert_eq!(
            StoreUrl::parse("s3://b?endpoint=http://127.0.0.1:9000&path_style=true").ok(),
            Some(StoreUrl::S3 {
                bucket: "b".into(),
                prefix: String::new(),
                endpoint: Some("http://127.0.0.1:9000".into()),
                region: None,
                path_style: true,
            })
        );
        assert_eq!(
            StoreUrl::parse("ec:2+1:file:///a,s3://b/p?endpoint=http://127.0.0.1:9000,file:///c")
                .ok(),
            Some(StoreUrl::Erasure {
                k: 2,
                m: 1,
                backends: vec![
                    StoreUrl::File("/a".into()),
                    StoreUrl::S3 {
                        bucket: "b".into(),
                        prefix: "p".into(),
                        endpoint: Some("http://127.0.0.1:9000".into()),
                        region: None,
                        path_style: false,
                    },
                    StoreUrl::File("/c".into()),
                ],
            })
        );
        assert_eq!(
            StoreUrl::parse("federation:").ok(),
            Some(StoreUrl::Federation)
        );
        assert_eq!(
            StoreUrl::parse("ipfs://127.0.0.1:5001").ok(),
            Some(StoreUrl::Ipfs {
                api: "http://127.0.0.1:5001".into(),
                gateway: None,
                more_gateways: vec![],
                link_gateway: None,
            })
        );
        assert_eq!(
            StoreUrl::parse(
                "ipfs://127.0.0.1:5001?gateway=http://127.0.0.1:8080&link_gateway=https%3A%2F%2Fgw.example"
            )
            .ok(),
            Some(StoreUrl::Ipfs {
                api: "http://127.0.0.1:5001".into(),
                gateway: Some("http://127.0.0.1:8080".into()),
                more_gateways: vec![],
                link_gateway: Some("https://gw.example".into()),
            })
        );
        assert_eq!(
            StoreUrl::parse("ipfs://h:1?gateway=http://a:1,http://b:2&gateway=http://c:3").ok(),
            Some(StoreUrl::Ipfs {
                api: "http://h:1".into(),
                gateway: Some("http://a:1".into()),
                more_gateways: vec!["http://b:2".into(), "http://c:3".into()],
                link_gateway: None,
            })
        );
        assert_eq!(
            StoreUrl::parse(
                "ipfs-cluster://127.0.0.1:9094,127.0.0.1:9194?kubo=http://127.0.0.1:5001,http://127.0.0.1:5002&rmin=2&rmax=3&ns=photos"
            )
            .ok(),
            Some(StoreUrl::Cluster {
                apis: vec!["http://127.0.0.1:9094".into(), "http://127.0.0.1:9194".into()],
                nodes: vec!["http://127.0.0.1:5001".into(), "http://127.0.0.1:5002".into()],
                rmin: 2,
                rmax: 3,
                namespace: "photos".into(),
            })
        );
        for bad in [
            "file://relative",
            "ec:4+2:file:///a,file:///b",
            "ec:4:file:///a",
            "ec:1+1:file:///a,file:///a",
            "ec:1+1:file:///a,ipfs://127.0.0.1:5001",
            "s3://",
            "s3://b?x=1",
            "s3://b?path_style=maybe",
            "ipfs://",
            "ipfs://h:1?gateway=ftp://x",
            "ipfs://h:1?bogus=http://x",
            "ipfs-cluster://",
            "ipfs-cluster://h:1",
            "ipfs-cluster://h:1?kubo=ftp://x",
            "ipfs-cluster://h:1?kubo=http://x&rmin=0",
            "ipfs-cluster://h:1?kubo=http://x&rmin=3&rmax=2",
            "ipfs-cluster://h:1/x?kubo=http://x",
            "ipfs-cluster://h:1?kubo=http://x&ns=../x",
            "ftp://x",
            "/tmp/x",
            "file:///%zz",
            "federation:x",
            "federation",
        ] {
            assert!(StoreUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
