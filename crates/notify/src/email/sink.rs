//! Email delivery: a multipart/alternative message (plain text and HTML) with a Message-ID
//! derived from the idempotency key (so a retried send is recognisably the same message), sent
//! through lettre's SMTP transport with TLS required. SMTP 5xx replies are permanent; 4xx,
//! connection, TLS and timeout errors are retried.

use super::config::{EmailSinkConfig, EmailTls};
use crate::error::{ConfigError, DeliveryError, FailureClass};
use crate::message::AlertMessage;
use crate::sink::{BuildContext, Delivery};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// A built email sink.
pub struct EmailSink {
    name: String,
    from: Mailbox,
    to: Vec<Mailbox>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    relay: String,
}

impl std::fmt::Debug for EmailSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the credentials; show only where it goes.
        f.debug_struct("EmailSink")
            .field("name", &self.name)
            .field("relay", &self.relay)
            .field("from", &self.from.to_string())
            .field("to", &self.to.len())
            .finish()
    }
}

impl EmailSink {
    /// Resolves the password, loads the extra CA, and builds the transport.
    pub fn new(
        name: &str,
        config: &EmailSinkConfig,
        ctx: &BuildContext,
    ) -> Result<EmailSink, ConfigError> {
        config.validate(name)?;
        let host = config.host.trim().to_string();
        let mut tls = TlsParameters::builder(host.clone());
        if let Some(path) = &config.ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                ConfigError::sink(name, "ca_file", format!("reading {}: {e}", path.display()))
            })?;
            let cert = Certificate::from_pem(&pem).map_err(|e| {
                ConfigError::sink(
                    name,
                    "ca_file",
                    format!("{} is not a PEM certificate: {e}", path.display()),
                )
            })?;
            tls = tls.add_root_certificate(cert);
        }
        let tls = tls
            .build_rustls()
            .map_err(|e| ConfigError::sink(name, "host", format!("TLS setup failed: {e}")))?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(config.port())
            .timeout(Some(ctx.timeout))
            .tls(match config.tls {
                EmailTls::Starttls => Tls::Required(tls),
                EmailTls::Tls => Tls::Wrapper(tls),
            });
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            let password = password
                .resolve()
                .map_err(|e| ConfigError::sink(name, "password", e))?;
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        let parse = |field: &str, text: &str| {
            text.parse::<Mailbox>()
                .map_err(|e| ConfigError::sink(name, field, format!("`{text}`: {e}")))
        };
        Ok(EmailSink {
            name: name.to_string(),
            from: parse("from", &config.from)?,
            to: config
                .to
                .iter()
                .map(|t| parse("to", t))
                .collect::<Result<_, _>>()?,
            transport: builder.build(),
            relay: format!("{host}:{}", config.port()),
        })
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends the message.
    pub async fn deliver(&self, delivery: &Delivery<'_>) -> Result<Option<u16>, DeliveryError> {
        let message = delivery.message;
        let fail = |class, status, reason: String| DeliveryError {
            sink: self.name.clone(),
            alert_id: delivery.alert.id,
            class,
            status,
            reason,
        };
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(email_subject(message))
            .message_id(Some(format!("<{}@idwatch>", delivery.idempotency_key)));
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let email = builder
            .multipart(MultiPart::alternative_plain_html(
                message.plain_text(),
                email_html(message),
            ))
            .map_err(|e| {
                fail(
                    FailureClass::Permanent,
                    None,
                    format!("building the message: {e}"),
                )
            })?;
        match self.transport.send(email).await {
            Ok(response) => Ok(Some(u16::from(response.code()))),
            Err(e) => {
                let status = e.status().map(u16::from);
                let class = if e.is_permanent() {
                    FailureClass::Permanent
                } else {
                    FailureClass::Retriable { retry_after: None }
                };
                Err(fail(class, status, format!("SMTP {}: {e}", self.relay)))
            }
        }
    }
}

/// `[idwatch HIGH] title (acme)`.
pub fn email_subject(message: &AlertMessage) -> String {
    format!(
        "[idwatch {}] {} ({})",
        message.level_label(),
        message.title,
        message.org
    )
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The HTML body: the same facts as the plain text, in a table, with the level's colour.
pub fn email_html(message: &AlertMessage) -> String {
    let mut rows = vec![("What happened", html_escape(&message.what))];
    if let Some(who) = &message.who {
        rows.push(("Who", html_escape(who)));
    }
    if let Some(location) = &message.location {
        rows.push(("Where", html_escape(location)));
    }
    if !message.why.is_empty() {
        rows.push(("Why it matters", html_escape(&message.why)));
    }
    rows.push(("Seen", html_escape(&message.seen())));
    if !message.group.is_empty() {
        rows.push(("Grouped by", html_escape(&message.group_line())));
    }
    let evidence = match &message.evidence.url {
        Some(url) => format!(
            "<a href=\"{}\">Open the matching events</a>",
            html_escape(url)
        ),
        None => format!("<code>{}</code>", html_escape(&message.evidence.command)),
    };
    rows.push(("Evidence", evidence));
    let mut html = format!(
        "<!DOCTYPE html>\n<html><body style=\"font-family:sans-serif\">\n<h2 style=\"border-left:6px solid {};padding-left:8px\">{} {}</h2>\n<table cellpadding=\"4\">\n",
        message.level_colour(),
        html_escape(&message.level_label()),
        html_escape(&message.title)
    );
    for (label, value) in rows {
        html.push_str(&format!(
            "<tr><th align=\"left\" valign=\"top\">{label}</th><td>{value}</td></tr>\n"
        ));
    }
    html.push_str("</table>\n");
    for reference in &message.references {
        html.push_str(&format!("<p>Reference: {}</p>\n", html_escape(reference)));
    }
    html.push_str(&format!(
        "<p style=\"color:#666\">Alert {} · rule {} · org {} · acknowledge with <code>idwatch alerts ack {}</code></p>\n</body></html>\n",
        message.alert_id,
        html_escape(&message.rule_id),
        html_escape(&message.org),
        message.alert_id
    ));
    html
}
