//! The command line's clap definitions, and nothing else.
//!
//! This file names no other part of keydesk (only `clap`, `std` and the
//! crate root's `VERSION`), because the build script compiles it too: with
//! the `deb-assets` feature (`cargo deb`), `build.rs` includes it to write
//! the man pages and shell completions the package ships. What it accepts
//! is turned into desk types by the dispatch in `cli.rs`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// The exit codes, shown under every command's help.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0   success
  1   unexpected failure (nothing was changed)
  2   bad command-line usage
  3   not found: no contact (or operator) with that name
  4   not a customer: the contact holds no offer, so has no password
  5   refused by the password policy
  6   not allowed: your role does not permit it, or you are not an operator
  7   rate-limited: a reset link was sent moments ago (use --force), or too many requests
  8   the reset link is unknown, expired, used or revoked
  9   sign-in refused (wrong credentials, locked, temporary password expired)
  10  the database is unavailable (nothing was changed; try again)
  11  conflict with existing data (e.g. removing the last admin)
  12  the store has pending migrations and database.auto_migrate is false (run `keydesk migrate`)
  13  the store's schema is newer than this keydesk (upgrade keydesk)
  14  invalid input (an email mail cannot reach, a note too long, an edit that changes nothing)
  15  a bulk action (--from, --all-locked) failed for some contacts or lines (the summary lists them)
  78  a bad setting (the message names the key and where it was set)";

/// keydesk: the Contacts console for support agents.
#[derive(Debug, Parser)]
#[command(name = "keydesk", version = crate::VERSION, about, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// A settings file layered over the defaults and system files.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log more on stderr: -v info, -vv debug, -vvv trace (commands log
    /// only warnings unless `log.level` is set; services log at `log.level`).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending database migrations, or with --status list them.
    Migrate {
        /// List applied and pending migrations; change nothing.
        #[arg(long)]
        status: bool,
        /// With --status: one JSON object instead of text lines.
        #[arg(long, requires = "status")]
        json: bool,
    },
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
        #[arg(required_unless_present = "from", conflicts_with = "from")]
        email: Option<String>,
        /// Send even within `reset.resend_cooldown` of the previous link.
        #[arg(long, conflicts_with = "from")]
        force: bool,
        /// Send to every customer in FILE (one email a line, `-` for stdin);
        /// prints done, skipped with reasons, failed; exit 15 if any failed.
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
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
        #[arg(required_unless_present_any = ["from", "all_locked"], conflicts_with_all = ["from", "all_locked"])]
        email: Option<String>,
        /// Unlock every customer in FILE (one email a line, `-` for stdin).
        #[arg(long, value_name = "FILE", conflicts_with = "all_locked")]
        from: Option<PathBuf>,
        /// Unlock every account locked now.
        #[arg(long)]
        all_locked: bool,
        /// With --all-locked: only locks that began within DURATION (e.g. 2h).
        #[arg(long, value_name = "DURATION", requires = "all_locked")]
        since: Option<String>,
    },
    /// End every site session of a customer, or one with --session (admins).
    #[command(after_help = EXIT_CODES_HELP)]
    SignOut {
        /// The customer's email.
        #[arg(required_unless_present = "from", conflicts_with = "from")]
        email: Option<String>,
        /// End only this session (an id from `keydesk sessions EMAIL`).
        #[arg(long, value_name = "ID", conflicts_with = "from")]
        session: Option<i64>,
        /// Sign out every customer in FILE (one email a line, `-` for stdin).
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
    },
    /// List a customer's live site sessions: id, signed in, last seen, client.
    #[command(after_help = EXIT_CODES_HELP)]
    Sessions {
        /// The customer's email.
        email: String,
        /// One JSON array instead of text lines.
        #[arg(long)]
        json: bool,
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
    /// Search, read and edit contacts (viewers read; admins edit).
    #[command(subcommand, after_help = EXIT_CODES_HELP)]
    Contacts(ContactsCommand),
    /// List offers, grant one to a contact or revoke it (admins grant and revoke).
    #[command(subcommand, after_help = EXIT_CODES_HELP)]
    Offers(OffersCommand),
    /// Notes on a contact (agents and admins add; the author or an admin deletes).
    #[command(subcommand, after_help = EXIT_CODES_HELP)]
    Notes(NotesCommand),
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
    /// Print a shell completion script (bash, zsh or fish) on stdout.
    Completions {
        /// The shell.
        shell: CompletionShell,
    },
    /// Check this setup, changing nothing and sending no mail.
    ///
    /// One line per check (ok, warn or fail, with the fix): the settings and
    /// where each was set, the store and its schema, the mail relay (EHLO,
    /// STARTTLS, AUTH), `site.base_url`, the SSH host key, the pepper file,
    /// the data dir's file modes, and the database's clock. Exits 0 only
    /// when no check fails.
    Doctor {
        /// One JSON object instead of text lines.
        #[arg(long)]
        json: bool,
    },
    /// Copy the SQLite store to FILE while keydesk keeps running.
    ///
    /// The copy is consistent (one read transaction), compact, owner-only
    /// and checked; FILE must not exist. For PostgreSQL and MariaDB use
    /// pg_dump or mariadb-dump (docs/OPERATIONS.md).
    Backup {
        /// Where to write the copy (must not exist yet).
        file: PathBuf,
    },
}

/// `keydesk outbox [--failed] [--limit N] [--json] | outbox retry ID`
#[derive(Debug, clap::Args)]
pub struct OutboxArgs {
    /// Only messages that failed for good.
    #[arg(long)]
    pub failed: bool,
    /// Show at most this many, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: u64,
    /// One JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
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

/// `keydesk operators ...`
#[derive(Debug, Subcommand)]
pub enum OperatorsCommand {
    /// Add an operator, or change an existing operator's role (admins).
    Add {
        /// OS user name.
        name: String,
        /// viewer | agent | admin
        #[arg(long, ignore_case = true, value_parser = ["viewer", "agent", "admin"])]
        role: String,
    },
    /// Remove an operator (admins; never the last admin).
    Remove {
        /// OS user name.
        name: String,
    },
    /// List operators and their roles, with the fingerprints of their SSH keys.
    List {
        /// One JSON array instead of text lines.
        #[arg(long)]
        json: bool,
    },
    /// Give an operator an SSH public key for `ssh-serve` (admins): from a
    /// file, or `-` for standard input.
    #[command(name = "add-key")]
    AddKey {
        /// OS user name (an existing operator).
        name: String,
        /// The public key file (e.g. ~/.ssh/id_ed25519.pub).
        #[arg(
            long,
            value_name = "KEY.pub",
            conflicts_with = "stdin",
            required_unless_present = "stdin"
        )]
        file: Option<std::path::PathBuf>,
        /// `-`: read the public key from standard input.
        #[arg(value_name = "-", value_parser = ["-"])]
        stdin: Option<String>,
    },
    /// Remove an operator's SSH key by fingerprint, or all their keys (admins).
    #[command(name = "remove-key")]
    RemoveKey {
        /// OS user name.
        name: String,
        /// `SHA256:...` as `operators list` shows it; none removes every key.
        fingerprint: Option<String>,
    },
}

/// `keydesk contacts ...`
#[derive(Debug, Subcommand)]
pub enum ContactsCommand {
    /// Contacts whose name or email contains QUERY (any case), by name.
    Search {
        /// Part of a name or an email; empty for everyone.
        query: String,
        /// Which contacts: everyone, customers, subscribers, or contacts that are neither.
        #[arg(long, value_enum, default_value_t = KindArg::All)]
        kind: KindArg,
        /// At most this many (1 to 1000).
        #[arg(long, value_name = "N", default_value_t = 50,
              value_parser = clap::value_parser!(u16).range(1..=1000))]
        limit: u16,
        /// One JSON object instead of text lines.
        #[arg(long)]
        json: bool,
    },
    /// One contact's profile: offers, account, open reset links, notes, email history.
    Show {
        /// The contact's email (any case).
        email: String,
        /// One JSON object instead of text lines.
        #[arg(long)]
        json: bool,
    },
    /// Change a contact's name or email (admins). A customer's open reset
    /// links are revoked and both addresses are told of a new email.
    #[command(after_help = EXIT_CODES_HELP)]
    Edit {
        /// The contact's current email (any case).
        email: String,
        /// The new email (checked, unique without regard to case).
        #[arg(long = "email", value_name = "NEW")]
        new_email: Option<String>,
        /// The new name.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
}

/// `keydesk offers ...`
#[derive(Debug, Subcommand)]
pub enum OffersCommand {
    /// Every offer, with its products and how many contacts hold it.
    List {
        /// One JSON array instead of text lines.
        #[arg(long)]
        json: bool,
    },
    /// Grant an offer to a contact (admins); a new Customer gets a welcome
    /// email with a link to set a password (valid `reset.welcome_ttl`).
    #[command(after_help = EXIT_CODES_HELP)]
    Grant {
        /// The contact's email (any case).
        email: String,
        /// The offer's name, or a part of it that only one offer's name holds.
        offer: String,
        /// Send no welcome email.
        #[arg(long)]
        no_welcome: bool,
    },
    /// Revoke an offer from a contact (admins); with the last one the
    /// login ends: site sessions and open links too.
    #[command(after_help = EXIT_CODES_HELP)]
    Revoke {
        /// The contact's email (any case).
        email: String,
        /// The offer's name, or a part of it that only one held offer's name holds.
        offer: String,
    },
}

/// `keydesk notes ...`
#[derive(Debug, Subcommand)]
pub enum NotesCommand {
    /// Add a note to a contact (agents and admins); `-` reads it from standard input.
    #[command(after_help = EXIT_CODES_HELP)]
    Add {
        /// The contact's email (any case).
        email: String,
        /// The note (at most 2000 characters), or `-` for standard input.
        text: String,
    },
    /// A contact's notes, newest first, with id, author and time.
    List {
        /// The contact's email (any case).
        email: String,
        /// One JSON array instead of text lines.
        #[arg(long)]
        json: bool,
    },
    /// Delete a note by id (its author or an admin).
    #[command(after_help = EXIT_CODES_HELP)]
    Delete {
        /// The note's id, as `notes list` shows it.
        id: i64,
    },
}

/// `contacts search --kind`
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// Everyone.
    All,
    /// Contacts holding an offer.
    Customers,
    /// Contacts who agreed to marketing email.
    Subscribers,
    /// Contacts that are neither.
    Contacts,
}

/// `keydesk completions SHELL`
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    /// GNU bash.
    Bash,
    /// Z shell.
    Zsh,
    /// fish.
    Fish,
}
