//! The HTTP side: a listener on loopback by default, hyper HTTP/1.1 connections with a header
//! read timeout, a bound on open connections, s3s for routing, SigV4 and XML, and a graceful
//! stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use s3s::service::{S3Service, S3ServiceBuilder};

use super::auth::{Credentials, GatewayAuth};
use super::buckets::Shared;
use super::committer::CommitStats;
use super::error::{GatewayError, GatewayResult};
use super::multipart::{UploadDir, create_private_dir};
use super::service::CofferS3;
use super::{GatewayConfig, Limits};
use crate::keys::Identity;
use crate::store::{BlockStore, HeadStore};

/// A gateway bound to its address, ready to [`serve`](Gateway::serve).
pub struct Gateway<S: BlockStore + HeadStore + ?Sized + 'static> {
    shared: Arc<Shared<S>>,
    listener: tokio::net::TcpListener,
    service: S3Service,
    limits: Limits,
    sync_interval: Option<Duration>,
}

impl<S: BlockStore + HeadStore + ?Sized + 'static> std::fmt::Debug for Gateway<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("listen", &self.listener.local_addr().ok())
            .field("device", &self.shared.device)
            .finish_non_exhaustive()
    }
}

impl<S: BlockStore + HeadStore + ?Sized + 'static> Gateway<S> {
    /// Prepares the gateway for `identity`'s vaults in `store` and binds its listener. Requests
    /// must be signed with `credentials`. Must run inside a tokio runtime (multi-threaded for
    /// concurrent uploads).
    pub async fn bind(
        store: Arc<S>,
        identity: Identity,
        credentials: Credentials,
        config: GatewayConfig,
    ) -> GatewayResult<Self> {
        crate::store::validate_name(&config.device)
            .map_err(|e| GatewayError::Config(format!("device name: {e}")))?;
        if config.limits.max_connections == 0 {
            return Err(GatewayError::Config("max_connections is 0".into()));
        }
        let tmp_dir = config.state_dir.join("tmp");
        create_private_dir(&config.state_dir)
            .and_then(|()| create_private_dir(&tmp_dir))
            .map_err(|e| GatewayError::state(&config.state_dir, e))?;
        let uploads_dir = config.state_dir.join("uploads");
        let uploads = UploadDir::open(uploads_dir.clone())
            .map_err(|e| GatewayError::state(&uploads_dir, e))?;
        let shared = Arc::new(Shared::new(
            store,
            identity,
            config.device,
            config.region,
            config.limits,
            tmp_dir.clone(),
            uploads,
            config.max_commit_batch,
            config.trust.clone(),
        ));
        shared
            .clean_spool()
            .await
            .map_err(|e| GatewayError::state(&tmp_dir, e))?;

        let mut builder = S3ServiceBuilder::new(CofferS3(shared.clone()));
        builder.set_auth(GatewayAuth(credentials));
        let mut s3config = s3s::config::S3Config::default();
        s3config.xml_max_body_size = config.limits.max_xml_size;
        builder.set_config(Arc::new(s3s::config::StaticConfigProvider::new(Arc::new(
            s3config,
        ))));
        let service = builder.build();

        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| GatewayError::Bind {
                addr: config.listen.to_string(),
                source,
            })?;
        Ok(Self {
            shared,
            listener,
            service,
            limits: config.limits,
            sync_interval: config.sync_interval,
        })
    }

    /// The address the gateway listens on (with the port chosen when 0 was asked for).
    pub fn local_addr(&self) -> GatewayResult<SocketAddr> {
        self.listener
            .local_addr()
            .map_err(|e| GatewayError::Config(format!("no local address: {e}")))
    }

    /// What commit grouping has done so far.
    pub fn commit_stats(&self) -> Arc<CommitStats> {
        self.shared.stats.clone()
    }

    /// Serves the existing vault `name` of this identity as a bucket (registers it); `Ok(false)`
    /// when no such vault exists in the store.
    pub async fn adopt(&self, name: &str) -> GatewayResult<bool> {
        match self.shared.adopt(name).await {
            Ok(_) => Ok(true),
            Err(e) if *e.code() == s3s::S3ErrorCode::NoSuchBucket => Ok(false),
            Err(e) => Err(GatewayError::Config(format!(
                "cannot serve vault {name} as a bucket: {}",
                e.message().unwrap_or("unknown error")
            ))),
        }
    }

    /// Answers requests until `shutdown` completes, then lets open requests finish (at most
    /// 10 s).
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> GatewayResult<()> {
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout)
            .keep_alive(true);
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let slots = Arc::new(tokio::sync::Semaphore::new(self.limits.max_connections));
        let syncer = self.sync_interval.map(|every| {
            let shared = self.shared.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    shared.sync_open().await;
                }
            })
        });
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            // At the bound, new connections wait in the listen backlog.
            let slot = tokio::select! {
                s = slots.clone().acquire_owned() => s,
                () = &mut shutdown => break,
            };
            let Ok(slot) = slot else { break };
            let accepted = tokio::select! {
                a = self.listener.accept() => a,
                () = &mut shutdown => break,
            };
            let socket = match accepted {
                Ok((socket, _)) => socket,
                Err(_) => {
                    // Out of file descriptors or similar: wait a little rather than spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = socket.set_nodelay(true);
            let conn = http.serve_connection(TokioIo::new(socket), Expect100(self.service.clone()));
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                let _ = conn.await;
                drop(slot);
            });
        }
        drop(self.listener);
        if let Some(s) = syncer {
            s.abort();
        }
        tokio::select! {
            () = graceful.shutdown() => {}
            () = tokio::time::sleep(Duration::from_secs(10)) => {}
        }
        Ok(())
    }
}

/// Works around a client bug: hyper sends `100 Continue` only when a body is read, so a request
/// with `Expect: 100-continue` and an empty body (a 0-byte PUT) gets its final answer at once.
/// botocore (boto3, the AWS CLI) then keeps parsing the next response on that connection as if it
/// were this one (it remembers the early status line), and a multipart upload on the same
/// connection fails with a missing ETag. Closing such a connection after the answer avoids it;
/// S3 always sends `100 Continue`, so clients never meet this there.
#[derive(Clone)]
struct Expect100(S3Service);

impl hyper::service::Service<http::Request<hyper::body::Incoming>> for Expect100 {
    type Response = s3s::HttpResponse;
    type Error = s3s::HttpError;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>,
    >;

    fn call(&self, req: http::Request<hyper::body::Incoming>) -> Self::Future {
        let expects = req
            .headers()
            .get(http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let empty = hyper::body::Body::is_end_stream(req.body());
        let fut = hyper::service::Service::call(&self.0, req);
        Box::pin(async move {
            let mut res = fut.await?;
            if expects && empty {
                res.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
            }
            Ok(res)
        })
    }
}
