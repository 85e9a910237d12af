//! The `openpeer-gateway` command line: parses arguments and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use openpeer_gateway::commands::{self, CommandError};

/// The domain side of Open Peer.
#[derive(Debug, Parser)]
#[command(name = "openpeer-gateway", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the canonical JSON (spec §2.1) of a document, `-` for standard input.
    Canonical {
        /// The JSON document.
        file: PathBuf,
    },
    /// Make or check peer files.
    #[command(subcommand)]
    PeerFile(PeerFileCommand),
}

#[derive(Debug, Subcommand)]
enum PeerFileCommand {
    /// Generate a key and its public and private peer files.
    Generate(commands::peer_file::GenerateArgs),
    /// Validate a public peer file; prints its description or the broken rule.
    Validate(commands::peer_file::ValidateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome: Result<String, CommandError> = match &cli.command {
        Command::Canonical { file } => commands::canonical::run(file),
        Command::PeerFile(PeerFileCommand::Generate(args)) => commands::peer_file::generate(args),
        Command::PeerFile(PeerFileCommand::Validate(args)) => commands::peer_file::validate(args),
    };
    match outcome {
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
