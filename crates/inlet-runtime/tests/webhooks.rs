//! The webhook server, driven as a library over real HTTP: a delivery reaches the sync's
//! source only through its registered verifier, at `/webhooks/{source}/{sync}`, which is
//! given the URL the sender posted to.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use inlet_connectors::registry;
use inlet_core::{BatchStream, Checkpoint, Discovery, Source, StreamSpec};
use inlet_postgres::Secret;
use inlet_runtime::server::{serve, Hook};

const SECRET: &str = "whsec_test_secret";

/// Counts the nudges a verified webhook gives; reads nothing.
#[derive(Default)]
struct Nudged(AtomicUsize);

impl Source for Nudged {
    fn discover(&self) -> Discovery<'_> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn read<'a>(&'a self, _: &'a StreamSpec, _: Option<&'a Checkpoint>) -> BatchStream<'a> {
        Box::pin(futures_util::stream::empty())
    }

    fn nudge(&self, _: &[u8]) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn stripe_signature(body: &[u8], secret: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    let tag = ring::hmac::sign(&key, &signed);
    format!("t={t},v1={}", data_encoding::HEXLOWER.encode(tag.as_ref()))
}

/// The webhook server on a free local port with `hooks`, until the sender is dropped.
async fn serve_hooks(
    hooks: HashMap<String, Hook>,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(
        listener,
        std::sync::Arc::new(std::sync::RwLock::new(hooks)),
        Default::default(),
        Default::default(),
        inlet_runtime::paths::Paths::resolve(Some(std::path::Path::new("/nonexistent/inlet.toml"))),
        None,
        async {
            let _ = stop_rx.await;
        },
    ));
    (addr, stop_tx)
}

fn hook(source: &str, nudged: &Arc<Nudged>, secret: &str, base_url: Option<&str>) -> Hook {
    Hook {
        connector: registry::find(source).expect("registered"),
        source: nudged.clone(),
        secret: Some(Secret::new(secret.to_string())),
        base_url: base_url.map(str::to_string),
    }
}

#[tokio::test]
async fn only_a_delivery_signed_for_the_syncs_source_reaches_it() {
    let source = Arc::new(Nudged::default());
    let mut hooks = HashMap::new();
    hooks.insert("billing".to_string(), hook("stripe", &source, SECRET, None));
    let (addr, _stop) = serve_hooks(hooks).await;
    let http = reqwest::Client::new();
    let body = br#"{"id":"evt_1","type":"customer.updated"}"#;
    let post = |path: &str, signature: Option<String>| {
        let mut request = http
            .post(format!("http://{addr}{path}"))
            .body(body.to_vec());
        if let Some(s) = signature {
            request = request.header("Stripe-Signature", s);
        }
        async move { request.send().await.expect("request").status().as_u16() }
    };

    let good = Some(stripe_signature(body, SECRET));
    assert_eq!(post("/webhooks/stripe/billing", good.clone()).await, 200);
    assert_eq!(
        source.0.load(Ordering::SeqCst),
        1,
        "the verified delivery nudged the source"
    );

    let forged = Some(stripe_signature(body, "whsec_someone_else"));
    assert_eq!(post("/webhooks/stripe/billing", forged).await, 401);
    assert_eq!(post("/webhooks/stripe/billing", None).await, 401);
    // The sync exists, but not as a sync of that source; nor does another sync.
    assert_eq!(post("/webhooks/hubspot/billing", good.clone()).await, 404);
    assert_eq!(post("/webhooks/stripe/other", good).await, 404);
    assert_eq!(
        source.0.load(Ordering::SeqCst),
        1,
        "nothing unverified reached the source"
    );
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

#[tokio::test]
async fn a_hubspot_delivery_is_verified_against_the_url_it_was_posted_to_and_its_age() {
    use inlet_connectors::hubspot::webhook::sign;
    let (direct, proxied) = (Arc::new(Nudged::default()), Arc::new(Nudged::default()));
    let mut hooks = HashMap::new();
    hooks.insert(
        "crm".to_string(),
        hook("hubspot", &direct, "app-secret", None),
    );
    hooks.insert(
        "behind".to_string(),
        hook(
            "hubspot",
            &proxied,
            "app-secret",
            Some("https://inlet.example.com/"),
        ),
    );
    let (addr, _stop) = serve_hooks(hooks).await;
    let http = reqwest::Client::new();
    let body = br#"[{"eventId":1,"subscriptionType":"contact.propertyChange","objectId":123}]"#;
    // (status, body) of a delivery to `path` signed for `url` at `at` with `secret`.
    let post = |path: &str, url: String, at: i64, secret: &str| {
        let signature = sign("POST", &url, body, at, secret);
        let request = http
            .post(format!("http://{addr}{path}"))
            .header("X-HubSpot-Signature-v3", signature)
            .header("X-HubSpot-Request-Timestamp", at.to_string())
            .body(body.to_vec());
        async move {
            let response = request.send().await.expect("request");
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        }
    };
    let local = |path: &str| format!("http://{addr}{path}");

    let (status, _) = post(
        "/webhooks/hubspot/crm",
        local("/webhooks/hubspot/crm"),
        now_ms(),
        "app-secret",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        direct.0.load(Ordering::SeqCst),
        1,
        "the delivery nudged the sync"
    );

    let (status, said) = post(
        "/webhooks/hubspot/crm",
        local("/webhooks/hubspot/crm"),
        now_ms(),
        "another-app",
    )
    .await;
    assert_eq!(
        (
            status,
            said.contains("does not match the app's client secret")
        ),
        (401, true),
        "{said}"
    );
    let stale = now_ms() - 6 * 60 * 1000;
    let (status, said) = post(
        "/webhooks/hubspot/crm",
        local("/webhooks/hubspot/crm"),
        stale,
        "app-secret",
    )
    .await;
    assert_eq!(
        (status, said.contains("more than the 300 s")),
        (401, true),
        "{said}"
    );
    let unsigned = http
        .post(local("/webhooks/hubspot/crm"))
        .body(body.to_vec())
        .send()
        .await
        .expect("request");
    assert_eq!(unsigned.status().as_u16(), 401);
    assert_eq!(
        direct.0.load(Ordering::SeqCst),
        1,
        "nothing refused nudged it"
    );

    // Behind a proxy, HubSpot signs the public URL, which `webhook_base_url` gives.
    let public = "https://inlet.example.com/webhooks/hubspot/behind".to_string();
    let (status, _) = post("/webhooks/hubspot/behind", public, now_ms(), "app-secret").await;
    assert_eq!(status, 200);
    let (status, said) = post(
        "/webhooks/hubspot/behind",
        local("/webhooks/hubspot/behind"),
        now_ms(),
        "app-secret",
    )
    .await;
    assert_eq!(status, 401, "{said}");
    assert_eq!(proxied.0.load(Ordering::SeqCst), 1);
}
