//! The command line: clap definitions and their dispatch. Each command
//! parses its input, calls one store or desk operation, prints the outcome.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use color_eyre::eyre::{Result, WrapErr};

use crate::settings::{Settings, Sources};
use crate::store::Store;

mod desk_commands;

/// Prints to standard output like `print!`, but a reader that has gone
/// away (`keydesk audit | head -1`) ends the command quietly, as it does
/// any Unix tool, instead of a panic.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(::std::format_args!($($arg)*))
    };
}

/// `out!` with a newline.
macro_rules! outln {
    () => { out!("\n") };
    ($($arg:tt)*) => {
        out!("{}\n", ::std::format_args!($($arg)*))
    };
}

use {out, outln};

/// Writes to standard output; a closed pipe ends the process with
/// success (the reader has what it wanted), any other failure with 74
/// (`EX_IOERR`). Every command has finished its work before it prints.
pub(crate) fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("keydesk: cannot write to standard output: {err}");
        std::process::exit(74);
    }
}
pub use desk_commands::{EXIT_CODES_HELP, OperatorsCommand};

/// keydesk: the Contacts console for support agents.
#[derive(Debug, Parser)]
#[command(name = "keydesk", version, about, after_help = EXIT_CODES_HELP)]
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
    /// Import contacts from a CSV file with a header row name,email[,subscribed][,offers].
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Write the valid rows and report the invalid ones (default: write nothing if any row is invalid).
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Email a customer a fresh reset link (agents and admins).
    #[command(after_help = EXIT_CODES_HELP)]
    ResetPassword {
        /// The customer's email.
        email: String,
        /// Send even within `reset.resend_cooldown` of the previous link.
        #[arg(long)]
        force: bool,
    },
    /// Set a customer's password (admins): a generated one, or one read from stdin.
    #[command(after_help = EXIT_CODES_HELP)]
    ChangePassword {
        /// The customer's email.
        email: String,
        /// Generate a temporary password and print it once (alone on stdout).
        #[arg(
            long,
            conflicts_with = "password_stdin",
            required_unless_present = "password_stdin"
        )]
        generate: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Do not require a change at the next sign-in (the password is not temporary).
        /// Not with --generate: a generated password is always temporary.
        #[arg(long, conflicts_with = "generate")]
        no_require_change: bool,
    },
    /// Lift a lock left by failed sign-ins (admins).
    #[command(after_help = EXIT_CODES_HELP)]
    Unlock {
        /// The customer's email.
        email: String,
    },
    /// End every site session of a customer, or one with --session (admins).
    #[command(after_help = EXIT_CODES_HELP)]
    SignOut {
        /// The customer's email.
        email: String,
        /// End only this session (an id from `keydesk sessions EMAIL`).
        #[arg(long, value_name = "ID")]
        session: Option<i64>,
    },
    /// List a customer's live site sessions: id, signed in, last seen, client.
    #[command(after_help = EXIT_CODES_HELP)]
    Sessions {
        /// The customer's email.
        email: String,
    },
    /// Show the newest audit events.
    #[command(after_help = EXIT_CODES_HELP)]
    Audit {
        /// Only events about this contact.
        #[arg(long, value_name = "EMAIL")]
        contact: Option<String>,
        /// How many events, newest first.
        #[arg(long, default_value_t = 50, value_name = "N")]
        limit: u64,
        /// One JSON array instead of text lines.
        #[arg(long)]
        json: bool,
    },
    /// Manage who may use keydesk, by OS user name.
    #[command(subcommand, after_help = EXIT_CODES_HELP)]
    Operators(OperatorsCommand),
    /// Fill an empty store with realistic demo contacts (deterministic for a seed).
    Seed {
        /// How many contacts to create.
        #[arg(long, value_name = "N")]
        contacts: u64,
        /// The same seed gives the same people.
        #[arg(long, value_name = "S", default_value_t = 1)]
        seed: u64,
    },
    /// Try keydesk: a demo SQLite store with seeded contacts in the data
    /// dir, mail written as .eml files into a folder, you as admin, then the console.
    Demo {
        /// How many contacts to seed (only when the demo store is new).
        #[arg(long, value_name = "N", default_value_t = 5000)]
        contacts: u64,
    },
    /// Serve the customer site (login, Forgot Password, reset links, account) on `site.listen`.
    Serve,
    /// Run the outbox delivery worker alone, until SIGTERM or Ctrl-C.
    Worker,
    /// List outbox messages: state, attempts, last error (never the content).
    Outbox(OutboxArgs),
    /// Serve the console over SSH on `ssh.listen`: operators sign in with a
    /// key added by `operators add-key`; only pty sessions are served.
    SshServe,
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
    // The console owns the terminal: its log lines go to a file.
    let destination = match cli.command {
        None | Some(Command::Demo { .. }) => crate::logging::Destination::File,
        Some(_) => crate::logging::Destination::Stderr,
    };
    crate::logging::init(&settings.log, &settings.data_dir, destination)?;
    match cli.command {
        Some(Command::Config) => {
            out!("{}", settings.to_redacted_toml()?);
            Ok(0)
        }
        Some(Command::Migrate) => {
            let store = open_store(&settings).await?;
            outln!(
                "migrations applied to {}",
                crate::settings::redact_url(&settings.database.url)
            );
            desk_commands::first_admin(store, settings).await
        }
        Some(Command::Import { file, skip_invalid }) => {
            import_file(&settings, &file, skip_invalid).await
        }
        Some(
            command @ (Command::ResetPassword { .. }
            | Command::ChangePassword { .. }
            | Command::Unlock { .. }
            | Command::SignOut { .. }
            | Command::Sessions { .. }
            | Command::Audit { .. }
            | Command::Operators(_)),
        ) => {
            let store = match desk_commands::open(&settings).await {
                Ok(store) => store,
                Err(code) => return Ok(code),
            };
            desk_commands::run(store, settings, command).await
        }
        Some(Command::Serve) => serve_site(settings).await,
        Some(Command::SshServe) => serve_ssh(settings).await,
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
                        outln!("outbox message {id} queued again (last error was: {error})");
                        Ok(0)
                    }
                    Err(err) => {
                        eprintln!("keydesk: {err}");
                        Ok(1)
                    }
                }
            } else {
                let rows = crate::mail::queue::list(store.conn(), args.failed, args.limit).await?;
                out!("{}", crate::mail::admin::format_table(&rows, now));
                Ok(0)
            }
        }
        Some(Command::Seed { contacts, seed }) => run_seed(&settings, contacts, seed).await,
        Some(Command::Demo { contacts }) => run_demo(settings, contacts).await,
        None => run_console(settings).await,
    }
}

/// The OS account running this process (real uid), for audit rows.
#[must_use]
pub fn os_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map_or_else(|| format!("uid:{}", nix::unistd::getuid()), |u| u.name)
}

/// A progress bar on stderr, hidden when stderr is not a terminal.
#[must_use]
pub fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} ({per_sec}, {eta})")
    {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar
}

async fn import_file(
    settings: &Settings,
    file: &std::path::Path,
    skip_invalid: bool,
) -> Result<i32> {
    use crate::import::{ImportError, import};
    let store = open_store(settings).await?;
    let input =
        std::fs::File::open(file).wrap_err_with(|| format!("opening {}", file.display()))?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    // Rows are unknown until read; a rough 60 bytes a row is enough for a bar.
    let bar = progress_bar(size / 60 + 1, "importing");
    let clock = crate::clock::Clock::system();
    let outcome = import(
        &store,
        std::io::BufReader::new(input),
        skip_invalid,
        &os_user(),
        clock.now(),
        &|n| bar.set_position(n),
    )
    .await;
    bar.finish_and_clear();
    match outcome {
        Ok(report) => {
            for error in &report.errors {
                eprintln!("skipped {error}");
            }
            outln!(
                "imported {} contact(s); skipped {}",
                report.written,
                report.errors.len()
            );
            Ok(0)
        }
        Err(ImportError::Invalid(errors)) => {
            for error in &errors {
                eprintln!("{error}");
            }
            eprintln!(
                "{} invalid row(s); nothing was written (use --skip-invalid to import the valid rows)",
                errors.len()
            );
            Ok(65)
        }
        Err(ImportError::Format(message)) => {
            eprintln!("{}: {message}", file.display());
            Ok(65)
        }
        Err(ImportError::Store(err)) => Err(err.into()),
    }
}

/// Refuses to start the console without a terminal.
fn require_terminal() -> Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        color_eyre::eyre::bail!(
            "the console needs a terminal; for scripts use the subcommands (`keydesk --help`)"
        );
    }
    Ok(())
}

/// `keydesk`: opens the console on this terminal.
async fn run_console(settings: Settings) -> Result<i32> {
    require_terminal()?;
    let store = open_store(&settings).await?;
    console_on(store, settings, false).await
}

/// The console over an open store, with the mail worker in-process and,
/// for the demo, the customer site on `site.listen` so every mailed link
/// can be followed.
async fn console_on(store: Store, settings: Settings, with_site: bool) -> Result<i32> {
    let listen = settings.site.listen.clone();
    let desk = crate::desk::Desk::new(store, settings, crate::clock::Clock::system())
        .wrap_err("starting desk")?;
    let (worker, label) = crate::tui::spawn_worker(&desk).wrap_err("starting the mail worker")?;
    let (stop_site, site_stopped) = tokio::sync::oneshot::channel::<()>();
    let mut site = None;
    if with_site {
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .wrap_err_with(|| {
                format!("binding site.listen {listen} for the demo's customer site")
            })?;
        let address = format!("http://{}", listener.local_addr()?);
        let served = desk.clone();
        site = Some((
            address,
            tokio::spawn(async move {
                crate::site::serve(served, listener, async {
                    let _ = site_stopped.await;
                })
                .await
            }),
        ));
    }
    let site_address = site.as_ref().map(|(address, _)| address.clone());
    let result = crate::tui::run_local(desk, Some(label), site_address).await;
    let _ = stop_site.send(());
    if let Some((_, task)) = site {
        match task.await {
            Ok(Err(err)) => tracing::warn!(error = %err, "customer site stopped with an error"),
            Err(err) => tracing::warn!(error = %err, "customer site task failed"),
            Ok(Ok(())) => {}
        }
    }
    worker.stop().await;
    result.wrap_err("console")?;
    Ok(0)
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
    outln!(
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
    outln!(
        "customers with a password sign in with: {}",
        crate::seed::DEMO_PASSWORD
    );
    Ok(0)
}

/// `keydesk demo`: a demo store in `<data dir>/demo` (created and seeded
/// once, reused after), mail to `<data dir>/demo/mail`, the current OS user
/// as its first admin, then the console.
async fn run_demo(mut settings: Settings, contacts: u64) -> Result<i32> {
    use sea_orm::{EntityTrait, PaginatorTrait};
    require_terminal()?;
    let dir = settings.data_dir.join("demo");
    crate::files::private_dir_all(&dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    let db = dir.join("keydesk.db");
    let mail = dir.join("mail");
    settings.database.url = format!("sqlite://{}?mode=rwc", db.display());
    settings.mail.transport = crate::settings::MailTransport::File;
    settings.mail.file.dir = mail.display().to_string();
    let store = open_store(&settings).await?;
    let existing = crate::store::entity::contact::Entity::find()
        .count(store.conn())
        .await
        .wrap_err("counting demo contacts")?;
    if existing == 0 {
        eprintln!(
            "keydesk demo: seeding {contacts} contacts into {} …",
            db.display()
        );
        let bar = progress_bar(contacts, "seeding");
        let mut opts = crate::seed::SeedOptions::new(contacts, 1);
        opts.argon2 = settings.password.argon2;
        let report = crate::seed::seed(&store, &opts, |done| bar.set_position(done)).await;
        bar.finish_and_clear();
        report.wrap_err("seeding the demo store")?;
    }
    let desk = crate::desk::Desk::new(
        store.clone(),
        settings.clone(),
        crate::clock::Clock::system(),
    )
    .wrap_err("starting desk")?;
    let identity = crate::desk::Identity::from_os().wrap_err("who is running keydesk")?;
    if let Some(message) = desk.ensure_first_admin(&identity).await? {
        eprintln!("keydesk demo: {message}");
    }
    let site = settings.site.base_url.clone();
    let code = console_on(store, settings, true).await?;
    outln!("keydesk demo: the store is {}", db.display());
    outln!(
        "keydesk demo: emails are written to {} (one .eml file each)",
        mail.display()
    );
    outln!(
        "keydesk demo: seeded customers with a password sign in with {}",
        crate::seed::DEMO_PASSWORD
    );
    outln!("keydesk demo: the customer site was at {site}");
    Ok(code)
}

/// `keydesk serve`: the customer site on `site.listen` and the outbox
/// worker, in one process, until SIGTERM or Ctrl-C; then the requests in
/// flight finish and the worker stops after its current message.
async fn serve_site(settings: Settings) -> Result<i32> {
    let store = open_store(&settings).await?;
    let listen = settings.site.listen.clone();
    let base_url = settings.site.base_url.clone();
    let clock = crate::clock::Clock::system();
    let desk = crate::desk::Desk::new(store.clone(), settings.clone(), clock.clone())?;
    // The desk wakes this worker after every commit that queues mail.
    let worker = crate::mail::worker::Worker::new(store, &settings, clock, desk.outbox_wake())?;
    let transport = worker.transport_label().to_owned();
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .wrap_err_with(|| format!("binding site.listen {listen}"))?;
    let worker = worker.spawn();
    let stop = shutdown_signal();
    eprintln!(
        "keydesk: customer site on http://{} (links use {base_url}); mail via {transport}",
        listener.local_addr()?
    );
    let served = crate::site::serve(desk, listener, stop).await;
    worker.stop().await;
    served?;
    Ok(0)
}

/// `keydesk ssh-serve`: the console over SSH until SIGTERM or Ctrl-C.
async fn serve_ssh(settings: Settings) -> Result<i32> {
    let store = open_store(&settings).await?;
    let desk = crate::desk::Desk::new(store, settings, crate::clock::Clock::system())?;
    crate::ssh::serve(desk, shutdown_signal()).await?;
    Ok(0)
}

/// Completes on SIGTERM or Ctrl-C (SIGINT). The handlers are installed
/// when this is called, not when it is first awaited: a signal that comes
/// right after a server says it is ready must stop it cleanly, not kill it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        let (Ok(mut term), Ok(mut int)) = (term, int) else {
            return std::future::pending::<()>().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
}
