//! Rule test files: events and the matches they must produce, kept beside the rules.
//!
//! A test file is `NAME.tests.yml` next to `NAME.yml` (or anywhere, naming its rule files):
//!
//! ```yaml
//! rules: [okta_api_token_created.yml]   # optional; default: NAME.yml beside NAME.tests.yml
//! placeholders:                         # optional; values for |expand placeholders
//!   legtimate_identifiers: ['@example.com']
//! tests:
//!   - name: fires when a token is created
//!     events:                           # Okta events in order; uuid and published are filled
//!       - eventType: system.api_token.create
//!     expect:                           # every match, by rule id/name/title; count defaults to 1
//!       - rule: 19951c21-229d-4ccb-8774-b993c3ff3c5c
//!   - name: near miss, a revocation
//!     events:
//!       - eventType: system.api_token.revoke
//!     expect: []
//! ```
//!
//! A rule you write yourself may instead carry the same `tests:` list as a top-level key of its
//! own document (Sigma allows custom keys); its rules are then that file's.
//!
//! An event without `uuid` gets `test-<n>`, one without `published` gets
//! `2024-01-01T00:00:00Z` plus `n` minutes. Each test runs twice, as a stream (events in the
//! order written, through the correlator with its allowed lateness) and as a hunt (sorted by
//! `published`), and passes only if both give exactly the expected matches: every rule that
//! fired must be listed, with its count, and a listed `group_key` must be one of the rule's.

use crate::correlate::{Correlator, CorrelatorConfig};
use crate::error::TestFileError;
use crate::matches::Match;
use crate::placeholders::Placeholders;
use crate::ruleset::{CompileOptions, RuleSet};
use crate::source::{is_test_file, RuleSource};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A parsed test file.
#[derive(Debug, Clone)]
pub struct TestFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Rule files the tests run against.
    pub rules: Vec<PathBuf>,
    /// Placeholder values for these rules (added to the configured ones).
    pub placeholders: Placeholders,
    /// The tests.
    pub tests: Vec<TestCase>,
}

/// One test: events in, matches out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// What it checks.
    pub name: String,
    /// Okta events (JSON objects written as YAML), in arrival order.
    pub events: Vec<serde_json::Value>,
    /// The matches expected; empty means nothing may fire.
    #[serde(default)]
    pub expect: Vec<Expected>,
}

/// One expected match.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// The rule's `id`, `name` or `title`.
    pub rule: String,
    /// How many times it fires (default 1).
    #[serde(default = "one")]
    pub count: usize,
    /// For a correlation: a group key one of its matches must have.
    #[serde(default)]
    pub group_key: Option<serde_json::Map<String, serde_json::Value>>,
}

fn one() -> usize {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rules: Vec<PathBuf>,
    #[serde(default)]
    placeholders: Placeholders,
    tests: Vec<TestCase>,
}

/// The result of one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOutcome {
    /// The test file.
    pub path: PathBuf,
    /// The test's name.
    pub name: String,
    /// Why it failed; empty when it passed.
    pub failures: Vec<String>,
}

impl TestOutcome {
    /// Whether it passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

fn error(path: &Path, message: impl Into<String>) -> TestFileError {
    TestFileError {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Reads a `*.tests.yml` file.
pub fn load_test_file(path: &Path) -> Result<TestFile, TestFileError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| error(path, format!("cannot read: {e}")))?;
    let raw: RawFile = yaml_serde::from_str(&text).map_err(|e| error(path, e.to_string()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let rules = if raw.rules.is_empty() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .replace(".tests.yaml", ".yml")
            .replace(".tests.yml", ".yml");
        vec![dir.join(name)]
    } else {
        raw.rules.iter().map(|r| dir.join(r)).collect()
    };
    Ok(TestFile {
        path: path.to_path_buf(),
        rules,
        placeholders: raw.placeholders,
        tests: raw.tests,
    })
}

/// Tests embedded in a rule file (`tests:` in a rule document).
pub fn embedded_tests(path: &Path) -> Result<Option<TestFile>, TestFileError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| error(path, format!("cannot read: {e}")))?;
    let mut tests = Vec::new();
    for doc in yaml_serde::Deserializer::from_str(&text) {
        let Ok(value) = yaml_serde::Value::deserialize(doc) else {
            // Rule syntax errors are `rules validate`'s business.
            break;
        };
        if let Some(list) = value.get("tests") {
            let parsed: Vec<TestCase> = yaml_serde::from_value(list.clone())
                .map_err(|e| error(path, format!("tests: {e}")))?;
            tests.extend(parsed);
        }
    }
    Ok((!tests.is_empty()).then(|| TestFile {
        path: path.to_path_buf(),
        rules: vec![path.to_path_buf()],
        placeholders: Placeholders::new(),
        tests,
    }))
}

/// Every test file under the given paths: `*.tests.yml` files, and rule files with
/// embedded tests. A rule file given directly also brings its sibling `NAME.tests.yml`.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<TestFile>, TestFileError> {
    let mut files: Vec<PathBuf> = Vec::new();
    for p in paths {
        if p.is_dir() {
            collect_yaml(p, &mut files).map_err(|e| error(p, format!("cannot read: {e}")))?;
        } else if p.exists() {
            files.push(p.clone());
            if !is_test_file(p) {
                let sibling = p.with_extension("tests.yml");
                if sibling.exists() {
                    files.push(sibling);
                }
            }
        } else {
            return Err(error(p, "no such file or directory"));
        }
    }
    files.sort();
    files.dedup();
    let mut out = Vec::new();
    for f in files {
        if is_test_file(&f) {
            out.push(load_test_file(&f)?);
        } else if let Some(t) = embedded_tests(&f)? {
            out.push(t);
        }
    }
    Ok(out)
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_yaml(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yml" | "yaml")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

/// Runs every test of a file. `options` supplies configured placeholders; the file's own are
/// added. An error means the file's rules or events could not be used at all.
pub fn run_test_file(
    file: &TestFile,
    options: &CompileOptions,
) -> Result<Vec<TestOutcome>, TestFileError> {
    let mut options = options.clone();
    options.placeholders.extend(file.placeholders.clone());
    let sources: Vec<RuleSource> = file.rules.iter().cloned().map(RuleSource::Path).collect();
    let rules = Arc::new(
        RuleSet::compile(&sources, &options)
            .map_err(|e| error(&file.path, format!("rules do not compile:\n{e}")))?,
    );
    let mut outcomes = Vec::new();
    for (ti, test) in file.tests.iter().enumerate() {
        let events = build_events(&file.path, ti, &test.events)?;
        let streamed = run_stream(&rules, &events);
        let mut sorted = events.clone();
        sorted.sort_by_key(|e| e.published());
        let hunted = run_stream(&rules, &sorted);
        let mut failures = Vec::new();
        check(&rules, test, &streamed, "as a stream", &mut failures);
        check(&rules, test, &hunted, "as a hunt", &mut failures);
        outcomes.push(TestOutcome {
            path: file.path.clone(),
            name: test.name.clone(),
            failures,
        });
    }
    Ok(outcomes)
}

fn build_events(
    path: &Path,
    test: usize,
    raw: &[serde_json::Value],
) -> Result<Vec<okta::LogEvent>, TestFileError> {
    let base = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| error(path, e.to_string()))?;
    raw.iter()
        .enumerate()
        .map(|(i, v)| {
            let mut v = v.clone();
            let Some(obj) = v.as_object_mut() else {
                return Err(error(
                    path,
                    format!("test {}: event {} is not a mapping", test + 1, i + 1),
                ));
            };
            if !obj.keys().any(|k| k.eq_ignore_ascii_case("uuid")) {
                obj.insert("uuid".into(), format!("test-{}-{}", test + 1, i + 1).into());
            }
            if !obj.keys().any(|k| k.eq_ignore_ascii_case("published")) {
                let t = base + chrono::Duration::minutes(i as i64);
                obj.insert(
                    "published".into(),
                    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                        .into(),
                );
            }
            let text = v.to_string();
            okta::LogEvent::parse(&text)
                .map_err(|e| error(path, format!("test {}: event {}: {e}", test + 1, i + 1)))
        })
        .collect()
}

/// All matches of `events` through a correlator, flushed at the end.
pub fn run_stream(rules: &Arc<RuleSet>, events: &[okta::LogEvent]) -> Vec<Match> {
    let mut c = Correlator::new(Arc::clone(rules), CorrelatorConfig::default());
    let mut out = Vec::new();
    for e in events {
        c.observe(e, e.published(), &mut out);
    }
    c.flush(&mut out);
    out
}

fn check(rules: &RuleSet, test: &TestCase, got: &[Match], how: &str, failures: &mut Vec<String>) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for m in got {
        *counts.entry(m.rule_id.clone()).or_default() += 1;
    }
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for e in &test.expect {
        let key = match rules.find(&e.rule) {
            Some(i) => rules.rules()[i].key().to_string(),
            None => {
                failures.push(format!("expects rule `{}`, which is not loaded", e.rule));
                continue;
            }
        };
        *expected.entry(key.clone()).or_default() += e.count;
        if let Some(gk) = &e.group_key {
            if !got
                .iter()
                .any(|m| m.rule_id == key && m.group_key.as_ref() == Some(gk))
            {
                failures.push(format!(
                    "{how}: no match of `{key}` has group key {}",
                    serde_json::Value::Object(gk.clone())
                ));
            }
        }
    }
    for (rule, &want) in &expected {
        let have = counts.get(rule).copied().unwrap_or(0);
        if have != want {
            failures.push(format!(
                "{how}: `{rule}` fired {have} time(s), expected {want}"
            ));
        }
    }
    for (rule, &have) in &counts {
        if !expected.contains_key(rule) {
            failures.push(format!(
                "{how}: `{rule}` fired {have} time(s), expected none"
            ));
        }
    }
}
