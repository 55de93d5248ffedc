//! API tests through the router (no socket) and over real listeners.

#![allow(clippy::unwrap_used, clippy::panic, clippy::collapsible_if)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{ALICE, TOKEN};
use serde_json::{Value, json};
use tower::ServiceExt as _;
use trailhound_server::{Server, router};

async fn call(
    app: &axum::Router,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::HOST, "127.0.0.1")
        .body(Body::empty())
        .unwrap()
}

fn get_auth(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::HOST, "192.0.2.10:8080")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap()
}

fn post(uri: &str, body: &Value) -> axum::http::request::Builder {
    let _ = body;
    Request::post(uri)
        .header(header::HOST, "127.0.0.1")
        .header(header::CONTENT_TYPE, "application/json")
}

fn loopback_app() -> (tempfile::TempDir, axum::Router, Vec<trailhound_core::Alert>) {
    let dir = tempfile::tempdir().unwrap();
    let alerts = common::fill(dir.path());
    let app = router(&common::config(dir.path()), false).unwrap();
    (dir, app, alerts)
}

#[tokio::test]
async fn alert_list_filters_sorts_and_counts() {
    let (_dir, app, _) = loopback_app();
    let (status, headers, page) = call(&app, get("/api/alerts")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 3);
    assert_eq!(
        page["items"][0]["title"],
        "deploy called PutBucketPolicy for the first time"
    );
    assert!(
        headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    insta::assert_json_snapshot!("alert_page", page);

    let (_, _, critical) = call(
        &app,
        get("/api/alerts?severity=critical,high&sort=severity&order=asc"),
    )
    .await;
    assert_eq!(critical["total"], 2);
    assert_eq!(critical["items"][0]["severity"], "high");
    let (_, _, by_kind) = call(&app, get("/api/alerts?kind=anomaly")).await;
    assert_eq!(by_kind["total"], 1);
    let (_, _, by_principal) = call(
        &app,
        get(&format!("/api/alerts?principal={}", urlenc(ALICE))),
    )
    .await;
    assert_eq!(by_principal["total"], 2);
    let (_, _, by_rule) = call(&app, get("/api/alerts?rule=cloudtrail-logging-stopped")).await;
    assert_eq!(by_rule["items"][0]["rule_id"], "TH1001");
    let (_, _, windowed) = call(&app, get("/api/alerts?since=2026-03-02T09:30:00Z")).await;
    assert_eq!(windowed["total"], 1);
    let (_, _, paged) = call(&app, get("/api/alerts?limit=1&offset=2")).await;
    assert_eq!(paged["items"].as_array().unwrap().len(), 1);
    assert_eq!(paged["total"], 3);
    for bad in [
        "severity=urgent",
        "status=done",
        "sort=colour",
        "limit=0",
        "limit=5000",
        "since=yesterday",
        "offset=-1",
    ] {
        let (status, _, body) = call(&app, get(&format!("/api/alerts?{bad}"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["error"].is_string());
    }
}

fn urlenc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn alert_page_actions_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = common::fill(dir.path());
    let suppressions = dir.path().join("alerts").join("suppressions.jsonl");
    let mut config = common::config(dir.path());
    config.suppressions_file = Some(suppressions.clone());
    let app = router(&config, false).unwrap();
    let stop = &alerts[1];
    let (status, _, page) = call(&app, get(&format!("/api/alerts/{}", stop.id))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["alert"]["rule"]["id"], "TH1001");
    assert_eq!(page["events"][0]["eventName"], "StopLogging");
    assert_eq!(page["triage"]["status"], "open");
    let buckets = page["timeline"]["principal_buckets"].as_array().unwrap();
    assert_eq!(
        buckets
            .iter()
            .map(|b| b["count"].as_u64().unwrap())
            .sum::<u64>(),
        3
    );

    let action = |body: Value| {
        Request::post(format!("/api/alerts/{}/actions", stop.id))
            .header(header::HOST, "127.0.0.1")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-trailhound-csrf", "1")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let (status, _, out) = call(&app, action(json!({"action": "acknowledge", "by": "bob"}))).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(out["alert"]["status"], "acknowledged");
    assert_eq!(out["alert"]["assignee"], "bob");
    let (_, _, out) = call(
        &app,
        action(json!({"action": "assign", "assignee": "carol", "by": "bob"})),
    )
    .await;
    assert_eq!(out["alert"]["assignee"], "carol");
    let (_, _, out) = call(
        &app,
        action(json!({"action": "close-tp", "note": "confirmed with the owner", "by": "carol"})),
    )
    .await;
    assert_eq!(out["alert"]["status"], "closed-tp");
    let (status, _, _) = call(&app, action(json!({"action": "comment"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = call(&app, action(json!({"action": "explode"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, _, out) = call(
        &app,
        action(json!({"action": "suppress", "note": "known change window", "by": "carol"})),
    )
    .await;
    assert_eq!(out["suppression"]["rule_id"], "TH1001");
    assert_eq!(out["suppression"]["principal"], ALICE);
    // In force in the alert pipeline: its suppressions file now silences this rule for this
    // principal in this account, and nothing else.
    let file = trailhound_alert::suppress::SuppressionFile::open(&suppressions).unwrap();
    let written = file.matches(stop).expect("the alert is suppressed");
    assert_eq!(out["pipeline_suppression"], written.id.as_str());
    assert_eq!(written.created_by.as_deref(), Some("carol"));
    assert_eq!(written.reason, "known change window");
    let mut other_rule = stop.clone();
    other_rule.rule.id = "TH1002".to_owned();
    assert!(file.matches(&other_rule).is_none());
    let mut other_principal = stop.clone();
    other_principal.entity.principal = Some(common::DEPLOY.to_owned());
    assert!(file.matches(&other_principal).is_none());

    let (_, _, page) = call(&app, get(&format!("/api/alerts/{}", stop.id))).await;
    let actions: Vec<&str> = page["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["acknowledge", "assign", "close-tp", "suppress"]);
    assert_eq!(page["history"][2]["by"], "carol");
    assert_eq!(page["history"][2]["note"], "confirmed with the owner");
    let (_, _, list) = call(&app, get("/api/suppressions")).await;
    assert_eq!(list["suppressions"].as_array().unwrap().len(), 1);
    let (_, _, closed) = call(&app, get("/api/alerts?status=closed-tp")).await;
    assert_eq!(closed["total"], 1);

    let (status, _, _) = call(&app, get("/api/alerts/does-not-exist")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = call(
        &app,
        action(json!({"action": "acknowledge"})).map(|_| Body::from("not json")),
    )
    .await;
    assert!(status.is_client_error());
}

#[tokio::test]
async fn search_sql_pivot_overview() {
    let (_dir, app, _) = loopback_app();
    let (status, _, found) = call(&app, get("/api/search?q=backup-admin")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["events"].as_array().unwrap().len(), 2);
    let (status, _, _) = call(&app, get("/api/search?q=%20")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let sql = |statement: &str| {
        post("/api/sql", &Value::Null)
            .header("x-trailhound-csrf", "1")
            .body(Body::from(json!({ "sql": statement }).to_string()))
            .unwrap()
    };
    let (status, _, rows) = call(
        &app,
        sql("SELECT event_name, count(*) AS n FROM events GROUP BY 1 ORDER BY 1"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rows}");
    assert_eq!(rows["columns"], json!(["event_name", "n"]));
    assert_eq!(rows["rows"][0], json!(["CreateAccessKey", 1]));
    assert_eq!(rows["truncated"], false);
    let (_, _, many) = call(&app, sql("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000) SELECT x FROM c")).await;
    assert_eq!(many["rows"].as_array().unwrap().len(), 1000);
    assert_eq!(many["truncated"], true);
    for bad in [
        "DELETE FROM alerts",
        "DROP TABLE ev",
        "SELECT * FROM nowhere",
        "UPDATE alerts SET status = 'closed'",
    ] {
        let (status, _, body) = call(&app, sql(bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (_, _, count) = call(&app, sql("SELECT count(*) FROM alerts")).await;
    assert_eq!(count["rows"][0][0], 3);

    let (status, _, pivot) = call(
        &app,
        get(&format!(
            "/api/pivot?kind=principal&value={}",
            urlenc(ALICE)
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{pivot}");
    assert_eq!(pivot["pivot"]["total"], 3);
    assert_eq!(pivot["pivot"]["alerts"].as_array().unwrap().len(), 2);
    let hist: u64 = pivot["histogram"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(hist, 3);
    let (_, _, ip) = call(&app, get("/api/pivot?kind=ip&value=198.51.100.20")).await;
    assert_eq!(ip["pivot"]["total"], 1);
    let (_, _, resource) = call(
        &app,
        get("/api/pivot?kind=resource&value=payments-exports.example.com"),
    )
    .await;
    assert_eq!(resource["pivot"]["total"], 1);
    let (status, _, _) = call(&app, get("/api/pivot?kind=planet&value=x")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, _, overview) = call(&app, get("/api/overview")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(overview["overview"]["alerts_total"], 3);
    assert_eq!(overview["overview"]["events_total"], 4);
    assert_eq!(overview["overview"]["top_principals"][0]["value"], ALICE);
    assert_eq!(overview["ingest"]["source"], "store");
}

#[tokio::test]
async fn token_cookie_and_csrf_rules() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = common::fill(dir.path());
    let app = router(&common::config(dir.path()), true).unwrap();
    let external = |uri: &str| {
        Request::get(uri)
            .header(header::HOST, "192.0.2.10:8080")
            .body(Body::empty())
            .unwrap()
    };

    let (status, headers, _) = call(&app, external("/api/alerts")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    let (status, _, _) = call(
        &app,
        Request::get("/api/alerts")
            .header(header::HOST, "192.0.2.10")
            .header(header::AUTHORIZATION, "Bearer wrong-token-wrong-token")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, headers, _) = call(&app, external("/")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/login");
    let (status, _, _) = call(&app, external("/login")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = call(&app, external("/static/app.js")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, page) = call(&app, get_auth("/api/alerts")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 3);

    let login = |token: &str, csrf: bool| {
        let mut b = Request::post("/api/login")
            .header(header::HOST, "192.0.2.10:8080")
            .header(header::CONTENT_TYPE, "application/json");
        if csrf {
            b = b.header("x-trailhound-csrf", "1");
        }
        b.body(Body::from(json!({ "token": token }).to_string()))
            .unwrap()
    };
    let (status, _, _) = call(&app, login("wrong-token-wrong-token", true)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = call(&app, login(TOKEN, false)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, headers, _) = call(&app, login(TOKEN, true)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let cookie = headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains(TOKEN),
        "the cookie must not carry the token"
    );
    let session = cookie.split(';').next().unwrap().to_owned();

    let with_cookie = |req: axum::http::request::Builder| {
        req.header(header::HOST, "192.0.2.10:8080")
            .header(header::COOKIE, &session)
    };
    let (status, _, _) = call(
        &app,
        with_cookie(Request::get("/api/overview"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let ack = || {
        with_cookie(Request::post(format!(
            "/api/alerts/{}/actions",
            alerts[0].id
        )))
        .header(header::CONTENT_TYPE, "application/json")
    };
    let body = || Body::from(json!({"action": "acknowledge"}).to_string());
    let (status, _, _) = call(&app, ack().body(body()).unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF header");
    let (status, _, _) = call(
        &app,
        ack()
            .header("x-trailhound-csrf", "1")
            .header(header::ORIGIN, "https://evil.example.com")
            .body(body())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "cross-origin");
    let (status, _, _) = call(
        &app,
        ack()
            .header("x-trailhound-csrf", "1")
            .header("sec-fetch-site", "cross-site")
            .body(body())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "cross-site");
    let (status, _, out) = call(
        &app,
        ack()
            .header("x-trailhound-csrf", "1")
            .header(header::ORIGIN, "http://192.0.2.10:8080")
            .body(body())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{out}");
    // Bearer clients are not browsers: no CSRF header needed.
    let (status, _, _) = call(
        &app,
        Request::post(format!("/api/alerts/{}/actions", alerts[0].id))
            .header(header::HOST, "192.0.2.10")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Request size limit.
    let big = json!({"action": "comment", "note": "x".repeat(100_000)}).to_string();
    let (status, _, _) = call(
        &app,
        ack()
            .header("x-trailhound-csrf", "1")
            .body(Body::from(big))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn loopback_listener_refuses_foreign_host_names() {
    let (_dir, app, _) = loopback_app();
    let (status, _, _) = call(
        &app,
        Request::get("/api/alerts")
            .header(header::HOST, "rebind.example.com")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = call(
        &app,
        Request::post("/api/sql")
            .header(header::HOST, "localhost:8080")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"sql":"SELECT 1"}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "no CSRF header on loopback either"
    );
}

async fn spawn(server: Server) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(async move {
        let _ = stopped.await;
    }));
    (addr, stop)
}

#[tokio::test]
async fn non_loopback_listener_rejects_requests_without_the_token() {
    let dir = tempfile::tempdir().unwrap();
    common::fill(dir.path());
    let mut config = common::config(dir.path());
    config.listen = "0.0.0.0:0".parse().unwrap();
    let server = Server::bind(config).await.unwrap();
    assert!(server.auth_required());
    let (addr, _stop) = spawn(server).await;
    let base = format!("http://127.0.0.1:{}", addr.port());
    let client = reqwest::Client::new();
    for path in [
        "/api/alerts",
        "/api/overview",
        "/api/openapi.json",
        "/api/alerts/stream",
    ] {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(
            response.status(),
            reqwest::StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    let response = client
        .post(format!("{base}/api/sql"))
        .json(&json!({"sql": "SELECT 1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::UNAUTHORIZED);
    let response = client
        .get(format!("{base}/api/alerts"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["total"], 3);
}

#[tokio::test]
async fn live_stream_sends_new_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = common::fill(dir.path());
    let server = Server::bind(common::config(dir.path())).await.unwrap();
    assert!(!server.auth_required());
    let (addr, _stop) = spawn(server).await;
    let mut response = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{}/api/alerts/stream",
            addr.port()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert!(
        response.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    // A new alert arrives in the store after the stream started.
    let mut late = alerts[0].clone();
    late.title = "alice created a second access key".into();
    late.id = "late-alert".into();
    trailhound_store::Store::open(dir.path())
        .unwrap()
        .append_alerts(&[late])
        .unwrap();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !text.contains("second access key") {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("no alert within 10 s")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("event: alert"), "{text}");
    assert!(text.contains("id: 4"), "{text}");
    assert!(
        !text.contains("backup-admin\""),
        "old alerts are not replayed: {text}"
    );
}
