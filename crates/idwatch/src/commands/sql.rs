//! `idwatch sql "SELECT …"`: SQL over both tiers through DataFusion and the `events` table (see
//! the `sql` crate for its columns), with `json_extract(raw, '$.actor.alternateId')` on the raw
//! column; output as a table, CSV or JSON.

use crate::config::Context;
use crate::exit::Exit;
use sql::SqlValue as Value;
use std::io::Write;

/// Arguments of `idwatch sql`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The statement, e.g. "SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC".
    statement: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SqlFormat::Table)]
    format: SqlFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SqlFormat {
    Table,
    Csv,
    Json,
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => f.to_string(),
        Value::Text(s) => s.clone(),
    }
}

fn json(v: Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Integer(i) => i.into(),
        Value::Real(f) => serde_json::Number::from_f64(f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::Text(s) => s.into(),
    }
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    if !ctx.store_path().exists() {
        return Err(Exit::bad_input(format!(
            "no store at {} (import or collect something first)",
            ctx.store_path().display()
        )));
    }
    let source = sql::SqlSource {
        store_path: ctx.store_path(),
        archive_root: super::seal::archive_root(ctx),
    };
    let mut names: Vec<String> = Vec::new();
    let mut table: Vec<Vec<String>> = Vec::new();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut io_error: Option<std::io::Error> = None;
    let format = args.format;
    let mut first = true;
    let result = sql::run(&source, &args.statement, &mut |output| match output {
        sql::SqlOutput::Header(header) => {
            names = header.to_vec();
            if format == SqlFormat::Csv {
                if let Err(e) = writeln!(
                    out,
                    "{}",
                    header.iter().map(|h| csv(h)).collect::<Vec<_>>().join(",")
                ) {
                    io_error = Some(e);
                }
            }
            if format == SqlFormat::Json {
                if let Err(e) = write!(out, "[") {
                    io_error = Some(e);
                }
            }
            Ok(())
        }
        sql::SqlOutput::Row(row) => {
            let written = match format {
                SqlFormat::Table => {
                    table.push(row.iter().map(text).collect());
                    Ok(())
                }
                SqlFormat::Csv => writeln!(
                    out,
                    "{}",
                    row.iter()
                        .map(|v| csv(&text(v)))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                SqlFormat::Json => {
                    let object: serde_json::Map<String, serde_json::Value> = names
                        .iter()
                        .cloned()
                        .zip(row.into_iter().map(json))
                        .collect();
                    let sep = if first { "\n  " } else { ",\n  " };
                    first = false;
                    write!(out, "{sep}{}", serde_json::Value::Object(object))
                }
            };
            if let Err(e) = written {
                io_error = Some(e);
            }
            Ok(())
        }
    });
    let rows = match result {
        Ok(n) => n,
        Err(sql::SqlError::Sql(message)) => return Err(Exit::bad_input(format!("sql: {message}"))),
        Err(e) => return Err(e.into()),
    };
    if let Some(e) = io_error {
        return Err(e.into());
    }
    match format {
        SqlFormat::Table => {
            let widths: Vec<usize> = (0..names.len())
                .map(|i| {
                    table
                        .iter()
                        .map(|r| r[i].chars().count().min(60))
                        .chain([names[i].chars().count()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = |cells: &[String]| -> String {
                cells
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| {
                        let c: String = c.chars().take(60).collect();
                        format!("{c:<w$}")
                    })
                    .collect::<Vec<_>>()
                    .join("  ")
                    .trim_end()
                    .to_string()
            };
            writeln!(out, "{}", line(&names))?;
            for r in &table {
                writeln!(out, "{}", line(r))?;
            }
            eprintln!("{rows} rows");
        }
        SqlFormat::Json => writeln!(out, "{}]", if rows > 0 { "\n" } else { "" })?,
        SqlFormat::Csv => {}
    }
    Ok(())
}

fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
