//! The `keydesk` binary: parse the command line, load settings, run one command.

use clap::Parser;

fn main() -> color_eyre::Result<()> {
    // Before any file or thread exists: whatever keydesk creates is owner-only.
    keydesk::files::restrict_umask();
    color_eyre::install()?;
    let cli = keydesk::cli::Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let code = runtime.block_on(keydesk::cli::run(cli))?;
    drop(runtime);
    std::process::exit(code);
}
