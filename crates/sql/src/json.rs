//! `json_extract(json, '$.path')`: the value at a JSONPath-style path (`$`, `.key`, `[index]`,
//! `."quoted key"`), as SQLite spells it. Strings come back unquoted, numbers and booleans as
//! their JSON text, objects and arrays as JSON; a missing path, JSON null or invalid JSON is
//! NULL.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{create_udf, ColumnarValue, ScalarUDF, Volatility};
use std::sync::Arc;

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// Parses `$.a.b[0]."c d"`.
pub(crate) fn parse_path(path: &str) -> Result<Vec<Step>, String> {
    let rest = path
        .strip_prefix('$')
        .ok_or_else(|| format!("json path `{path}` must start with `$`"))?;
    let mut steps = Vec::new();
    let mut chars = rest.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '.' => {
                if chars.peek().map(|(_, c)| *c) == Some('"') {
                    chars.next();
                    let mut key = String::new();
                    let mut closed = false;
                    for (_, c) in chars.by_ref() {
                        if c == '"' {
                            closed = true;
                            break;
                        }
                        key.push(c);
                    }
                    if !closed {
                        return Err(format!("json path `{path}`: unclosed quote"));
                    }
                    steps.push(Step::Key(key));
                } else {
                    let mut key = String::new();
                    while let Some((_, c)) = chars.peek() {
                        if *c == '.' || *c == '[' {
                            break;
                        }
                        key.push(*c);
                        chars.next();
                    }
                    if key.is_empty() {
                        return Err(format!("json path `{path}`: empty key at {}", at + 1));
                    }
                    steps.push(Step::Key(key));
                }
            }
            '[' => {
                let mut digits = String::new();
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    if c == ']' {
                        closed = true;
                        break;
                    }
                    digits.push(c);
                }
                let index = digits
                    .parse()
                    .ok()
                    .filter(|_| closed)
                    .ok_or_else(|| format!("json path `{path}`: bad index at {}", at + 1))?;
                steps.push(Step::Index(index));
            }
            other => {
                return Err(format!(
                    "json path `{path}`: unexpected `{other}` at {}",
                    at + 1
                ))
            }
        }
    }
    Ok(steps)
}

/// The value at `steps` in `json`, rendered as `json_extract` returns it.
pub(crate) fn extract(json: &str, steps: &[Step]) -> Option<String> {
    let doc: serde_json::Value = serde_json::from_str(json).ok()?;
    let mut node = &doc;
    for step in steps {
        node = match step {
            Step::Key(k) => node.as_object()?.get(k)?,
            Step::Index(i) => node.as_array()?.get(*i)?,
        };
    }
    match node {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn as_strings(value: &ColumnarValue, rows: usize) -> Result<ArrayRef, DataFusionError> {
    let array = value.to_array(rows)?;
    Ok(cast(&array, &DataType::Utf8)?)
}

/// The `json_extract` UDF.
pub(crate) fn json_extract() -> ScalarUDF {
    create_udf(
        "json_extract",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let rows = args
                .iter()
                .find_map(|a| match a {
                    ColumnarValue::Array(a) => Some(a.len()),
                    ColumnarValue::Scalar(_) => None,
                })
                .unwrap_or(1);
            let [json_arg, path_arg] = args else {
                return Err(DataFusionError::Plan(
                    "json_extract(json, path) takes two arguments".into(),
                ));
            };
            let json = as_strings(json_arg, rows)?;
            let paths = as_strings(path_arg, rows)?;
            let (json, paths) = (json.as_string::<i32>(), paths.as_string::<i32>());
            let mut out = StringBuilder::with_capacity(rows, rows * 16);
            // The path is almost always a constant: parse it once.
            let mut parsed: Option<(String, Vec<Step>)> = None;
            for i in 0..rows {
                if json.is_null(i) || paths.is_null(i) {
                    out.append_null();
                    continue;
                }
                let path = paths.value(i);
                if parsed.as_ref().is_none_or(|(p, _)| p != path) {
                    let steps = parse_path(path).map_err(DataFusionError::Execution)?;
                    parsed = Some((path.to_string(), steps));
                }
                let steps = parsed.as_ref().map(|(_, s)| s.as_slice()).unwrap_or(&[]);
                out.append_option(extract(json.value(i), steps));
            }
            let array: ArrayRef = Arc::new(out.finish());
            Ok(match (json_arg, path_arg) {
                (ColumnarValue::Scalar(_), ColumnarValue::Scalar(_)) => ColumnarValue::Scalar(
                    datafusion::scalar::ScalarValue::try_from_array(&array, 0)?,
                ),
                _ => ColumnarValue::Array(array),
            })
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn paths_parse_and_extract() {
        let doc =
            r#"{"actor":{"alternateId":"a@b.c","n":3},"targets":[{"id":"x"}],"a b":{"c":true}}"#;
        let get = |p: &str| extract(doc, &parse_path(p).expect("path"));
        assert_eq!(get("$.actor.alternateId").as_deref(), Some("a@b.c"));
        assert_eq!(get("$.actor.n").as_deref(), Some("3"));
        assert_eq!(get("$.targets[0].id").as_deref(), Some("x"));
        assert_eq!(get("$.\"a b\".c").as_deref(), Some("true"));
        assert_eq!(get("$.targets[1]"), None);
        assert_eq!(get("$.missing"), None);
        assert_eq!(
            get("$.actor").as_deref(),
            Some(r#"{"alternateId":"a@b.c","n":3}"#)
        );
        assert!(parse_path("actor").is_err());
        assert!(parse_path("$.a[x]").is_err());
        assert!(parse_path("$..a").is_err());
        assert!(parse_path("$.\"open").is_err());
    }

    proptest! {
        #[test]
        fn any_path_text_parses_or_errs_without_panicking(path in "\\PC{0,24}") {
            let _ = parse_path(&path);
        }

        #[test]
        fn a_key_path_finds_the_string_it_names(
            keys in proptest::collection::vec("[a-zA-Z_][a-zA-Z0-9_]{0,8}", 1..5),
            value in "\\PC{0,16}",
        ) {
            let mut doc = serde_json::Value::String(value.clone());
            for k in keys.iter().rev() {
                doc = serde_json::json!({ k.as_str(): doc });
            }
            let path = format!("${}", keys.iter().map(|k| format!(".{k}")).collect::<String>());
            let steps = parse_path(&path).expect("path");
            prop_assert_eq!(extract(&doc.to_string(), &steps), Some(value));
        }
    }
}
