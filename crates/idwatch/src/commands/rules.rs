//! `idwatch rules validate|list|test`: check Sigma rules (every problem as
//! `FILE:LINE: rule-id: message`, exit 2), list what a rule set holds, and run rule test files
//! (exit 1 when a test fails). Rule paths default to `[sigma] rules` in idwatch.toml.

use crate::config::Context;
use crate::exit::Exit;
use crate::output::{Format, TableWriter};
use sigma::{CompileOptions, RuleSet, RuleSource};
use std::path::PathBuf;

/// `idwatch rules ...`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check rules: print every problem as FILE:LINE: rule-id: message (exit 2 if any).
    Validate {
        /// Rule files or directories [default: `[sigma] rules` from idwatch.toml].
        paths: Vec<PathBuf>,
    },
    /// List the rules a path holds.
    List {
        /// Rule files or directories [default: `[sigma] rules` from idwatch.toml].
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Run rule test files (`*.tests.yml`, or `tests:` inside a rule); exit 1 if one fails.
    Test {
        /// Test files, rule files (their NAME.tests.yml is picked up) or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

pub fn run(ctx: &Context, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Validate { paths } => validate(ctx, paths),
        Command::List { paths, format } => list(ctx, paths, format),
        Command::Test { paths } => test(ctx, paths),
    }
}

/// The rule sources of a command: its paths, else the configured ones.
pub fn sources(ctx: &Context, paths: Vec<PathBuf>) -> anyhow::Result<Vec<RuleSource>> {
    let paths = if paths.is_empty() {
        ctx.config.sigma.rules.clone()
    } else {
        paths
    };
    if paths.is_empty() {
        return Err(Exit::bad_input(
            "no rules given: pass rule paths or set `rules = [\"DIR\"]` under [sigma] in idwatch.toml",
        ));
    }
    Ok(paths.into_iter().map(RuleSource::Path).collect())
}

/// Compile options from the configuration.
pub fn options(ctx: &Context) -> CompileOptions {
    CompileOptions {
        placeholders: ctx.config.sigma.placeholders.clone(),
        ..CompileOptions::default()
    }
}

/// Compiles, printing every problem; a failure is exit code 2.
pub fn compile(ctx: &Context, sources: &[RuleSource]) -> anyhow::Result<RuleSet> {
    RuleSet::compile(sources, &options(ctx)).map_err(|e| {
        for err in &e.errors {
            eprintln!("{err}");
        }
        Exit::bad_input(format!("{} problem(s) in the rules", e.errors.len()))
    })
}

fn validate(ctx: &Context, paths: Vec<PathBuf>) -> anyhow::Result<()> {
    let sources = sources(ctx, paths)?;
    let set = compile(ctx, &sources)?;
    println!(
        "{} rules OK: {} detection, {} correlation ({} routed by eventType)",
        set.rules().len(),
        set.detection_count(),
        set.correlation_count(),
        set.detection_count() - set.unrouted_count()
    );
    Ok(())
}

fn list(ctx: &Context, paths: Vec<PathBuf>, format: Format) -> anyhow::Result<()> {
    let sources = sources(ctx, paths)?;
    let set = compile(ctx, &sources)?;
    let header = [
        "id",
        "level",
        "kind",
        "status",
        "title",
        "event_types",
        "file",
    ];
    let stdout = std::io::stdout();
    let mut table = TableWriter::new(
        stdout.lock(),
        format,
        header.iter().map(|s| s.to_string()).collect(),
    )?;
    for r in set.rules() {
        table.row(vec![
            r.key().to_string(),
            r.level.to_string(),
            r.kind.as_str().to_string(),
            r.status.clone().unwrap_or_default(),
            r.title.clone(),
            r.event_types
                .as_ref()
                .map(|t| t.join(","))
                .unwrap_or_else(|| "*".to_string()),
            format!("{}:{}", r.path.display(), r.line),
        ])?;
    }
    table.finish()?;
    Ok(())
}

fn test(ctx: &Context, paths: Vec<PathBuf>) -> anyhow::Result<()> {
    let files = sigma::testfile::discover(&paths).map_err(|e| Exit::bad_input(e.to_string()))?;
    if files.is_empty() {
        return Err(Exit::bad_input(
            "no rule tests found (NAME.tests.yml files, or `tests:` in a rule)",
        ));
    }
    let options = options(ctx);
    let (mut passed, mut failed) = (0, 0);
    for file in &files {
        let outcomes = sigma::testfile::run_test_file(file, &options)
            .map_err(|e| Exit::bad_input(e.to_string()))?;
        for o in outcomes {
            if o.passed() {
                passed += 1;
                println!("PASS {}: {}", o.path.display(), o.name);
            } else {
                failed += 1;
                println!("FAIL {}: {}", o.path.display(), o.name);
                for f in &o.failures {
                    println!("     {f}");
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        return Err(Exit::findings(""));
    }
    Ok(())
}
