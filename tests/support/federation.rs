//! Two (or three) domains on one machine: `alpha.test` on plain HTTP and `beta.test` on TLS with
//! a test certificate that alpha trusts through `federation.extra_roots`, each with its own
//! database and port and a `[federation.domains]` override pointing at the other.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use openpeer_gateway::config::Settings;
use openpeer_gateway::peer::{Directory, Peer, PeerOptions};
use openpeer_protocol::uri::DomainName;

use super::identity::create_account_of;
use super::process::free_port;
use super::{TestDb, self_signed_pem, tls_toml, write_config};

/// Local account password of the test users.
pub const PASSWORD: &str = "correct horse battery";

/// One domain of a test federation, not started yet.
pub struct Side {
    /// Its database (and scratch directory).
    pub db: TestDb,
    /// Its domain name.
    pub name: &'static str,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its base URL.
    pub url: String,
    /// Its configuration file.
    pub config: PathBuf,
}

impl Side {
    /// The settings of its configuration file, for an in-process gateway.
    pub fn settings(&self) -> Settings {
        Settings::load(Some(&self.config)).unwrap_or_else(|e| panic!("{}: {e}", self.name))
    }

    /// Options for a peer of this domain, trusting `roots` besides WebPKI.
    pub fn peer_options(&self, roots: &[String]) -> PeerOptions {
        let mut options = PeerOptions::new(&self.url, DomainName::parse(self.name).unwrap());
        options.extra_root_pems = roots.iter().map(|r| r.clone().into_bytes()).collect();
        options.direct_timeout = Duration::from_secs(10);
        options
    }
}

/// alpha (HTTP) and beta (TLS), configured for each other.
pub struct Pair {
    /// alpha.test.
    pub alpha: Side,
    /// beta.test.
    pub beta: Side,
    /// beta's certificate (PEM), which alpha and peers that reach beta trust.
    pub beta_cert: String,
}

/// Configures alpha (on `alpha_db`) and beta (TLS, on a new database of the same backend).
/// `alpha_extra` and `beta_extra` are dotted keys added to each configuration
/// (`federation.policy = "denylist"`).
pub fn pair(alpha_db: TestDb, alpha_extra: &str, beta_extra: &str) -> Pair {
    pair_with(alpha_db, true, alpha_extra, beta_extra)
}

/// [`pair`], with beta on plain HTTP unless `tls`.
pub fn pair_with(alpha_db: TestDb, tls: bool, alpha_extra: &str, beta_extra: &str) -> Pair {
    let beta_db = TestDb::new(alpha_db.backend);
    let (alpha_port, beta_port) = (free_port(), free_port());
    let (cert, cert_path, key_path) = self_signed_pem(&beta_db.dir);
    let beta_url = if tls {
        format!("https://localhost:{beta_port}")
    } else {
        format!("http://127.0.0.1:{beta_port}")
    };
    let beta_tls = if tls {
        tls_toml(&cert_path, &key_path)
    } else {
        String::new()
    };
    let alpha_url = format!("http://127.0.0.1:{alpha_port}");
    let alpha_toml = format!(
        "domain.name = \"alpha.test\"\n{alpha_extra}\nfederation.extra_roots = {:?}\n\
         [federation.domains.\"beta.test\"]\nurl = {beta_url:?}\n",
        cert_path.display().to_string(),
    );
    let beta_toml = format!(
        "domain.name = \"beta.test\"\ndomain.public_url = {beta_url:?}\n{beta_extra}\n{beta_tls}\
         [federation.domains.\"alpha.test\"]\nurl = {alpha_url:?}\n",
    );
    let alpha_addr: SocketAddr = ([127, 0, 0, 1], alpha_port).into();
    let beta_addr: SocketAddr = ([127, 0, 0, 1], beta_port).into();
    Pair {
        alpha: Side {
            config: write_config(
                &alpha_db.dir,
                &alpha_db.url,
                &alpha_addr.to_string(),
                &alpha_toml,
            ),
            db: alpha_db,
            name: "alpha.test",
            addr: alpha_addr,
            url: alpha_url,
        },
        beta: Side {
            config: write_config(
                &beta_db.dir,
                &beta_db.url,
                &beta_addr.to_string(),
                &beta_toml,
            ),
            db: beta_db,
            name: "beta.test",
            addr: beta_addr,
            url: beta_url,
        },
        beta_cert: cert.pem(),
    }
}

/// Starts a peer of `side`, logs it in as local account `user` (made now) and publishes it
/// under `identity://<side>/<user>`.
pub async fn published_peer(side: &Side, user: &str, options: PeerOptions) -> Peer {
    create_account_of(&side.db, side.name, user, PASSWORD).await;
    let peer = Peer::start(options.clone()).await.expect("the peer starts");
    let directory = Directory::bootstrap(&options).await.expect("directory");
    let login = directory
        .login_local(user, PASSWORD)
        .await
        .expect("local login");
    directory
        .publish(&login, &peer, "stable-id")
        .await
        .expect("publish");
    peer
}
