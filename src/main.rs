//! The `openpeer-gateway` command line: parses arguments and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use openpeer_gateway::commands::{self, CommandError};
use openpeer_gateway::config::Settings;
use openpeer_gateway::logging;

/// The domain side of Open Peer.
#[derive(Debug, Parser)]
#[command(name = "openpeer-gateway", version, about)]
struct Cli {
    /// Configuration file (layered over the built-in defaults; see config/default.toml).
    #[arg(
        long,
        global = true,
        env = "OPENPEER_GATEWAY_CONFIG",
        value_name = "FILE"
    )]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the domain until Ctrl-C or SIGTERM.
    Serve,
    /// Apply pending database migrations.
    Migrate,
    /// List or rotate the domain's service keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage local accounts.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Print the canonical JSON (spec §2.1) of a document, `-` for standard input.
    Canonical {
        /// The JSON document.
        file: PathBuf,
    },
    /// Make or check peer files.
    #[command(subcommand)]
    PeerFile(PeerFileCommand),
    /// Act as a peer of a domain: listen for others, or find one and talk to it directly.
    #[command(subcommand)]
    Peer(PeerCommand),
    /// Load-test the finder: start a gateway, hold many sessions, measure finds.
    Load(commands::load::LoadArgs),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// One JSON line per key: id, service, suite, created, expires, state.
    List,
    /// Add a new key (all services, or one); old keys stay published until they expire.
    Rotate {
        /// certificates, salt, finder, identity, identity-lookup or namespace-grant.
        #[arg(long)]
        service: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AccountsCommand {
    /// Create a local account, identity://<domain>/<username>. The password is read from
    /// OPENPEER_ACCOUNT_PASSWORD or, without it, from the first line of standard input.
    Add {
        /// The username: letters, digits, '.', '_' or '-'.
        username: String,
    },
}

#[derive(Debug, Subcommand)]
enum PeerFileCommand {
    /// Generate a key and its public and private peer files.
    Generate(commands::peer_file::GenerateArgs),
    /// Validate a public peer file; prints its description or the broken rule.
    Validate(commands::peer_file::ValidateArgs),
}

#[derive(Debug, Subcommand)]
enum PeerCommand {
    /// Register with the domain's finder and print what connecting peers send.
    Listen(commands::peer::ListenArgs),
    /// Find a peer by identity or public peer file, hand off, send messages, print answers.
    Find(commands::peer::FindArgs),
}

fn settings(cli: &Cli) -> Result<Settings, CommandError> {
    let settings =
        Settings::load(cli.config.as_deref()).map_err(|e| CommandError(e.to_string()))?;
    logging::init(&settings.log);
    Ok(settings)
}

fn run(cli: &Cli) -> Result<String, CommandError> {
    match &cli.command {
        Command::Serve => async_std::task::block_on(commands::serve::serve(settings(cli)?)),
        Command::Migrate => async_std::task::block_on(commands::serve::migrate(settings(cli)?)),
        Command::Keys(KeysCommand::List) => {
            async_std::task::block_on(commands::serve::keys_list(settings(cli)?))
        }
        Command::Keys(KeysCommand::Rotate { service }) => async_std::task::block_on(
            commands::serve::keys_rotate(settings(cli)?, service.as_deref()),
        ),
        Command::Accounts(AccountsCommand::Add { username }) => {
            let password = account_password()?;
            async_std::task::block_on(commands::serve::accounts_add(
                settings(cli)?,
                username,
                &password,
            ))
        }
        Command::Canonical { file } => commands::canonical::run(file),
        Command::PeerFile(PeerFileCommand::Generate(args)) => commands::peer_file::generate(args),
        Command::PeerFile(PeerFileCommand::Validate(args)) => commands::peer_file::validate(args),
        Command::Peer(PeerCommand::Listen(args)) => {
            let password = args.login.is_some().then(account_password).transpose()?;
            async_std::task::block_on(commands::peer::listen(args, password))
        }
        Command::Peer(PeerCommand::Find(args)) => {
            async_std::task::block_on(commands::peer::find(args))
        }
        Command::Load(args) => commands::load::load(args),
    }
}

fn account_password() -> Result<String, CommandError> {
    if let Ok(password) = std::env::var("OPENPEER_ACCOUNT_PASSWORD") {
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| CommandError(format!("cannot read the password: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(stdout) => {
            print!("{stdout}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
