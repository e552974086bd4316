//! The `keydesk` binary: parse the command line, load settings, run one
//! command, exit with its code. A failure is one line on stderr
//! (`keydesk: ...`, or JSON with `log.format = "json"`), never a report
//! with colours or a backtrace.

use clap::Parser;

fn main() {
    // Before any file or thread exists: whatever keydesk creates is owner-only.
    keydesk::files::restrict_umask();
    install_panic_report();
    let cli = match keydesk::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => usage_error(&err),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            keydesk::logging::say(
                keydesk::logging::Severity::Error,
                &format!("keydesk: cannot start the async runtime: {err}"),
            );
            std::process::exit(1);
        }
    };
    let outcome = runtime.block_on(keydesk::cli::run(cli));
    drop(runtime);
    let code = match outcome {
        Ok(code) => code,
        Err(report) => keydesk::cli::report_fatal(&report),
    };
    std::process::exit(code);
}

/// A panic still says where (color-eyre's hook), without colour when
/// stderr is not a terminal or `NO_COLOR` is set.
fn install_panic_report() {
    use std::io::IsTerminal;
    let plain = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
        || !std::io::stderr().is_terminal();
    let mut hook = color_eyre::config::HookBuilder::default().display_env_section(false);
    if plain {
        hook = hook.theme(color_eyre::config::Theme::new());
    }
    // Installing twice is the only failure; there is no second install.
    let _ = hook.install();
}

/// clap's own errors: help and `--version` go to stdout as clap prints
/// them; a usage error is one JSON line when `log.format = "json"`, else
/// clap's text. Exits 2 (0 for help and version).
fn usage_error(err: &clap::Error) -> ! {
    use clap::error::ErrorKind;
    let shows_info = matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) || err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand;
    let json = keydesk::settings::peek_log_format(&keydesk::settings::Sources::default())
        == keydesk::settings::LogFormat::Json;
    if shows_info || !json {
        err.exit();
    }
    keydesk::logging::set_stderr_format(keydesk::settings::LogFormat::Json);
    keydesk::logging::say(
        keydesk::logging::Severity::Error,
        err.render().to_string().trim(),
    );
    std::process::exit(err.exit_code());
}
