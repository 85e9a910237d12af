//! `openpeer-gateway peer listen|find`: a peer of a domain from the command line, for trying a
//! domain out and for scripts. `listen` registers with the domain's finder (and, with `--login`,
//! binds a local account's identity to itself) and prints what connecting peers send; `find`
//! finds a peer by identity or public peer file, hands off, sends messages and prints the
//! answers. Both talk to the other peer directly (or through the finder relay), never through
//! the gateway's HTTP.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use openpeer_protocol::canonical::render_object;
use openpeer_protocol::json::Object;
use openpeer_protocol::peer_file::PublicPeerFile;
use openpeer_protocol::uri::DomainName;

use openpeer_federation::clock::unix_now;

use super::{CommandError, parse_document, read_input};
use crate::peer::{Connection, Directory, Peer, PeerOptions};

/// What both subcommands need to reach the domain.
#[derive(Debug, clap::Args)]
pub struct DomainArgs {
    /// The gateway's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The domain served there.
    #[arg(long, default_value = "localhost")]
    pub domain: String,
    /// Local address of the peer's UDP socket (its host candidate).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub udp_bind: SocketAddr,
}

/// Arguments of `peer listen`.
#[derive(Debug, clap::Args)]
pub struct ListenArgs {
    #[command(flatten)]
    pub domain: DomainArgs,
    /// Log in to this local account (spec §7.2: identity, lockbox, the private peer file kept
    /// there, peer services) and run as the account's peer, found by
    /// `identity://<domain>/<username>`; every device logging in is the same peer. The password is read from OPENPEER_ACCOUNT_PASSWORD or
    /// the first line of standard input.
    #[arg(long, value_name = "USERNAME")]
    pub login: Option<String>,
    /// With --login: make a new lockbox key, wiping what the lockbox held (a new peer).
    #[arg(long, requires = "login")]
    pub reset_lockbox: bool,
    /// Write this peer's public peer file here, for `peer find --peer-file`.
    #[arg(long, value_name = "FILE")]
    pub peer_file_out: Option<PathBuf>,
    /// Send every message received back to its sender.
    #[arg(long)]
    pub echo: bool,
}

/// Arguments of `peer find`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["identity", "peer_file"])))]
pub struct FindArgs {
    #[command(flatten)]
    pub domain: DomainArgs,
    /// Find the peer bound to this identity (`identity-lookup`).
    #[arg(long, value_name = "URI")]
    pub identity: Option<String>,
    /// Find the peer of this public peer file.
    #[arg(long, value_name = "FILE")]
    pub peer_file: Option<PathBuf>,
    /// A message to send once connected; repeat for several.
    #[arg(long = "message", value_name = "TEXT")]
    pub messages: Vec<String>,
    /// Seconds to wait for as many answers as messages were sent.
    #[arg(long, default_value_t = 5)]
    pub wait_seconds: u64,
}

fn options(args: &DomainArgs) -> Result<PeerOptions, CommandError> {
    let domain = DomainName::parse(&args.domain)
        .map_err(|e| CommandError(format!("--domain {}: {e}", args.domain)))?;
    let mut options = PeerOptions::new(args.url.clone(), domain);
    options.udp_bind = args.udp_bind;
    Ok(options)
}

fn failed(what: &str) -> impl FnOnce(crate::peer::PeerError) -> CommandError + '_ {
    move |e| CommandError(format!("{what}: {e}"))
}

/// Prints one line at once: listeners and scripts read it while the command runs.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// `peer listen`: runs until the process is stopped.
pub async fn listen(args: &ListenArgs, password: Option<String>) -> Result<String, CommandError> {
    let options = options(&args.domain)?;
    // With --login the peer is the account's (spec §7.2: its private peer file in the
    // lockbox, the same on every device); without, a new one.
    let peer = match (&args.login, password) {
        (Some(username), Some(password)) => {
            let directory = Directory::bootstrap(&options)
                .await
                .map_err(failed("bootstrap"))?;
            let login = directory
                .login_account(username, &password, args.reset_lockbox)
                .await
                .map_err(failed("login"))?;
            let peer = Peer::start_as(options.clone(), &login)
                .await
                .map_err(failed("start"))?;
            directory
                .publish(&login.identity, &peer, &login.lockbox.stable_id())
                .await
                .map_err(failed("identity-lookup-update"))?;
            say(&format!("identity {}", login.identity.uri));
            let origin = if login.new_peer {
                "new-peer"
            } else {
                "peer-from-lockbox"
            };
            say(&format!("lockbox {} {origin}", login.lockbox.account_id));
            for server in &login.ice_servers {
                say(&format!("{} {}", server.kind, server.uri));
            }
            peer
        }
        _ => Peer::start(options.clone())
            .await
            .map_err(failed("start"))?,
    };
    if let Some(path) = &args.peer_file_out {
        let text = render_object(peer.public_peer_file().document());
        std::fs::write(path, text)
            .map_err(|e| CommandError(format!("cannot write {}: {e}", path.display())))?;
    }
    say(&format!("listening {}", peer.contact()));
    loop {
        let connection = peer.accept().await.map_err(failed("accept"))?;
        say(&format!(
            "connected {} {}",
            connection.remote(),
            path_of(&connection)
        ));
        let echo = args.echo;
        async_std::task::spawn(async move {
            while let Ok(data) = connection.recv().await {
                let text = String::from_utf8_lossy(&data);
                say(&format!("{} {text}", connection.remote()));
                if echo && connection.send(&data).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// `peer find`: connects, sends the messages and prints the answers that come in time.
pub async fn find(args: &FindArgs) -> Result<String, CommandError> {
    let options = options(&args.domain)?;
    let target = match (&args.identity, &args.peer_file) {
        (Some(identity), _) => Directory::bootstrap(&options)
            .await
            .map_err(failed("bootstrap"))?
            .lookup(identity)
            .await
            .map_err(failed("identity-lookup"))?,
        (None, Some(path)) => read_peer_file(path)?,
        (None, None) => return Err(CommandError("give --identity or --peer-file".into())),
    };
    let peer = Peer::start(options).await.map_err(failed("start"))?;
    let connection = peer.find(&target).await.map_err(failed("find"))?;
    say(&format!(
        "connected {} {}",
        connection.remote(),
        path_of(&connection)
    ));
    for message in &args.messages {
        connection.send(message).await.map_err(failed("send"))?;
    }
    let wait = Duration::from_secs(args.wait_seconds);
    for _ in 0..args.messages.len() {
        match async_std::future::timeout(wait, connection.recv()).await {
            Ok(Ok(data)) => say(&format!(
                "{} {}",
                connection.remote(),
                String::from_utf8_lossy(&data)
            )),
            Ok(Err(e)) => return Err(failed("receive")(e)),
            Err(_) => break,
        }
    }
    peer.close().await;
    Ok(String::new())
}

fn path_of(connection: &Connection) -> &'static str {
    if connection.is_relayed() {
        "relayed"
    } else {
        "direct"
    }
}

fn read_peer_file(path: &std::path::Path) -> Result<PublicPeerFile, CommandError> {
    let text = read_input(path)?;
    let document: Object = parse_document(path, &text)?;
    PublicPeerFile::validate(&document, unix_now(), None)
        .map_err(|e| CommandError::rule(e.rule(), format_args!("{}: {e}", path.display())))
}
