//! [`DirectorySource`] over the collector's [`collect::OktaClient`]: its credentials, rate
//! budget, retries and `Link` / `_links.next` pagination, so directory reads share the org's
//! rate-limit share with log polling.

use crate::source::{items_of_page, next_in_body, DirectorySource, SourceError};
use collect::{ClientError, OktaClient};
use serde_json::Value;

/// An org's management API through the collector's client.
#[derive(Clone)]
pub struct OktaDirectory {
    client: OktaClient,
}

impl OktaDirectory {
    /// Reads through `client`.
    pub fn new(client: OktaClient) -> OktaDirectory {
        OktaDirectory { client }
    }

    /// The client.
    pub fn client(&self) -> &OktaClient {
        &self.client
    }
}

fn source_error(path: &str, error: ClientError) -> SourceError {
    let path = path.to_string();
    match &error {
        ClientError::Unauthorized(e) | ClientError::Forbidden(e) => SourceError::Forbidden {
            path,
            detail: e.to_string(),
        },
        ClientError::Api(e) if e.status == 404 => SourceError::NotFound { path },
        _ => SourceError::Failed {
            path,
            detail: error.to_string(),
        },
    }
}

impl DirectorySource for OktaDirectory {
    fn base_url(&self) -> String {
        self.client
            .base_url()
            .as_str()
            .trim_end_matches('/')
            .to_string()
    }

    async fn get_all(&self, path: &str) -> Result<Vec<Value>, SourceError> {
        let pages = self
            .client
            .get_json_pages(path)
            .await
            .map_err(|e| source_error(path, e))?;
        // The client unwraps `{"value": [...]}`; other IAM shapes (`roles`, `resource-sets`)
        // come back as one object whose next page is in its body.
        if let [single @ Value::Object(map)] = pages.as_slice() {
            if ["roles", "resource-sets", "members", "supportCases"]
                .iter()
                .any(|k| map.get(*k).is_some_and(Value::is_array))
            {
                let mut items = Vec::new();
                let mut next = next_in_body(single);
                items.extend(items_of_page(single.clone()));
                let mut seen = std::collections::HashSet::new();
                while let Some(href) = next.filter(|h| seen.insert(h.clone())) {
                    let page = self
                        .client
                        .get_json(&href)
                        .await
                        .map_err(|e| source_error(&href, e))?;
                    next = next_in_body(&page);
                    items.extend(items_of_page(page));
                }
                return Ok(items);
            }
        }
        Ok(pages)
    }

    async fn get_one(&self, path: &str) -> Result<Value, SourceError> {
        self.client
            .get_json(path)
            .await
            .map_err(|e| source_error(path, e))
    }
}
