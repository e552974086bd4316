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
    /// Fill an empty store with realistic demo contacts (deterministic for a seed).
    Seed {
        /// How many contacts to create.
        #[arg(long, value_name = "N")]
        contacts: u64,
        /// The same seed gives the same people.
        #[arg(long, value_name = "S", default_value_t = 1)]
        seed: u64,
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
        Some(Command::Seed { contacts, seed }) => run_seed(&settings, contacts, seed).await,
        None => {
            open_store(&settings).await?;
            println!("keydesk: the console is not built yet; try `keydesk --help`");
            Ok(0)
        }
    }
}

/// `keydesk seed`: fills an empty store, with a progress bar on a terminal.
async fn run_seed(settings: &Settings, contacts: u64, seed: u64) -> Result<i32> {
    use std::io::IsTerminal;

    let store = open_store(settings).await?;
    if settings.mail.transport != crate::settings::MailTransport::File {
        eprintln!(
            "warning: seeded addresses look real (gmail.com, ...) and mail.transport is not `file`; \
             a reset link sent to one may reach a real person"
        );
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(contacts),
        if std::io::stderr().is_terminal() {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} seeding {bar:40} {human_pos}/{human_len} contacts ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut opts = crate::seed::SeedOptions::new(contacts, seed);
    opts.argon2 = settings.password.argon2;
    let report = crate::seed::seed(&store, &opts, |done| bar.set_position(done)).await;
    bar.finish_and_clear();
    let report = report?;
    println!(
        "seeded {} contacts in {:.1}s: {} customers ({} grants, {} accounts: {} without a password, {} locked, {} must change it), {} subscribers, {} offers",
        report.contacts,
        report.elapsed.as_secs_f64(),
        report.customers,
        report.grants,
        report.accounts,
        report.without_password,
        report.locked,
        report.must_change,
        report.subscribers,
        report.offers,
    );
    println!(
        "customers with a password sign in with: {}",
        crate::seed::DEMO_PASSWORD
    );
    Ok(0)
}
