//! Printing events and tables: `table` (aligned columns for people), `json` (an array of the raw
//! events, or of objects of the chosen fields), `ndjson` (one per line), `csv` (RFC 4180).
//! Raw events are printed exactly as stored.

use serde_json::Value;
use std::io::{self, Write};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// A JSON array.
    Json,
    /// One JSON value per line.
    Ndjson,
    /// Comma-separated values with a header.
    Csv,
}

/// The value of a dotted field as display text: strings plain, arrays fanned out and joined with
/// `;` (`target.displayName`), other values as JSON; absent is empty.
pub fn field_text(doc: &Value, path: &str) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    let mut values = Vec::new();
    okta::event::visit_path(doc, &parts, okta::event::KeyMatch::Exact, &mut |v| {
        if !v.is_array() {
            values.push(okta::event::value_text(v));
        }
        false
    });
    values.join(";")
}

/// Writes rows of text cells in a format. `header` names the columns.
pub struct TableWriter<W: Write> {
    out: W,
    format: Format,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    written: usize,
}

impl<W: Write> TableWriter<W> {
    /// Starts a table.
    pub fn new(out: W, format: Format, header: Vec<String>) -> io::Result<TableWriter<W>> {
        let mut w = TableWriter {
            out,
            format,
            header,
            rows: Vec::new(),
            written: 0,
        };
        match format {
            Format::Csv => {
                let line = csv_line(&w.header);
                writeln!(w.out, "{line}")?;
            }
            Format::Json => write!(w.out, "[")?,
            _ => {}
        }
        Ok(w)
    }

    /// Adds a row (tables are buffered to align columns; the rest stream).
    pub fn row(&mut self, cells: Vec<String>) -> io::Result<()> {
        match self.format {
            Format::Table => self.rows.push(cells),
            Format::Csv => writeln!(self.out, "{}", csv_line(&cells))?,
            Format::Json | Format::Ndjson => {
                let mut obj = serde_json::Map::new();
                for (k, v) in self.header.iter().zip(cells) {
                    obj.insert(k.clone(), Value::String(v));
                }
                let text = Value::Object(obj).to_string();
                self.raw_json(&text)?;
            }
        }
        Ok(())
    }

    /// Adds a row that is already JSON (json/ndjson only).
    pub fn raw_json(&mut self, json: &str) -> io::Result<()> {
        match self.format {
            Format::Json => {
                let sep = if self.written == 0 { "\n" } else { ",\n" };
                write!(self.out, "{sep}{json}")?;
            }
            _ => writeln!(self.out, "{json}")?,
        }
        self.written += 1;
        Ok(())
    }

    /// Flushes; a table is printed here.
    pub fn finish(mut self) -> io::Result<()> {
        match self.format {
            Format::Table => {
                let mut widths: Vec<usize> =
                    self.header.iter().map(|h| h.chars().count()).collect();
                for row in &self.rows {
                    for (i, cell) in row.iter().enumerate() {
                        if let Some(w) = widths.get_mut(i) {
                            *w = (*w).max(cell.chars().count().min(60));
                        }
                    }
                }
                let print = |out: &mut W, cells: &[String]| -> io::Result<()> {
                    let mut line = String::new();
                    for (i, cell) in cells.iter().enumerate() {
                        let width = widths.get(i).copied().unwrap_or(0);
                        let shown: String = if cell.chars().count() > 60 {
                            cell.chars().take(59).chain(['…']).collect()
                        } else {
                            cell.clone()
                        };
                        if i + 1 == cells.len() {
                            line.push_str(&shown);
                        } else {
                            line.push_str(&format!("{shown:<width$}  "));
                        }
                    }
                    writeln!(out, "{}", line.trim_end())
                };
                let header = self.header.clone();
                print(&mut self.out, &header)?;
                for row in std::mem::take(&mut self.rows) {
                    print(&mut self.out, &row)?;
                }
            }
            Format::Json => {
                if self.written == 0 {
                    writeln!(self.out, "]")?;
                } else {
                    writeln!(self.out, "\n]")?;
                }
            }
            _ => {}
        }
        self.out.flush()
    }
}

fn csv_line(cells: &[String]) -> String {
    cells
        .iter()
        .map(|c| {
            if c.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(
            csv_line(&["a".into(), "b,c".into(), "say \"hi\"".into()]),
            "a,\"b,c\",\"say \"\"hi\"\"\""
        );
    }

    #[test]
    fn field_text_fans_out_over_targets() {
        let doc: Value =
            serde_json::from_str(r#"{"target":[{"id":"a"},{"id":"b"}],"n":3}"#).unwrap();
        assert_eq!(field_text(&doc, "target.id"), "a;b");
        assert_eq!(field_text(&doc, "n"), "3");
        assert_eq!(field_text(&doc, "missing"), "");
    }
}
