//! verger as a Spark Connect server: the stock PySpark client
//! (`SparkSession.builder.remote("sc://host:15002")`) runs its DataFrame code and SQL on
//! verger, embedded in this process or on a Ballista cluster.
//!
//! The protocol is the pinned client's own (its descriptors, compiled by build.rs). Each
//! client session gets a verger `SessionContext`; relations become DataFusion plans
//! ([`plan`]), Spark expressions DataFusion expressions ([`expression`]); results stream
//! back as Arrow in responses of at most 4 MiB, buffered a few at a time.

pub mod config;
pub mod error;
pub mod execute;
pub mod expression;
pub mod generator;
pub mod multiset;
pub mod ordered;
pub mod plan;
pub mod server;
pub mod session;
pub mod show;
pub mod spark_sql;
pub mod types;

pub mod proto {
    #![allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
    tonic::include_proto!("spark.connect");
}

pub use error::{ConnectError, ConnectResult};
pub use session::Engine;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Largest request the server reads (a createDataFrame's rows travel in it).
pub const MAX_REQUEST_BYTES: usize = 128 * 1024 * 1024;

/// How a Connect server runs.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub bind_host: String,
    /// 0 picks a free port; the server prints the one it got.
    pub port: u16,
    pub engine: Engine,
    /// Settings every new session starts with (`--set k=v`), Spark or verger keys.
    pub settings: Vec<(String, String)>,
    /// Bearer token the clients must send (`sc://host:port/;token=…`).
    pub token: Option<String>,
    pub idle_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {0}: {1}")]
    Bind(String, std::io::Error),
    #[error("the address '{0}' is not an IP address")]
    Address(String),
    #[error("the server binds {0}, which other machines can reach: give a token (--token or VERGER_CONNECT_TOKEN)")]
    TokenRequired(String),
    #[error(transparent)]
    Transport(#[from] tonic::transport::Error),
}

fn check_token(expected: Option<Arc<str>>) -> impl Fn(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Clone {
    move |request: tonic::Request<()>| {
        let Some(expected) = &expected else {
            return Ok(request);
        };
        let given = request.metadata().get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        match given {
            Some(token) if token.as_bytes() == expected.as_bytes() => Ok(request),
            Some(_) => Err(tonic::Status::unauthenticated("the token is not this server's")),
            None => Err(tonic::Status::unauthenticated("this server needs a token: connect with sc://host:port/;token=…")),
        }
    }
}

/// Runs the server until `shutdown` completes. `ready` gets the address it listens on.
pub async fn serve(
    options: ConnectOptions,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let ip: IpAddr = options.bind_host.parse().map_err(|_| ServeError::Address(options.bind_host.clone()))?;
    if !ip.is_loopback() && options.token.is_none() {
        return Err(ServeError::TokenRequired(options.bind_host.clone()));
    }
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, options.port))
        .await
        .map_err(|e| ServeError::Bind(format!("{ip}:{}", options.port), e))?;
    let address = listener.local_addr().map_err(|e| ServeError::Bind(format!("{ip}:{}", options.port), e))?;
    let sessions = Arc::new(session::SessionManager::new(options.engine.clone(), options.settings.clone(), options.idle_timeout));
    let expiry = Arc::clone(&sessions);
    let expire_every = (options.idle_timeout / 4).max(Duration::from_secs(1));
    let expirer = tokio::spawn(async move {
        loop {
            tokio::time::sleep(expire_every).await;
            expiry.expire_idle().await;
        }
    });
    let service = proto::spark_connect_service_server::SparkConnectServiceServer::new(server::VergerConnect { sessions })
        .max_decoding_message_size(MAX_REQUEST_BYTES)
        .max_encoding_message_size(MAX_REQUEST_BYTES);
    let token: Option<Arc<str>> = options.token.as_deref().map(Arc::from);
    let service = tonic::service::interceptor::InterceptedService::new(service, check_token(token));
    // Without TCP_NODELAY, Nagle's algorithm holds each small response frame back until the
    // client's delayed ACK (~40 ms on Linux): every RPC, however trivial, paid it.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    ready(address);
    let result = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await;
    expirer.abort();
    Ok(result?)
}
