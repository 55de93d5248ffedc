//! The access token, the session cookie, CSRF and Host checks, and the security headers.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};

use crate::{AppState, Error, Result};

/// The token file inside the store directory.
pub const TOKEN_FILE: &str = "server-token";
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "trailhound_session";
/// The header every state-changing request from the browser must carry.
pub const CSRF_HEADER: &str = "x-trailhound-csrf";

/// Where the access token came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOrigin {
    /// Given in the configuration or the environment.
    Configured,
    /// Read from the token file made at an earlier start.
    File(PathBuf),
    /// Generated now and written to this file (mode 0600): print it once.
    Created(PathBuf),
}

/// The access token and where it came from.
#[derive(Clone)]
pub struct AccessToken {
    token: String,
    /// Where it came from.
    pub origin: TokenOrigin,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"<redacted>")
            .field("origin", &self.origin)
            .finish()
    }
}

impl AccessToken {
    /// A configured token.
    ///
    /// # Errors
    /// [`Error::WeakToken`] for tokens shorter than 16 characters.
    pub fn configured(token: &str) -> Result<AccessToken> {
        let token = token.trim();
        if token.len() < 16 {
            return Err(Error::WeakToken);
        }
        Ok(AccessToken {
            token: token.to_owned(),
            origin: TokenOrigin::Configured,
        })
    }

    /// Reads the token file in `dir`, or generates a random token and writes it there with
    /// mode 0600 when there is none.
    ///
    /// # Errors
    /// When the file cannot be read or written.
    pub fn load_or_create(dir: &Path) -> Result<AccessToken> {
        let path = dir.join(TOKEN_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let token = text.trim().to_owned();
                if token.len() < 16 {
                    return Err(Error::WeakToken);
                }
                return Ok(AccessToken {
                    token,
                    origin: TokenOrigin::File(path),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(Error::Io {
                    context: "reading the token file",
                    path,
                    source,
                });
            }
        }
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            context: "creating the store directory",
            path: dir.to_path_buf(),
            source,
        })?;
        let bytes: [u8; 32] = rand::random();
        let token = hex::encode(bytes);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&path).map_err(|source| Error::Io {
            context: "creating the token file",
            path: path.clone(),
            source,
        })?;
        writeln!(file, "{token}").map_err(|source| Error::Io {
            context: "writing the token file",
            path: path.clone(),
            source,
        })?;
        tracing::info!(path = %path.display(), "access token generated");
        Ok(AccessToken {
            token,
            origin: TokenOrigin::Created(path),
        })
    }

    /// The token itself (to print once after [`TokenOrigin::Created`]).
    #[must_use]
    pub fn secret(&self) -> &str {
        &self.token
    }

    /// Whether `given` is the token, compared in constant time.
    #[must_use]
    pub fn matches(&self, given: &str) -> bool {
        constant_time_eq(&digest(self.token.as_bytes()), &digest(given.as_bytes()))
    }

    /// The session cookie value: a digest of the token, so the cookie never holds the token.
    #[must_use]
    pub fn session_value(&self) -> String {
        hex::encode(digest_session(&self.token))
    }

    fn matches_session(&self, given: &str) -> bool {
        let Ok(given) = hex::decode(given) else {
            return false;
        };
        constant_time_eq(&digest_session(&self.token), &given)
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn digest_session(token: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"trailhound-session\0");
    hasher.update(token.as_bytes());
    hasher.finalize().into()
}

/// Compares two byte strings without an early exit on the first difference.
#[must_use]
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=')
                && k == name
            {
                return Some(v);
            }
        }
    }
    None
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Paths reachable without a token: the login page and what it needs.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/login" | "/static/login.js" | "/static/app.css" | "/api/login" | "/api/health"
    )
}

fn is_loopback_host(host: &str) -> bool {
    let name = host
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(name, _)| name);
    matches!(name, "localhost" | "127.0.0.1" | "[::1]") || name.starts_with("127.")
}

fn unauthorized(path: &str) -> Response {
    if path.starts_with("/api/") {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({"error": "missing or wrong access token"})),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response
    } else {
        Redirect::to("/login").into_response()
    }
}

fn forbidden(message: &'static str) -> Response {
    (
        StatusCode::FORBIDDEN,
        axum::Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

/// The access middleware: Host check on loopback listeners, token or session cookie when
/// required, and the CSRF rule for state-changing requests.
pub(crate) async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let path = request.uri().path().to_owned();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if state.auth.is_none() && !is_loopback_host(host) {
        // A loopback listener without a token only answers loopback names: a page on another
        // site cannot reach it through DNS rebinding.
        return forbidden("this server only answers requests to localhost");
    }
    let by_bearer = bearer(headers).is_some();
    if let Some(token) = &state.auth
        && !is_public(&path)
    {
        let by_token = bearer(headers).is_some_and(|t| token.matches(t));
        let by_cookie =
            cookie_value(headers, SESSION_COOKIE).is_some_and(|v| token.matches_session(v));
        if !(by_token || by_cookie) {
            return unauthorized(&path);
        }
    }
    let method = request.method();
    let changes_state = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if changes_state && !by_bearer {
        if headers.get(CSRF_HEADER).is_none() {
            return forbidden("state-changing requests need the x-trailhound-csrf header");
        }
        if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
            let same = origin
                .split_once("://")
                .is_some_and(|(_, authority)| authority == host);
            if !same {
                return forbidden("cross-origin request refused");
            }
        }
        if let Some(site) = headers.get("sec-fetch-site").and_then(|s| s.to_str().ok())
            && !matches!(site, "same-origin" | "none")
        {
            return forbidden("cross-site request refused");
        }
    }
    next.run(request).await
}

/// The security headers added to every response.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_compare() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn token_file_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = AccessToken::load_or_create(dir.path()).unwrap();
        assert!(matches!(first.origin, TokenOrigin::Created(_)));
        assert_eq!(first.secret().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(TOKEN_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let second = AccessToken::load_or_create(dir.path()).unwrap();
        assert!(matches!(second.origin, TokenOrigin::File(_)));
        assert!(second.matches(first.secret()));
        assert!(!second.matches("nope"));
        assert!(second.matches_session(&first.session_value()));
        assert!(!second.matches_session("00"));
        assert!(AccessToken::configured("short").is_err());
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback_host("127.0.0.1:8080"));
        assert!(is_loopback_host("localhost"));
        assert!(is_loopback_host("[::1]:80"));
        assert!(!is_loopback_host("evil.example.com"));
        assert!(!is_loopback_host("192.0.2.1:8080"));
    }
}
