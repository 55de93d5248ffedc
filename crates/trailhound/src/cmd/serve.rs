//! `trailhound serve`: the web UI and JSON API over an event store.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde::{Deserialize, Serialize};
use trailhound_server::{AccessToken, Server, ServerConfig, TokenOrigin};

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

/// Runs `trailhound serve` until Ctrl-C.
///
/// # Errors
/// Bad configuration, an unusable store or address.
pub fn run(args: &ServeArgs) -> anyhow::Result<u8> {
    let settings = match &args.config {
        Some(path) => crate::config::Config::load(path)?.server,
        None => ServerSettings::default(),
    };
    let listen = match args.listen.or(settings.listen) {
        Some(addr) => addr,
        None => DEFAULT_LISTEN.parse().context("default listen address")?,
    };
    let token = access_token(&settings, &args.store.dir)?;
    let mut config = ServerConfig::new(args.store.dir.clone(), listen, token.clone());
    config.require_token_on_loopback = args.require_token || settings.require_token;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let server = Server::bind(config)
            .await
            .with_context(|| format!("cannot serve {}", args.store.dir.display()))?;
        if server.auth_required() {
            announce_token(&token)?;
        }
        {
            let mut err = std::io::stderr().lock();
            writeln!(
                err,
                "serving {} on http://{} ({})",
                args.store.dir.display(),
                server.local_addr(),
                if server.auth_required() {
                    "access token required"
                } else {
                    "loopback only, no token needed"
                }
            )?;
        }
        server
            .serve(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        anyhow::Ok(())
    })?;
    Ok(0)
}
