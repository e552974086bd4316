//! The command line's dispatch (the clap definitions are in `cli/args.rs`).
//! Each command parses its input, calls one store or desk operation,
//! prints the outcome. A command that fails prints one line on stderr
//! and exits with a code a script or a systemd unit can act on.

use color_eyre::eyre::{Result, WrapErr};

use crate::settings::{Settings, Sources};
use crate::store::Store;

mod args;
mod contacts;
mod desk_commands;
mod offers_notes;
mod ops_commands;
mod runbook;
mod services;

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
        crate::logging::say(
            crate::logging::Severity::Error,
            &format!("keydesk: cannot write to standard output: {err}"),
        );
        std::process::exit(74);
    }
}
pub use args::{
    Cli, Command, CompletionShell, ContactsCommand, EXIT_CODES_HELP, KindArg, NotesCommand,
    OffersCommand, OperatorsCommand, OutboxAction, OutboxArgs,
};

/// `EX_CONFIG` from sysexits.h: a bad setting. A unit's
/// `RestartPreventExitStatus=78` stops restarting on it.
pub const EX_CONFIG: i32 = 78;
/// The store has pending migrations and `database.auto_migrate` is false.
pub const EXIT_PENDING_MIGRATIONS: i32 = 12;
/// The store's schema is newer than this keydesk.
pub const EXIT_SCHEMA_NEWER: i32 = 13;

/// A failure with its own exit code; `main` prints it as one line.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// The process exit code.
    pub code: i32,
    /// What went wrong, for the person reading stderr.
    pub message: String,
}

impl Failure {
    fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// The exit code for a failure that reached `main`: its own for a
/// [`Failure`], 78 (`EX_CONFIG`) for a bad setting, else 1.
#[must_use]
pub fn exit_code(report: &color_eyre::eyre::Report) -> i32 {
    for cause in report.chain() {
        if let Some(failure) = cause.downcast_ref::<Failure>() {
            return failure.code;
        }
        if cause
            .downcast_ref::<crate::settings::SettingsError>()
            .is_some()
            || matches!(
                cause.downcast_ref::<crate::logging::LoggingError>(),
                Some(crate::logging::LoggingError::Filter(..))
            )
        {
            return EX_CONFIG;
        }
    }
    crate::desk::error::exit::FAILURE
}

/// Prints a failure that ended the command, as one line on stderr
/// (`keydesk: what: why`, or a JSON object with `log.format = "json"`),
/// and returns the exit code.
#[must_use]
pub fn report_fatal(report: &color_eyre::eyre::Report) -> i32 {
    let text = format!("{report:#}").replace(['\n', '\r'], " ");
    crate::logging::say(crate::logging::Severity::Error, &format!("keydesk: {text}"));
    exit_code(report)
}

/// Writes a message for the person at the terminal on stderr (in JSON
/// with `log.format = "json"`), like `eprintln!`.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::logging::say($crate::logging::Severity::Info, &::std::format!($($arg)*))
    };
}
/// `say!` for a failure.
macro_rules! say_error {
    ($($arg:tt)*) => {
        $crate::logging::say($crate::logging::Severity::Error, &::std::format!($($arg)*))
    };
}
use {say, say_error};

/// Where this invocation's settings come from.
#[must_use]
pub fn sources(cli: &Cli) -> Sources {
    Sources {
        file: cli.config.clone(),
        ..Sources::default()
    }
}

/// Loads settings for this invocation.
///
/// # Errors
/// A bad settings value, naming the key.
pub fn load_settings(cli: &Cli) -> Result<Settings> {
    Ok(Settings::load(&sources(cli))?)
}

/// Connects and brings the schema up to date: pending migrations are
/// applied when `database.auto_migrate` is on and refused (exit 12)
/// when it is off; a schema newer than this keydesk is refused (exit 13).
///
/// # Errors
/// A [`Failure`] with its exit code: 10 when the store is unavailable, 12, 13.
pub async fn open_store(settings: &Settings) -> Result<Store> {
    let store = connect(settings).await?;
    let status = crate::store::schema::status(store.conn())
        .await
        .map_err(|e| unavailable(settings, &e))?;
    if !status.unknown.is_empty() {
        return Err(Failure::new(EXIT_SCHEMA_NEWER, status.problem().unwrap_or_default()).into());
    }
    if !status.pending.is_empty() {
        if !settings.database.auto_migrate {
            return Err(Failure::new(
                EXIT_PENDING_MIGRATIONS,
                format!(
                    "{} (database.auto_migrate is false: only `keydesk migrate` changes the schema)",
                    status.problem().unwrap_or_default()
                ),
            )
            .into());
        }
        store.migrate().await.wrap_err("applying migrations")?;
    }
    Ok(store)
}

/// Connects without looking at the schema.
async fn connect(settings: &Settings) -> Result<Store> {
    Store::connect(&settings.database)
        .await
        .map_err(|e| unavailable(settings, &e).into())
}

fn unavailable(settings: &Settings, err: &crate::store::StoreError) -> Failure {
    Failure::new(
        crate::desk::error::exit::UNAVAILABLE,
        format!(
            "{} ({})",
            printable(&err.to_string()),
            crate::settings::redact_url(&settings.database.url)
        ),
    )
}

/// The log settings for this command: `-v` wins; otherwise one-shot
/// commands log only warnings unless `log.level` was set, and the
/// console and the services log at `log.level`.
fn log_settings(cli: &Cli, sources: &Sources, settings: &Settings) -> crate::settings::LogSettings {
    let mut log = settings.log.clone();
    let long_running = matches!(
        cli.command,
        None | Some(Command::Demo { .. } | Command::Serve | Command::Worker | Command::SshServe)
    );
    if cli.verbose > 0 {
        match cli.verbose {
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
        .clone_into(&mut log.level);
    } else if !long_running
        && crate::settings::origin_of(sources, "log.level") == crate::settings::DEFAULT_ORIGIN
    {
        "warn".clone_into(&mut log.level);
    }
    log
}

/// Runs one command; returns the process exit code.
///
/// # Errors
/// Any failure not mapped to an exit code of its own.
pub async fn run(cli: Cli) -> Result<i32> {
    if let Some(Command::Completions { shell }) = cli.command {
        // Needs no settings: a broken config must not break completion.
        return Ok(ops_commands::completions(shell));
    }
    let sources = sources(&cli);
    let settings = match Settings::load(&sources) {
        Ok(settings) => settings,
        Err(err) => {
            crate::logging::set_stderr_format(crate::settings::peek_log_format(&sources));
            if let Some(Command::Doctor { json }) = cli.command {
                return Ok(ops_commands::doctor_without_settings(&err, &sources, json));
            }
            return Err(err.into());
        }
    };
    // The console owns the terminal: its log lines go to a file.
    let destination = match cli.command {
        None | Some(Command::Demo { .. }) => crate::logging::Destination::File,
        Some(_) => crate::logging::Destination::Stderr,
    };
    let log = log_settings(&cli, &sources, &settings);
    crate::logging::init(&log, &settings.data_dir, destination)?;
    match cli.command {
        Some(Command::Config) => {
            out!("{}", settings.to_redacted_toml()?);
            Ok(0)
        }
        Some(Command::Migrate { status: true, json }) => {
            ops_commands::migrate_status(&settings, json).await
        }
        Some(Command::Migrate { status: false, .. }) => {
            let store = connect(&settings).await?;
            let status = crate::store::schema::status(store.conn())
                .await
                .map_err(|e| unavailable(&settings, &e))?;
            if !status.unknown.is_empty() {
                return Err(
                    Failure::new(EXIT_SCHEMA_NEWER, status.problem().unwrap_or_default()).into(),
                );
            }
            store.migrate().await.wrap_err("applying migrations")?;
            outln!(
                "migrations applied to {}",
                crate::settings::redact_url(&settings.database.url)
            );
            desk_commands::first_admin(store, settings).await
        }
        Some(Command::Import { file, skip_invalid }) => {
            import_file(&settings, &file, skip_invalid).await
        }
        Some(Command::Doctor { json }) => Ok(ops_commands::doctor(&settings, &sources, json).await),
        Some(Command::Backup { file }) => ops_commands::backup(&settings, &file).await,
        Some(
            command @ (Command::ResetPassword { .. }
            | Command::ChangePassword { .. }
            | Command::Unlock { .. }
            | Command::SignOut { .. }
            | Command::Sessions { .. }
            | Command::Audit { .. }
            | Command::Contacts(_)
            | Command::Offers(_)
            | Command::Notes(_)
            | Command::Operators(_)),
        ) => {
            let store = open_store(&settings).await?;
            desk_commands::run(store, settings, command).await
        }
        Some(Command::Serve) => services::serve_site(settings).await,
        Some(Command::SshServe) => services::serve_ssh(settings).await,
        Some(Command::Worker) => services::worker(settings).await,
        Some(Command::Outbox(args)) => ops_commands::outbox(&settings, args).await,
        Some(Command::Seed { contacts, seed }) => run_seed(&settings, contacts, seed).await,
        Some(Command::Demo { contacts }) => run_demo(settings, contacts).await,
        Some(Command::Completions { .. }) => Ok(0),
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
    let size = input.metadata().map_or(0, |m| m.len());
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
                say!("skipped {error}");
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
                say_error!("{error}");
            }
            say_error!(
                "{} invalid row(s); nothing was written (use --skip-invalid to import the valid rows)",
                errors.len()
            );
            Ok(65)
        }
        Err(ImportError::Format(message)) => {
            say_error!("{}: {message}", file.display());
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
    let desk = services::service_desk(store, settings)?;
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
        say!(
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
        say!(
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
    let desk = services::service_desk(store.clone(), settings.clone())?;
    let identity = crate::desk::Identity::from_os().wrap_err("who is running keydesk")?;
    if let Some(message) = desk.ensure_first_admin(&identity).await? {
        say!("keydesk demo: {message}");
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

/// Text from the database, made safe for a terminal: control characters
/// (escape sequences that could move the cursor, set the title or write
/// the clipboard) are shown as U+FFFD instead of being interpreted.
#[must_use]
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}
