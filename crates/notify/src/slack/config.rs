//! `[[alerts.sinks]] type = "slack"`: an incoming webhook. Its URL is a credential (anyone with
//! it can post to the channel), so it is a secret reference, never a literal.

use crate::error::ConfigError;
use crate::secret::SecretRef;
use serde::Deserialize;

/// Example shown in error messages and docs.
pub const SLACK_EXAMPLE: &str = r#"[[alerts.sinks]]
name = "soc-slack"
type = "slack"
min_level = "medium"
webhook_url = { env = "IDWATCH_SLACK_WEBHOOK" }"#;

pub(crate) const URL_EXAMPLE: &str = "https://hooks.slack.com/services/T000/B000/XXXX";

/// Slack incoming webhook settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackSinkConfig {
    /// The incoming webhook URL, from an env var or file
    /// (`{ env = "IDWATCH_SLACK_WEBHOOK" }`).
    pub webhook_url: SecretRef,
    /// Mention added to critical alerts (`<!here>`, `<!subteam^S123>`); none by default.
    #[serde(default)]
    pub mention_on_critical: Option<String>,
}

impl SlackSinkConfig {
    /// Checks the settings that need no secret.
    pub fn validate(&self, name: &str) -> Result<(), ConfigError> {
        if let Some(mention) = &self.mention_on_critical {
            if !(mention.starts_with("<!") || mention.starts_with("<@")) || !mention.ends_with('>')
            {
                return Err(ConfigError::sink(
                    name,
                    "mention_on_critical",
                    format!("must be a Slack mention such as \"<!here>\" or \"<!subteam^S0123ABCD>\"; got `{mention}`"),
                ));
            }
        }
        Ok(())
    }
}
