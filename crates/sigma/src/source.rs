//! Where rules come from: a [`RuleSource`] is a file, a directory (every `.yml`/`.yaml` below
//! it, in name order, except `*.tests.yml` rule test files) or a named text (how a built-in
//! pack is shipped). Loading reads and parses each file into documents and remembers where each
//! rule starts, so every later problem can be reported as `FILE:LINE: rule-id: message`.

use crate::error::RuleError;
use rsigma_parser::{CorrelationRule, FilterRule, SigmaRule};
use std::path::{Path, PathBuf};

/// One place rules come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleSource {
    /// A rule file, or a directory searched recursively.
    Path(PathBuf),
    /// Rule text held in memory (`name` is used in messages in place of a path).
    Text {
        /// Shown where a path would be.
        name: String,
        /// The YAML.
        text: String,
    },
}

/// A parsed file: its documents and where they are.
#[derive(Debug, Clone)]
pub(crate) struct LoadedFile {
    pub path: PathBuf,
    pub text: String,
    pub rules: Vec<Located<SigmaRule>>,
    pub correlations: Vec<Located<CorrelationRule>>,
    pub filters: Vec<Located<FilterRule>>,
}

/// A document and the line it starts on.
#[derive(Debug, Clone)]
pub(crate) struct Located<T> {
    pub file: usize,
    pub line: usize,
    pub doc: T,
}

/// True for rule test files, which live beside rules but are not rules.
pub fn is_test_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".tests.yml") || n.ends_with(".tests.yaml"))
}

/// The rule files a source names (a file as is; a directory's YAML files, sorted).
pub fn rule_files(source: &RuleSource) -> Result<Vec<PathBuf>, RuleError> {
    let RuleSource::Path(path) = source else {
        return Ok(Vec::new());
    };
    if path.is_dir() {
        let mut out = Vec::new();
        walk_dir(path, &mut out).map_err(|e| file_error(path, format!("cannot read: {e}")))?;
        out.sort();
        Ok(out)
    } else if path.exists() {
        Ok(vec![path.clone()])
    } else {
        Err(file_error(path, "no such file or directory".to_string()))
    }
}

fn walk_dir(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk_dir(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yml" | "yaml")
        ) && !is_test_file(&path)
        {
            out.push(path);
        }
    }
    Ok(())
}

pub(crate) fn file_error(path: &Path, message: String) -> RuleError {
    RuleError {
        path: path.to_path_buf(),
        line: 1,
        rule: "-".to_string(),
        message,
    }
}

/// Reads and parses every file of every source. Problems are collected, not returned early.
pub(crate) fn load(sources: &[RuleSource], errors: &mut Vec<RuleError>) -> Vec<LoadedFile> {
    let mut files = Vec::new();
    for source in sources {
        match source {
            RuleSource::Text { name, text } => files.push(parse_file(
                PathBuf::from(name),
                text.clone(),
                files.len(),
                errors,
            )),
            RuleSource::Path(_) => match rule_files(source) {
                Ok(paths) => {
                    for path in paths {
                        match std::fs::read_to_string(&path) {
                            Ok(text) => files.push(parse_file(path, text, files.len(), errors)),
                            Err(e) => errors.push(file_error(&path, format!("cannot read: {e}"))),
                        }
                    }
                }
                Err(e) => errors.push(e),
            },
        }
    }
    files
}

/// 1-based first line of each YAML document in `text`.
fn document_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![1];
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_end();
        if (t == "---" || t.starts_with("--- ")) && i > 0 {
            starts.push(i + 2);
        }
    }
    starts
}

fn parse_file(
    path: PathBuf,
    text: String,
    index: usize,
    errors: &mut Vec<RuleError>,
) -> LoadedFile {
    let mut file = LoadedFile {
        path: path.clone(),
        text: String::new(),
        rules: Vec::new(),
        correlations: Vec::new(),
        filters: Vec::new(),
    };
    let collection = match rsigma_parser::parse_sigma_yaml(&text) {
        Ok(c) => c,
        Err(e) => {
            errors.push(file_error(&path, e.to_string()));
            file.text = text;
            return file;
        }
    };
    if !collection.errors.is_empty() {
        report_document_errors(&path, &text, &collection.errors, errors);
    }
    for rule in collection.rules {
        let line = locate_document(&text, rule.id.as_deref(), &rule.title);
        file.rules.push(Located {
            file: index,
            line,
            doc: rule,
        });
    }
    for corr in collection.correlations {
        let line = locate_document(&text, corr.id.as_deref(), &corr.title);
        file.correlations.push(Located {
            file: index,
            line,
            doc: corr,
        });
    }
    for filter in collection.filters {
        let line = locate_document(&text, filter.id.as_deref(), &filter.title);
        file.filters.push(Located {
            file: index,
            line,
            doc: filter,
        });
    }
    file.text = text;
    file
}

/// Attributes parse errors to documents: each document is parsed alone to find the ones that
/// fail (a file using `action: global/repeat` is reported at its first line).
fn report_document_errors(
    path: &Path,
    text: &str,
    messages: &[String],
    errors: &mut Vec<RuleError>,
) {
    let starts = document_starts(text);
    let lines: Vec<&str> = text.lines().collect();
    let uses_actions = lines.iter().any(|l| l.trim_start().starts_with("action:"));
    let mut attributed = false;
    if !uses_actions && starts.len() > 1 {
        for (i, &start) in starts.iter().enumerate() {
            let end = starts.get(i + 1).map(|s| s - 2).unwrap_or(lines.len());
            let doc = lines[start - 1..end.max(start - 1)].join("\n");
            if let Ok(c) = rsigma_parser::parse_sigma_yaml(&doc) {
                for message in &c.errors {
                    errors.push(RuleError {
                        path: path.to_path_buf(),
                        line: refine_line(&doc, message).map_or(start, |l| start + l - 1),
                        rule: document_rule_name(&doc),
                        message: explain_parse_error(message),
                    });
                    attributed = true;
                }
            }
        }
    }
    if !attributed {
        for message in messages {
            errors.push(RuleError {
                path: path.to_path_buf(),
                line: refine_line(text, message).unwrap_or(1),
                rule: document_rule_name(text),
                message: explain_parse_error(message),
            });
        }
    }
}

/// RSigma's parse messages, with a hint where the fix is not obvious.
fn explain_parse_error(message: &str) -> String {
    if message.starts_with("Unknown modifier") {
        format!("{message} (Sigma v2.1 modifiers: contains startswith endswith all exists cased neq windash re i m s base64 base64offset utf16le utf16be utf16 wide lt lte gt gte minute hour day week month year cidr expand fieldref)")
    } else {
        message.to_string()
    }
}

/// The line (1-based, within `text`) of the key an error message quotes, when it can be found.
fn refine_line(text: &str, message: &str) -> Option<usize> {
    let quoted = message.split('\'').nth(1)?;
    if quoted.is_empty() {
        return None;
    }
    let needle_modifier = format!("|{quoted}");
    text.lines()
        .position(|l| l.contains(&needle_modifier))
        .or_else(|| text.lines().position(|l| l.contains(quoted)))
        .map(|i| i + 1)
}

/// The `id:` (else `title:`) of a document's text, for messages about it.
fn document_rule_name(doc: &str) -> String {
    for key in ["id:", "name:", "title:"] {
        if let Some(line) = doc.lines().find(|l| l.starts_with(key)) {
            let value = line[key.len()..].trim().trim_matches(['\'', '"']);
            if !value.is_empty() {
                return value.to_string();
            }
        }
    }
    "-".to_string()
}

/// The line a document starts on, found by its `id` (unique) or `title`.
fn locate_document(text: &str, id: Option<&str>, title: &str) -> usize {
    let starts = document_starts(text);
    let found = id
        .and_then(|id| find_top_level_key(text, "id", id))
        .or_else(|| find_top_level_key(text, "title", title));
    match found {
        // Report the document's first line: that is where a reader looks for a rule.
        Some(line) => starts
            .iter()
            .rev()
            .find(|&&s| s <= line)
            .copied()
            .unwrap_or(1),
        None => 1,
    }
}

fn find_top_level_key(text: &str, key: &str, value: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.strip_prefix(key)
                .and_then(|rest| rest.strip_prefix(':'))
                .is_some_and(|rest| rest.trim().trim_matches(['\'', '"']) == value)
        })
        .map(|i| i + 1)
}

/// The line of the first occurrence of `needle` at or after `from` (1-based), else `from`.
pub(crate) fn line_of(text: &str, from: usize, needle: &str) -> usize {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, l)| l.contains(needle))
        .map_or(from, |(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_document_starts_and_rule_lines() {
        let text = "title: A\nid: a\nlogsource: {product: okta}\ndetection: {s: {x: 1}, condition: s}\n---\ntitle: B\nid: b\nlogsource: {product: okta}\ndetection: {s: {x: 1}, condition: s}\n";
        assert_eq!(document_starts(text), vec![1, 6]);
        assert_eq!(locate_document(text, Some("b"), "B"), 6);
        assert_eq!(locate_document(text, None, "A"), 1);
    }

    #[test]
    fn reports_a_bad_modifier_at_its_line() {
        let text = "title: A\nid: a\nlogsource: {product: okta}\ndetection: {s: {x: 1}, condition: s}\n---\ntitle: B\nid: b\nlogsource: {product: okta}\ndetection:\n  s:\n    x|bogus: 1\n  condition: s\n";
        let mut errors = Vec::new();
        let _ = parse_file(PathBuf::from("r.yml"), text.to_string(), 0, &mut errors);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].line, 11, "{}", errors[0]);
        assert_eq!(errors[0].rule, "b");
        assert!(errors[0].message.contains("bogus"));
    }
}
