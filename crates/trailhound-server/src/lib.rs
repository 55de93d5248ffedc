//! The trailhound web UI and JSON API over the event store: the alert list with filters and
//! live updates, alert pages with triage actions, search, SQL, pivots and the overview.
//!
//! [`Server`] binds a listener and serves the router; `trailhound serve` and the daemon
//! (`trailhound run`) both use it. Every request needs the access token (bearer header or the
//! session cookie set by the login page) unless the listener is loopback-only.
//!
//! ```no_run
//! # async fn demo() -> trailhound_server::Result<()> {
//! use trailhound_server::{AccessToken, Server, ServerConfig};
//! let dir = std::path::PathBuf::from("trailhound-data");
//! let token = AccessToken::load_or_create(&dir)?;
//! let config = ServerConfig::new(dir, "127.0.0.1:8080".parse().unwrap(), token);
//! let server = Server::bind(config).await?;
//! server.serve(std::future::pending()).await?;
//! # Ok(()) }
//! ```

mod api;
mod assets;
mod auth;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use trailhound_core::Timestamp;
use trailhound_store::Store;

pub use auth::{AccessToken, CSRF_HEADER, SESSION_COOKIE, TOKEN_FILE, TokenOrigin};

/// The OpenAPI 3 document served at `/api/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Errors of the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A store call failed.
    #[error("store: {0}")]
    Store(#[from] trailhound_store::Error),
    /// A filesystem or socket call failed.
    #[error("{context} {path}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The path or address involved.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Binding the listener failed.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("serving: {0}")]
    Serve(#[source] std::io::Error),
    /// A configured token is too short to be safe.
    #[error("the access token must be at least 16 characters")]
    WeakToken,
}

/// The server's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Ingest health figures shown on the overview page.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct IngestHealth {
    /// Where the figures come from: `store` (derived from stored events) or `live`.
    pub source: String,
    /// Events per second over the latest measured interval.
    pub events_per_second: f64,
    /// Seconds between now and the latest event.
    pub lag_seconds: Option<f64>,
    /// Read or decode errors since start.
    pub errors: u64,
    /// Events read since start.
    pub events_read: u64,
    /// When the figures were last updated.
    pub updated_at: Option<Timestamp>,
}

/// A shared handle a running pipeline updates and the overview reads.
#[derive(Debug, Clone, Default)]
pub struct IngestHealthHandle(Arc<RwLock<Option<IngestHealth>>>);

impl IngestHealthHandle {
    /// Replaces the figures.
    pub fn set(&self, health: IngestHealth) {
        if let Ok(mut slot) = self.0.write() {
            *slot = Some(health);
        }
    }

    /// The latest figures, when a pipeline reported any.
    #[must_use]
    pub fn get(&self) -> Option<IngestHealth> {
        self.0.read().ok().and_then(|slot| slot.clone())
    }
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The store directory.
    pub store_dir: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The access token.
    pub token: AccessToken,
    /// Require the token even on a loopback-only listener.
    pub require_token_on_loopback: bool,
    /// How often the live stream polls the store for new alerts.
    pub poll_interval: Duration,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Longest a request may take before 408 (the live stream is not limited).
    pub request_timeout: Duration,
    /// Longest a SQL query may run before it is interrupted.
    pub query_timeout: Duration,
    /// Ingest health reported by a running pipeline (the daemon); without it the overview
    /// derives figures from the store.
    pub ingest_health: Option<IngestHealthHandle>,
    /// The alert pipeline's suppressions file: "suppress similar" appends to it, so the
    /// daemon and `hunt` stop sending such alerts. Without it the suppression is recorded
    /// in the store only.
    pub suppressions_file: Option<PathBuf>,
}

impl ServerConfig {
    /// Settings with the defaults: 1 s polling, 64 KiB bodies, 30 s requests, 10 s queries.
    #[must_use]
    pub fn new(store_dir: PathBuf, listen: SocketAddr, token: AccessToken) -> Self {
        ServerConfig {
            store_dir,
            listen,
            token,
            require_token_on_loopback: false,
            poll_interval: Duration::from_secs(1),
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            query_timeout: Duration::from_secs(10),
            ingest_health: None,
            suppressions_file: None,
        }
    }
}

/// Read connections kept open for reuse.
const READ_POOL: usize = 4;

/// State shared by the handlers.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store_dir: PathBuf,
    pub(crate) writer: Arc<Mutex<Store>>,
    readers: Arc<Mutex<Vec<Store>>>,
    /// The token when one is required.
    pub(crate) auth: Option<AccessToken>,
    pub(crate) poll_interval: Duration,
    pub(crate) query_timeout: Duration,
    pub(crate) ingest_health: Option<IngestHealthHandle>,
    pub(crate) suppressions_file: Option<PathBuf>,
    pub(crate) secure_cookie: bool,
}

impl AppState {
    /// Runs `f` on a read-only connection in a blocking task.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, AppError> + Send + 'static,
    {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let store = state.take_reader()?;
            let out = f(&store);
            state.give_back(store);
            out
        })
        .await
        .map_err(|e| AppError::Internal(format!("worker failed: {e}")))?
    }

    /// Runs `f` on the writable connection in a blocking task.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, AppError> + Send + 'static,
    {
        let writer = Arc::clone(&self.writer);
        tokio::task::spawn_blocking(move || {
            let mut store = writer
                .lock()
                .map_err(|_| AppError::Internal("store lock poisoned".into()))?;
            f(&mut store)
        })
        .await
        .map_err(|e| AppError::Internal(format!("worker failed: {e}")))?
    }

    pub(crate) fn take_reader(&self) -> Result<Store, AppError> {
        if let Some(store) = self.readers.lock().ok().and_then(|mut pool| pool.pop()) {
            return Ok(store);
        }
        Ok(Store::open_read_only(&self.store_dir)?)
    }

    pub(crate) fn give_back(&self, store: Store) {
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < READ_POOL
        {
            pool.push(store);
        }
    }
}

/// An error answered over HTTP as `{"error": "..."}`.
#[derive(Debug)]
pub(crate) enum AppError {
    /// 400.
    BadRequest(String),
    /// 404.
    NotFound(String),
    /// 408: a query ran too long.
    Timeout(String),
    /// 500.
    Internal(String),
}

impl From<trailhound_store::Error> for AppError {
    fn from(e: trailhound_store::Error) -> Self {
        use trailhound_store::Error as S;
        match e {
            S::NoSuchAlert(_) => AppError::NotFound(e.to_string()),
            S::NotReadOnly { .. }
            | S::UnknownField { .. }
            | S::EmptySearch { .. }
            | S::UnknownStatus(_) => AppError::BadRequest(e.to_string()),
            S::Sql { context, .. } if context.contains("query") => {
                AppError::BadRequest(e.to_string())
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            AppError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            AppError::Timeout(m) => (StatusCode::REQUEST_TIMEOUT, m),
            AppError::Internal(m) => {
                tracing::error!(error = %m, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, m)
            }
        };
        (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
    }
}

/// A bound server, ready to serve.
#[derive(Debug)]
pub struct Server {
    listener: tokio::net::TcpListener,
    router: Router,
    addr: SocketAddr,
    auth_required: bool,
}

impl Server {
    /// Opens the store (creating the triage tables), binds the listener and builds the router.
    ///
    /// # Errors
    /// The store cannot be opened or the address cannot be bound.
    pub async fn bind(config: ServerConfig) -> Result<Server> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: config.listen,
            source,
        })?;
        let auth_required = !addr.ip().is_loopback() || config.require_token_on_loopback;
        let router = router(&config, auth_required)?;
        tracing::info!(%addr, auth_required, "web server listening");
        Ok(Server {
            listener,
            router,
            addr,
            auth_required,
        })
    }

    /// The bound address (the real port when port 0 was asked).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether requests need the token (always, unless the listener is loopback-only).
    #[must_use]
    pub fn auth_required(&self) -> bool {
        self.auth_required
    }

    /// Serves until `shutdown` completes.
    ///
    /// # Errors
    /// When the listener fails.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(Error::Serve)
    }
}

/// Builds the router over the store in `config.store_dir` (for tests and embedding);
/// `auth_required` decides whether the token is checked.
///
/// # Errors
/// The store cannot be opened or its triage tables cannot be created.
pub fn router(config: &ServerConfig, auth_required: bool) -> Result<Router> {
    let writer = Store::open(&config.store_dir)?;
    writer.init_triage()?;
    let state = AppState {
        store_dir: config.store_dir.clone(),
        writer: Arc::new(Mutex::new(writer)),
        readers: Arc::new(Mutex::new(Vec::new())),
        auth: auth_required.then(|| config.token.clone()),
        poll_interval: config.poll_interval,
        query_timeout: config.query_timeout,
        ingest_health: config.ingest_health.clone(),
        suppressions_file: config.suppressions_file.clone(),
        secure_cookie: false,
    };
    let routes = api::routes()
        .merge(assets::routes())
        .fallback(|| async { AppError::NotFound("no such page or endpoint".to_owned()) })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(RequestBodyLimitLayer::new(config.max_body_bytes))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(auth::CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .with_state(state);
    Ok(routes)
}
