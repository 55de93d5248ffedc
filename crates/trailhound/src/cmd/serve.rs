//! `trailhound serve`: the web UI and JSON API over an event store.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde::{Deserialize, Serialize};
use trailhound_server::{
    AccessToken, IngestHealth, IngestHealthHandle, Server, ServerConfig, TokenOrigin,
};

use super::query::StoreDirArg;

/// The address used when neither `--listen` nor `[server] listen` names one.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The `[server]` section of the configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Where to listen (default 127.0.0.1:8080). A non-loopback address always needs the token.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// A file holding the access token; without it the token is `server-token` in the store
    /// directory, generated (mode 0600) at first start.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// Require the token even when listening on loopback only.
    #[serde(default)]
    pub require_token: bool,
}

/// Arguments of `trailhound serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreDirArg,
    /// Address to listen on (IP:PORT). Anything but loopback requires the access token.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Configuration file (its `[server]` section).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Require the access token even on a loopback listener.
    #[arg(long)]
    pub require_token: bool,
}

/// Resolves the access token: `TRAILHOUND_SERVER_TOKEN`, then `[server] token_file`, then the
/// store's `server-token` file (generated when missing).
///
/// # Errors
/// The token file cannot be read or created, or the token is too short.
pub fn access_token(
    settings: &ServerSettings,
    store_dir: &std::path::Path,
) -> anyhow::Result<AccessToken> {
    if let Ok(token) = std::env::var("TRAILHOUND_SERVER_TOKEN")
        && !token.trim().is_empty()
    {
        return AccessToken::configured(&token).context("TRAILHOUND_SERVER_TOKEN");
    }
    if let Some(path) = &settings.token_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read token file {}", path.display()))?;
        return AccessToken::configured(&text)
            .with_context(|| format!("token file {}", path.display()));
    }
    Ok(AccessToken::load_or_create(store_dir)?)
}

/// Prints a newly generated token once, with how to use it.
///
/// # Errors
/// Writing to stdout failed.
pub fn announce_token(token: &AccessToken) -> std::io::Result<()> {
    if let TokenOrigin::Created(path) = &token.origin {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "access token (shown once; also in {}):",
            path.display()
        )?;
        writeln!(out, "  {}", token.secret())?;
        out.flush()?;
    }
    Ok(())
}

/// Prints the token when it was just generated and the server needs it, then where the UI is.
fn announce(server: &Server, token: &AccessToken, store: &Path) -> anyhow::Result<()> {
    if server.auth_required() {
        announce_token(token)?;
    }
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "serving {} on http://{} ({})",
        store.display(),
        server.local_addr(),
        if server.auth_required() {
            "access token required"
        } else {
            "loopback only, no token needed"
        }
    )?;
    Ok(())
}

/// Resolves the listen address and token of `[server]` for a store.
///
/// # Errors
/// The token cannot be read or created.
pub fn server_config(
    settings: &ServerSettings,
    listen: Option<SocketAddr>,
    store_dir: &Path,
) -> anyhow::Result<(ServerConfig, AccessToken)> {
    let listen = match listen.or(settings.listen) {
        Some(addr) => addr,
        None => DEFAULT_LISTEN.parse().context("default listen address")?,
    };
    let token = access_token(settings, store_dir)?;
    let mut config = ServerConfig::new(store_dir.to_path_buf(), listen, token.clone());
    config.require_token_on_loopback = settings.require_token;
    Ok((config, token))
}

/// The web server running on its own thread and runtime beside `trailhound run`.
#[derive(Debug)]
pub struct Background {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

/// Called every second for the overview's ingest health.
pub type HealthSource = Box<dyn FnMut() -> IngestHealth + Send>;

impl Background {
    /// Binds and starts the server; `refresh`, when given, is called every second to update
    /// the overview's ingest health. Returns once the listener is bound.
    ///
    /// # Errors
    /// The store cannot be opened or the address bound.
    pub fn start(
        mut config: ServerConfig,
        token: AccessToken,
        refresh: Option<HealthSource>,
    ) -> anyhow::Result<Background> {
        let health = refresh.as_ref().map(|_| IngestHealthHandle::default());
        config.ingest_health.clone_from(&health);
        let store = config.store_dir.clone();
        let (bound_tx, bound_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("web".to_owned())
            .spawn(move || -> anyhow::Result<()> {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .context("starting the web server's runtime")?;
                runtime.block_on(async move {
                    let server = match Server::bind(config).await {
                        Ok(server) => server,
                        Err(e) => {
                            let _ = bound_tx.send(Err(anyhow::Error::new(e)));
                            return Ok(());
                        }
                    };
                    let _ = bound_tx.send(Ok(server.local_addr()));
                    announce(&server, &token, &store)?;
                    if let (Some(handle), Some(mut refresh)) = (health, refresh) {
                        tokio::spawn(async move {
                            loop {
                                handle.set(refresh());
                                tokio::time::sleep(Duration::from_secs(1)).await;
                            }
                        });
                    }
                    server
                        .serve(async {
                            let _ = stop_rx.await;
                        })
                        .await?;
                    anyhow::Ok(())
                })
            })
            .context("starting the web server thread")?;
        let addr = bound_rx
            .recv()
            .context("the web server thread ended before binding")??;
        Ok(Background {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The bound address.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting requests, lets open ones finish, and waits for the thread.
    ///
    /// # Errors
    /// The server failed while running.
    pub fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => anyhow::bail!("the web server thread panicked"),
            None => Ok(()),
        }
    }
}

/// Runs `trailhound serve` until Ctrl-C.
///
/// # Errors
/// Bad configuration, an unusable store or address.
pub fn run(args: &ServeArgs) -> anyhow::Result<u8> {
    let (settings, alerts) = match &args.config {
        Some(path) => {
            let config = crate::config::Config::load(path)?;
            (config.server, config.alerts)
        }
        None => (
            ServerSettings::default(),
            trailhound_alert::AlertConfig::default(),
        ),
    };
    let (mut config, token) = server_config(&settings, args.listen, &args.store.dir)?;
    config.require_token_on_loopback |= args.require_token;
    // "Suppress similar" writes the pipeline's suppressions file where `run` on this store
    // reads it: `[alerts] suppressions_file`, else in `[alerts] outbox`, else `DIR/alerts`.
    let outbox = alerts
        .outbox
        .clone()
        .unwrap_or_else(|| args.store.dir.join("alerts"));
    config.suppressions_file = trailhound_alert::suppressions_path(&alerts, Some(&outbox));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let server = Server::bind(config)
            .await
            .with_context(|| format!("cannot serve {}", args.store.dir.display()))?;
        announce(&server, &token, &args.store.dir)?;
        server
            .serve(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        anyhow::Ok(())
    })?;
    Ok(0)
}
