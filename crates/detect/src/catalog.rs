//! The rule catalog: what runs for an org. It gathers the built-in pack (every rule file under
//! the repository's `rules/`, embedded in the binary by `build.rs`), the user's rule files and
//! directories (`[detect] rules`, `[sigma] rules`, `[detect.orgs.NAME] rules`), applies the
//! org's tuning (rule id → dotted field → value, e.g. `correlation.condition.gte = 8`) to the
//! rule documents, compiles everything into one `sigma::RuleSet`, and resolves what is
//! disabled and allowlisted into a [`Pack`].
//!
//! A user rule with the same `id` as a built-in replaces the built-in (so a copy of `rules/`
//! in a user directory is not loaded twice). Disabled rules still feed the correlations that
//! reference them; only their own alerts are dropped. Unknown ids in `disable`, `tune` or an
//! allowlist's `rules` are errors, so a typo never silently leaves a rule running.

use crate::allow::Allowlist;
use crate::config::{AllowEntry, DetectConfig, Tuning};
use crate::error::DetectError;
use sigma::{CompileOptions, CorrelatorConfig, Placeholders, RuleSet, RuleSource};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// The built-in rule files: (path relative to the repository, YAML text).
pub fn builtin_files() -> &'static [(&'static str, &'static str)] {
    BUILTIN_RULES
}

/// What the rest of idwatch passes in from its own config sections.
#[derive(Debug, Clone, Default)]
pub struct BaseOptions {
    /// `[sigma] placeholders` (`[detect]` and per-org values are laid over them).
    pub placeholders: Placeholders,
    /// `[sigma] rules`: user rule paths.
    pub rule_paths: Vec<PathBuf>,
    /// `[sigma] allowed_lateness` in ms, used when `[detect]` sets none.
    pub allowed_lateness_ms: Option<i64>,
}

/// Everything that runs for one org: the compiled rules, what is disabled, the allowlist and the
/// correlator settings. Immutable and shared.
#[derive(Debug)]
pub struct Pack {
    /// The compiled rules.
    pub rules: Arc<RuleSet>,
    /// Keys (`id`, else `name`, else `title`) of rules whose matches are dropped.
    pub disabled: BTreeSet<String>,
    /// Allowlist entries.
    pub allowlist: Allowlist,
    /// Correlator limits and lateness.
    pub correlator: CorrelatorConfig,
    /// How many rule files came from the built-in pack, and from the user.
    pub files: (usize, usize),
}

/// One document of a rule file and what identifies it.
struct Document {
    text: String,
    ids: Vec<String>,
    changed: bool,
}

struct File {
    name: String,
    builtin: bool,
    docs: Vec<Document>,
}

impl Pack {
    /// The pack for `org` (`None`: only the global settings).
    pub fn build(
        config: &DetectConfig,
        base: &BaseOptions,
        org: Option<&str>,
    ) -> Result<Pack, DetectError> {
        let org_config = org.and_then(|o| config.orgs.get(o));
        let mut paths: Vec<PathBuf> = config.rules.clone();
        for p in &base.rule_paths {
            if !paths.contains(p) {
                paths.push(p.clone());
            }
        }
        if let Some(oc) = org_config {
            paths.extend(oc.rules.iter().cloned());
        }

        // 1. Gather files: built-ins first, then the user's.
        let mut files = Vec::new();
        if config.builtin {
            for (name, text) in builtin_files() {
                files.push(split(name, text, true));
            }
        }
        let mut read_errors = Vec::new();
        let mut seen_paths = HashSet::new();
        for path in &paths {
            let listed = match sigma::source::rule_files(&RuleSource::Path(path.clone())) {
                Ok(listed) => listed,
                Err(e) => {
                    read_errors.push(e);
                    continue;
                }
            };
            for file in listed {
                let canonical = file.canonicalize().unwrap_or_else(|_| file.clone());
                if !seen_paths.insert(canonical) {
                    continue;
                }
                match std::fs::read_to_string(&file) {
                    Ok(text) => files.push(split(&file.display().to_string(), &text, false)),
                    Err(e) => read_errors.push(sigma::RuleError {
                        path: file.clone(),
                        line: 1,
                        rule: "-".into(),
                        message: format!("cannot read: {e}"),
                    }),
                }
            }
        }
        if !read_errors.is_empty() {
            return Err(DetectError::Rules(sigma::CompileError {
                errors: read_errors,
            }));
        }
        let builtin_count = files.iter().filter(|f| f.builtin).count();
        let user_count = files.len() - builtin_count;

        // 2. A user rule replaces the built-in with its id.
        let user_ids: HashSet<String> = files
            .iter()
            .filter(|f| !f.builtin)
            .flat_map(|f| f.docs.iter().flat_map(|d| d.ids.first().cloned()))
            .collect();
        for file in files.iter_mut().filter(|f| f.builtin) {
            file.docs
                .retain(|d| d.ids.first().is_none_or(|id| !user_ids.contains(id)));
        }

        // 3. Tuning: global, then per org (per field).
        let mut tuning: Tuning = config.tune.clone();
        if let Some(oc) = org_config {
            for (rule, fields) in &oc.tune {
                let entry = tuning.entry(rule.clone()).or_default();
                for (field, value) in fields {
                    entry.insert(field.clone(), value.clone());
                }
            }
        }
        for (rule, fields) in &tuning {
            let doc = files
                .iter_mut()
                .flat_map(|f| f.docs.iter_mut())
                .find(|d| d.ids.iter().any(|i| i == rule))
                .ok_or_else(|| DetectError::Config {
                    field: format!("detect.tune.{rule}"),
                    reason: format!("no rule `{rule}` (`idwatch rules list` shows ids)"),
                })?;
            tune_document(doc, rule, fields)?;
        }

        // 4. Compile.
        let mut placeholders = base.placeholders.clone();
        placeholders.extend(config.placeholders.clone());
        if let Some(oc) = org_config {
            placeholders.extend(oc.placeholders.clone());
        }
        let sources: Vec<RuleSource> = files
            .iter()
            .filter(|f| !f.docs.is_empty())
            .map(|f| RuleSource::Text {
                name: f.name.clone(),
                text: join(f),
            })
            .collect();
        let options = CompileOptions {
            placeholders,
            ..CompileOptions::default()
        };
        let rules = if sources.is_empty() {
            RuleSet::compile(&[], &options)?
        } else {
            RuleSet::compile(&sources, &options)?
        };

        // 5. Disabled rules and allowlists, resolved against what compiled.
        let mut disabled = BTreeSet::new();
        let global = config.disable.iter().map(|d| ("detect.disable", d));
        let per_org = org_config
            .into_iter()
            .flat_map(|oc| oc.disable.iter().map(|d| ("detect.orgs.*.disable", d)));
        for (field, reference) in global.chain(per_org) {
            let index = rules.find(reference).ok_or_else(|| DetectError::Config {
                field: field.to_string(),
                reason: format!("no rule `{reference}` (`idwatch rules list` shows ids)"),
            })?;
            disabled.insert(rules.rules()[index].key().to_string());
        }
        let mut entries: Vec<(String, AllowEntry)> = config
            .allow
            .iter()
            .enumerate()
            .map(|(i, e)| (format!("detect.allow[{i}]"), e.clone()))
            .collect();
        if let (Some(o), Some(oc)) = (org, org_config) {
            entries.extend(
                oc.allow
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (format!("detect.orgs.{o}.allow[{i}]"), e.clone())),
            );
        }
        let allowlist = Allowlist::compile(&entries, &rules)?;

        let lateness_ms = match config.allowed_lateness()? {
            Some(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            None => base
                .allowed_lateness_ms
                .unwrap_or(CorrelatorConfig::default().allowed_lateness_ms),
        };
        Ok(Pack {
            rules: Arc::new(rules),
            disabled,
            allowlist,
            correlator: CorrelatorConfig {
                allowed_lateness_ms: lateness_ms,
                ..CorrelatorConfig::default()
            },
            files: (builtin_count, user_count),
        })
    }

    /// Whether matches of the rule with this key are dropped.
    pub fn is_disabled(&self, rule_key: &str) -> bool {
        self.disabled.contains(rule_key)
    }
}

/// Splits a rule file into its YAML documents (on `---` lines), noting each one's id and name.
fn split(name: &str, text: &str, builtin: bool) -> File {
    let mut docs = Vec::new();
    let mut current = String::new();
    let flush = |current: &mut String, docs: &mut Vec<Document>| {
        if current.trim().is_empty() {
            current.clear();
            return;
        }
        let ids = yaml_serde::from_str::<yaml_serde::Value>(current)
            .ok()
            .map(|v| {
                ["id", "name", "title"]
                    .iter()
                    .filter_map(|k| v.get(k).and_then(|x| x.as_str()).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        docs.push(Document {
            text: std::mem::take(current),
            ids,
            changed: false,
        });
    };
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" {
            // Keep the separator line so line numbers of unchanged files stay exact.
            flush(&mut current, &mut docs);
            docs.push(Document {
                text: line.to_string(),
                ids: Vec::new(),
                changed: false,
            });
            continue;
        }
        current.push_str(line);
    }
    flush(&mut current, &mut docs);
    File {
        name: name.to_string(),
        builtin,
        docs,
    }
}

fn join(file: &File) -> String {
    let mut out = String::new();
    let mut previous_separator = true;
    for doc in &file.docs {
        let separator = doc.text.trim_end() == "---";
        if separator && previous_separator && !out.is_empty() {
            continue; // a document between two separators was removed
        }
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&doc.text);
        previous_separator = separator;
    }
    out
}

/// Sets each dotted `field` of the document to its value. The parent of the last key must exist
/// (so a typo is an error, not a new field nobody reads).
fn tune_document(
    doc: &mut Document,
    rule: &str,
    fields: &BTreeMap<String, serde_json::Value>,
) -> Result<(), DetectError> {
    let mut value: yaml_serde::Value =
        yaml_serde::from_str(&doc.text).map_err(|e| DetectError::Config {
            field: format!("detect.tune.{rule}"),
            reason: format!("the rule does not parse as YAML: {e}"),
        })?;
    for (path, new_value) in fields {
        let err = |reason: String| DetectError::Config {
            field: format!("detect.tune.{rule}.\"{path}\""),
            reason,
        };
        let keys: Vec<&str> = path.split('.').collect();
        let (last, parents) = keys
            .split_last()
            .ok_or_else(|| err("empty field path".into()))?;
        let mut node = &mut value;
        for key in parents {
            node = node
                .get_mut(*key)
                .ok_or_else(|| err(format!("the rule has no field `{key}`")))?;
        }
        let map = node
            .as_mapping_mut()
            .ok_or_else(|| err(format!("the parent of `{last}` is not a mapping")))?;
        let yaml = yaml_serde::to_value(new_value).map_err(|e| err(e.to_string()))?;
        map.insert(yaml_serde::Value::String((*last).to_string()), yaml);
    }
    doc.text = yaml_serde::to_string(&value).map_err(|e| DetectError::Config {
        field: format!("detect.tune.{rule}"),
        reason: e.to_string(),
    })?;
    doc.changed = true;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "title: A\nid: a\nlogsource: {product: okta}\ndetection:\n  s: {eventType: x}\n  condition: s\n---\ntitle: B\nname: b\ncorrelation:\n  type: event_count\n  rules: [a]\n  group-by: [actor.id]\n  timespan: 5m\n  condition: {gte: 3}\n";

    #[test]
    fn split_and_join_keep_unchanged_text_exactly() {
        let file = split("f.yml", TWO, false);
        assert_eq!(join(&file), TWO);
        assert_eq!(file.docs[0].ids, ["a", "A"]);
        assert_eq!(file.docs[2].ids, ["b", "B"]);
    }

    #[test]
    fn tuning_changes_the_named_field_and_rejects_typos() {
        let mut file = split("f.yml", TWO, false);
        let fields: BTreeMap<String, serde_json::Value> = [(
            "correlation.condition.gte".to_string(),
            serde_json::json!(7),
        )]
        .into();
        tune_document(&mut file.docs[2], "b", &fields).expect("tuned");
        assert!(
            file.docs[2].text.contains("gte: 7"),
            "{}",
            file.docs[2].text
        );
        let typo: BTreeMap<String, serde_json::Value> =
            [("corelation.condition.gte".to_string(), serde_json::json!(7))].into();
        let err = tune_document(&mut file.docs[2], "b", &typo).expect_err("typo");
        assert!(err.to_string().contains("no field `corelation`"), "{err}");
    }
}
