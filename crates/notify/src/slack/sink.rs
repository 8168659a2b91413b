//! Slack delivery: the Block Kit payload (a header with the level's emoji, sections for what,
//! who, where, why and evidence, a context line with ids) inside an attachment coloured by
//! level, POSTed to the incoming webhook. Slack answers 200 `ok`, 429 with Retry-After, or a
//! 4xx naming the problem (`invalid_payload`, `no_service`, `channel_is_archived`), which the
//! shared retry logic turns into a permanent failure with that reason.

use super::config::{SlackSinkConfig, URL_EXAMPLE};
use crate::error::{ConfigError, DeliveryError};
use crate::http;
use crate::message::AlertMessage;
use crate::secret::Secret;
use crate::sink::{BuildContext, Delivery};
use serde_json::{json, Value};
use store::alerts::AlertLevel;

/// Slack's limits: header text 150 characters, section text 3000, field 2000.
const HEADER_MAX: usize = 150;
const TEXT_MAX: usize = 3000;
const FIELD_MAX: usize = 2000;

/// A built Slack sink.
#[derive(Debug)]
pub struct SlackSink {
    name: String,
    url: Secret,
    mention_on_critical: Option<String>,
    client: reqwest::Client,
}

impl SlackSink {
    /// Resolves the webhook URL and builds the client.
    pub fn new(
        name: &str,
        config: &SlackSinkConfig,
        ctx: &BuildContext,
    ) -> Result<SlackSink, ConfigError> {
        config.validate(name)?;
        let url = config
            .webhook_url
            .resolve()
            .map_err(|e| ConfigError::sink(name, "webhook_url", e))?;
        http::check_url(name, "webhook_url", url.expose(), URL_EXAMPLE, true)?;
        Ok(SlackSink {
            name: name.to_string(),
            url,
            mention_on_critical: config.mention_on_critical.clone(),
            client: http::client(name, ctx.timeout)?,
        })
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Posts the message.
    pub async fn deliver(&self, delivery: &Delivery<'_>) -> Result<Option<u16>, DeliveryError> {
        let mention = (delivery.message.level == AlertLevel::Critical)
            .then_some(self.mention_on_critical.as_deref())
            .flatten();
        let payload = slack_payload(delivery.message, mention);
        let request = self
            .client
            .post(self.url.expose())
            .header("Content-Type", "application/json; charset=utf-8")
            .body(payload.to_string());
        http::post(&self.name, delivery.alert.id, request)
            .await
            .map(Some)
    }
}

/// Escapes Slack mrkdwn control characters.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn mrkdwn(text: &str, max: usize) -> Value {
    json!({ "type": "mrkdwn", "text": cut(text, max) })
}

/// The webhook payload for a message: `text` (the notification fallback) and one attachment
/// with the level's colour holding the blocks.
pub fn slack_payload(message: &AlertMessage, mention: Option<&str>) -> Value {
    let header = format!(
        "{} {}: {}",
        message.level_emoji(),
        message.level_label(),
        message.title
    );
    let mut blocks = vec![json!({
        "type": "header",
        "text": { "type": "plain_text", "text": cut(&header, HEADER_MAX), "emoji": true }
    })];
    let what = match mention {
        Some(m) => format!("{m} *What happened*\n{}", esc(&message.what)),
        None => format!("*What happened*\n{}", esc(&message.what)),
    };
    blocks.push(json!({ "type": "section", "text": mrkdwn(&what, TEXT_MAX) }));
    let mut fields = vec![
        mrkdwn(
            &format!(
                "*Who*\n{}",
                esc(message.who.as_deref().unwrap_or("unknown"))
            ),
            FIELD_MAX,
        ),
        mrkdwn(
            &format!(
                "*Where*\n{}",
                esc(message.location.as_deref().unwrap_or("unknown"))
            ),
            FIELD_MAX,
        ),
        mrkdwn(&format!("*Org*\n{}", esc(&message.org)), FIELD_MAX),
        mrkdwn(&format!("*Seen*\n{}", esc(&message.seen())), FIELD_MAX),
    ];
    if !message.group.is_empty() {
        fields.push(mrkdwn(
            &format!("*Grouped by*\n{}", esc(&message.group_line())),
            FIELD_MAX,
        ));
    }
    blocks.push(json!({ "type": "section", "fields": fields }));
    if !message.why.is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": mrkdwn(&format!("*Why it matters*\n{}", esc(&message.why)), TEXT_MAX)
        }));
    }
    let more = if message.evidence.omitted > 0 {
        format!(
            "\n_first {} events; {} more on the alert_",
            crate::message::EVIDENCE_UUIDS,
            message.evidence.omitted
        )
    } else {
        String::new()
    };
    let evidence = match &message.evidence.url {
        Some(url) => format!("*Evidence*\n<{}|Open the matching events>{more}", esc(url)),
        None => format!("*Evidence*\n```{}```{more}", esc(&message.evidence.command)),
    };
    blocks.push(json!({ "type": "section", "text": mrkdwn(&evidence, TEXT_MAX) }));
    if !message.references.is_empty() {
        let refs: Vec<String> = message
            .references
            .iter()
            .map(|r| format!("• {}", esc(r)))
            .collect();
        blocks.push(json!({
            "type": "section",
            "text": mrkdwn(&format!("*References*\n{}", refs.join("\n")), TEXT_MAX)
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [mrkdwn(
            &format!(
                "alert {} · rule `{}` · `idwatch alerts ack {}`",
                message.alert_id,
                esc(&message.rule_id),
                message.alert_id
            ),
            TEXT_MAX
        )]
    }));
    json!({
        "text": cut(&format!("{} {}", message.level_emoji(), message.headline()), TEXT_MAX),
        "attachments": [{ "color": message.level_colour(), "blocks": blocks }]
    })
}
