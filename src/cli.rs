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
        None => {
            open_store(&settings).await?;
            println!("keydesk: the console is not built yet; try `keydesk --help`");
            Ok(0)
        }
    }
}
