//! The command line: clap definitions and their dispatch. Each command
//! parses its input, calls one store or desk operation, prints the outcome.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use color_eyre::eyre::{Result, WrapErr};

use crate::settings::{Settings, Sources};
use crate::store::Store;

/// keydesk: the Contacts console for support agents.
#[derive(Debug, Parser)]
#[command(name = "keydesk", version, about)]
pub struct Cli {
    /// A settings file layered over the defaults and system files.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending database migrations.
    Migrate,
    /// Print the effective settings, secrets redacted.
    Config,
    /// Run the outbox delivery worker alone, until SIGTERM or Ctrl-C.
    Worker,
    /// List outbox messages: state, attempts, last error (never the content).
    Outbox(OutboxArgs),
}

/// `keydesk outbox [--failed] [--limit N] | outbox retry ID`
#[derive(Debug, clap::Args)]
pub struct OutboxArgs {
    /// Only messages that failed for good.
    #[arg(long)]
    pub failed: bool,
    /// Show at most this many, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: u64,
    /// What to do instead of listing.
    #[command(subcommand)]
    pub action: Option<OutboxAction>,
}

/// Outbox actions.
#[derive(Debug, Subcommand)]
pub enum OutboxAction {
    /// Queue a failed message again.
    Retry {
        /// The message id, as `keydesk outbox` shows it.
        id: i64,
    },
}

/// Loads settings for this invocation.
///
/// # Errors
/// A bad settings value, naming the key.
pub fn load_settings(cli: &Cli) -> Result<Settings> {
    Ok(Settings::load(&Sources {
        file: cli.config.clone(),
        ..Sources::default()
    })?)
}

/// Connects and applies pending migrations.
///
/// # Errors
/// When the store is unavailable or a migration fails.
pub async fn open_store(settings: &Settings) -> Result<Store> {
    let store = Store::connect(&settings.database).await.wrap_err_with(|| {
        format!(
            "opening {}",
            crate::settings::redact_url(&settings.database.url)
        )
    })?;
    store.migrate().await.wrap_err("applying migrations")?;
    Ok(store)
}

/// Runs one command; returns the process exit code.
///
/// # Errors
/// Any failure not mapped to an exit code of its own.
pub async fn run(cli: Cli) -> Result<i32> {
    let settings = load_settings(&cli)?;
    match cli.command {
        Some(Command::Config) => {
            print!("{}", settings.to_redacted_toml()?);
            Ok(0)
        }
        Some(Command::Migrate) => {
            open_store(&settings).await?;
            println!(
                "migrations applied to {}",
                crate::settings::redact_url(&settings.database.url)
            );
            Ok(0)
        }
        Some(Command::Worker) => {
            let store = open_store(&settings).await?;
            crate::mail::admin::run_worker(store, &settings).await?;
            Ok(0)
        }
        Some(Command::Outbox(args)) => {
            let store = open_store(&settings).await?;
            let now = crate::clock::Clock::system().now();
            if let Some(OutboxAction::Retry { id }) = args.action {
                let before = crate::mail::queue::get(store.conn(), id).await?;
                match crate::mail::queue::retry(&store, id, now).await {
                    Ok(()) => {
                        let error = before.map(|r| r.last_error).unwrap_or_default();
                        println!("outbox message {id} queued again (last error was: {error})");
                        Ok(0)
                    }
                    Err(err) => {
                        eprintln!("keydesk: {err}");
                        Ok(1)
                    }
                }
            } else {
                let rows = crate::mail::queue::list(store.conn(), args.failed, args.limit).await?;
                print!("{}", crate::mail::admin::format_table(&rows, now));
                Ok(0)
            }
        }
        None => {
            open_store(&settings).await?;
            println!("keydesk: the console is not built yet; try `keydesk --help`");
            Ok(0)
        }
    }
}
