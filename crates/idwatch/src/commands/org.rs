//! `idwatch org add|list|remove|test`: the orgs idwatch collects from. An org is stored in the
//! store (`org_sources`) as its URL and credential *references* (an env var name, a file path,
//! a client id and scopes); secrets are read only when a command needs them, never written.

use crate::config::Context;
use crate::exit::Exit;
use anyhow::Context as _;
use collect::{ClientConfig, ClientError, CredentialSpec, OktaClient, SecretRef};
use std::path::PathBuf;

/// `idwatch org ...`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Add an org: its URL and where its credentials are (never the secret itself).
    Add(AddArgs),
    /// List orgs, their URLs and credential references.
    List,
    /// Remove an org's source and collector state (its stored events stay).
    Remove {
        /// The org.
        name: String,
    },
    /// Make one cheap authenticated call (the newest System Log event of the last minute).
    Test {
        /// The org.
        name: String,
    },
}

/// `idwatch org add`.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("credential").required(true).args(["token_env", "token_file", "client_id"]))]
pub struct AddArgs {
    /// A name for the org (used by --org everywhere).
    name: String,
    /// The org's URL, e.g. https://example.okta.com.
    #[arg(long)]
    url: String,
    /// SSWS API token in this environment variable.
    #[arg(long, value_name = "VAR")]
    token_env: Option<String>,
    /// SSWS API token in this file.
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,
    /// OAuth 2.0 service app client id (private_key_jwt).
    #[arg(long, value_name = "ID", requires = "private_key_file")]
    client_id: Option<String>,
    /// PEM private key of the service app (RSA or EC P-256).
    #[arg(long, value_name = "PATH", requires = "client_id")]
    private_key_file: Option<PathBuf>,
    /// `kid` of the key registered with the app.
    #[arg(long, value_name = "KID", requires = "client_id")]
    key_id: Option<String>,
    /// Scopes to request (space or comma separated) [default: okta.logs.read].
    #[arg(long, value_name = "SCOPES", num_args = 1.., requires = "client_id")]
    scopes: Vec<String>,
    /// Request DPoP-bound access tokens.
    #[arg(long, requires = "client_id")]
    dpop: bool,
    /// Replace an existing definition (keeps the cursor and counters).
    #[arg(long)]
    replace: bool,
}

pub fn run(ctx: &Context, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Add(args) => add(ctx, args),
        Command::List => list(ctx),
        Command::Remove { name } => remove(ctx, &name),
        Command::Test { name } => test(ctx, &name),
    }
}

fn spec_of(args: &AddArgs) -> anyhow::Result<CredentialSpec> {
    if let Some(var) = &args.token_env {
        if var.is_empty() || var.contains('=') {
            return Err(Exit::bad_input(format!(
                "--token-env takes the NAME of an environment variable, got `{var}`"
            )));
        }
        return Ok(CredentialSpec::Ssws {
            token: SecretRef::Env(var.clone()),
        });
    }
    if let Some(path) = &args.token_file {
        return Ok(CredentialSpec::Ssws {
            token: SecretRef::File(absolute(path)?),
        });
    }
    let (Some(client_id), Some(key)) = (&args.client_id, &args.private_key_file) else {
        return Err(Exit::bad_input(
            "give --token-env VAR, --token-file PATH, or --client-id ID --private-key-file PATH",
        ));
    };
    let mut scopes: Vec<String> = args
        .scopes
        .iter()
        .flat_map(|s| s.split([' ', ',']))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if scopes.is_empty() {
        scopes.push(collect::LOGS_READ_SCOPE.to_string());
    }
    Ok(CredentialSpec::Oauth {
        client_id: client_id.clone(),
        private_key: SecretRef::File(absolute(key)?),
        key_id: args.key_id.clone(),
        scopes,
        dpop: args.dpop,
    })
}

fn absolute(path: &std::path::Path) -> anyhow::Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    Ok(std::env::current_dir()
        .context("reading the current directory")?
        .join(path))
}

fn add(ctx: &Context, args: AddArgs) -> anyhow::Result<()> {
    let url =
        collect::client::parse_org_url(&args.url).map_err(|e| Exit::bad_input(e.to_string()))?;
    let url = url.as_str().trim_end_matches('/').to_string();
    let spec = spec_of(&args)?;
    // Check the references now (without storing anything they point to), so a typo shows here
    // and not hours later in the collector.
    let warning = match spec.resolve() {
        Ok(collect::Credentials::OAuth(creds)) => {
            collect::oauth::load_signing_key(&creds.private_key)
                .err()
                .map(|e| e.to_string())
        }
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    };
    let mut store = ctx.open_store()?;
    store
        .put_source(&args.name, &url, spec.kind(), &spec.to_json(), args.replace)
        .map_err(|e| Exit::bad_input(e.to_string()))?;
    println!("added org {}: {url}, {spec}", args.name);
    if let Some(w) = warning {
        println!("warning: {w} (the org is saved; fix this before collecting)");
    }
    Ok(())
}

fn list(ctx: &Context) -> anyhow::Result<()> {
    let store = ctx.open_store()?;
    let sources = store.sources()?;
    if sources.is_empty() {
        println!("no orgs (add one with `idwatch org add NAME --url https://ORG.okta.com --token-env VAR`)");
        return Ok(());
    }
    let mut rows = vec![vec![
        "ORG".to_string(),
        "URL".into(),
        "EVENTS".into(),
        "CREDENTIALS".into(),
    ]];
    for s in sources {
        let creds = CredentialSpec::from_json(&s.auth)
            .map(|c| c.to_string())
            .unwrap_or_else(|e| format!("unreadable: {e}"));
        let events = store.count_events(s.org_id)?;
        rows.push(vec![s.org, s.url, events.to_string(), creds]);
    }
    print_table(&rows);
    Ok(())
}

/// Prints rows as left-aligned columns (the last column unpadded).
pub fn print_table(rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        println!("{}", line.trim_end());
    }
}

fn remove(ctx: &Context, name: &str) -> anyhow::Result<()> {
    let mut store = ctx.open_store()?;
    let events = match store.find_org(name)? {
        Some(id) => store.count_events(id)?,
        None => 0,
    };
    if !store.remove_source(name)? {
        return Err(Exit::bad_input(format!(
            "no org `{name}` (see `idwatch org list`)"
        )));
    }
    println!("removed org {name}'s source and cursor; its {events} stored events stay");
    Ok(())
}

fn test(ctx: &Context, name: &str) -> anyhow::Result<()> {
    let store = ctx.open_store()?;
    let client = collect::client_from_store(
        &store,
        name,
        ClientConfig {
            max_attempts: 3,
            ..ClientConfig::default()
        },
    )
    .map_err(|e| Exit::bad_input(e.to_string()))?;
    drop(store);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(client.test_connection());
    report_test(name, &client, result)
}

fn report_test(
    name: &str,
    client: &OktaClient,
    result: Result<Option<String>, ClientError>,
) -> anyhow::Result<()> {
    match result {
        Ok(request_id) => {
            let view = client.budget().view("/api/v1/logs");
            let mut line = format!("{name}: OK, authenticated to {}", client.base_url());
            if let Some(id) = request_id {
                line.push_str(&format!(" (request {id})"));
            }
            if let (Some(limit), Some(remaining)) = (view.limit, view.remaining) {
                line.push_str(&format!(
                    "; /api/v1/logs rate limit {limit}/min, {remaining} left in this window"
                ));
            }
            println!("{line}");
            Ok(())
        }
        Err(e) => Err(Exit::bad_input(format!("{name}: {e}"))),
    }
}
