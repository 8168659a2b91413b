//! HTTP delivery shared by the Slack and webhook sinks: one client per sink (rustls on ring, a
//! per-attempt timeout, no redirects), URL validation with examples, and a POST whose answer is
//! classified by the shared retry logic. Response bodies are read only up to 4 KiB.

use crate::error::{ConfigError, DeliveryError};
use crate::retry::{classify_http, classify_transport};
use std::time::Duration;
use store::alerts::AlertId;
use url::Url;

const USER_AGENT: &str = concat!("idwatch/", env!("CARGO_PKG_VERSION"));
const MAX_BODY: usize = 4096;

/// Builds a sink's HTTP client.
pub(crate) fn client(sink: &str, timeout: Duration) -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ConfigError::sink(sink, "timeout", format!("cannot build HTTP client: {e}")))
}

/// Checks that `text` is an https URL (http only to a loopback address). When `secret` is set,
/// the message never repeats the URL (a Slack webhook URL is its own credential).
pub(crate) fn check_url(
    sink: &str,
    field: &str,
    text: &str,
    example: &str,
    secret: bool,
) -> Result<Url, ConfigError> {
    let shown = if secret {
        "(value not shown: it is a secret)".to_string()
    } else {
        format!("got `{text}`")
    };
    let url = Url::parse(text.trim()).map_err(|e| {
        ConfigError::sink(
            sink,
            field,
            format!("not a URL ({e}); it must be an https URL, e.g. {example}; {shown}"),
        )
    })?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(ConfigError::sink(
            sink,
            field,
            format!(
                "must be an https URL with a host (http only to localhost), e.g. {example}; {shown}"
            ),
        )),
    }
}

/// Sends `request` and classifies the answer. Returns the HTTP status on success.
pub(crate) async fn post(
    sink: &str,
    alert_id: AlertId,
    request: reqwest::RequestBuilder,
) -> Result<u16, DeliveryError> {
    let mut response = request
        .send()
        .await
        .map_err(|e| classify_transport(sink, alert_id, &e))?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut body = Vec::new();
    while body.len() < MAX_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            // A body that ends badly does not change what the status said.
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(MAX_BODY);
    let text = String::from_utf8_lossy(&body);
    classify_http(
        sink,
        alert_id,
        status,
        retry_after.as_deref(),
        &text,
        chrono::Utc::now(),
    )?;
    Ok(status)
}
