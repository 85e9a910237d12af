//! `openpeer-gateway peer-file generate|validate`: make a peer's public and private peer files,
//! and check a public peer file against every rule of spec §4.1.

use std::path::{Path, PathBuf};

use openpeer_protocol::canonical::render_object;
use openpeer_protocol::certificates::CertificateSet;
use openpeer_protocol::dev::DevDomain;
use openpeer_protocol::json::Object;
use openpeer_protocol::peer_file::{
    PRIVATE_PEER_FILE_SECRET_LEN, PeerFileOptions, PublicPeerFile, encrypt_private, salt_domain,
};
use openpeer_protocol::random::random_string;
use openpeer_protocol::salt::SaltBundle;
use openpeer_protocol::signature::{SignatureSuite, SigningKey};
use openpeer_protocol::uri::DomainName;
use rand_core::OsRng;

use openpeer_federation::clock::unix_now;

use super::{CommandError, parse_document, read_input};

/// Two years, the C++ SDK's peer file lifetime.
const DEFAULT_LIFETIME_DAYS: u64 = 730;

/// Arguments of `peer-file generate`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("salt").required(true).args(["salt_bundle", "dev_salt"])))]
pub struct GenerateArgs {
    /// The peer's domain; must be the domain that signed the salt.
    #[arg(long)]
    pub domain: String,
    /// Signature suite of the peer's new key: `ed25519` or the legacy `rsa-sha1`.
    #[arg(long, default_value = "ed25519", value_parser = parse_suite)]
    pub suite: SignatureSuite,
    /// A `saltBundle` as returned by `signed-salt-get` (the bundle itself, `{"saltBundle":…}`
    /// or a whole `signed-salt-get` result, whose first salt is taken).
    #[arg(long, value_name = "FILE")]
    pub salt_bundle: Option<PathBuf>,
    /// Make and sign a salt with a throw-away development domain instead (offline use).
    #[arg(long)]
    pub dev_salt: bool,
    /// With `--dev-salt`: also write that domain's `certificates-get` result here, so that
    /// `validate --certificates` can check the salt.
    #[arg(long, value_name = "OUT", requires = "dev_salt")]
    pub dev_certificates: Option<PathBuf>,
    /// Where to write the public peer file.
    #[arg(long, value_name = "OUT")]
    pub public: PathBuf,
    /// Where to write the private peer file (created with mode 0600).
    #[arg(long, value_name = "OUT")]
    pub private: PathBuf,
    /// The private peer file secret; a random one is made and printed when absent.
    #[arg(long, env = "OPENPEER_PEER_FILE_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Days until the peer file expires.
    #[arg(long, default_value_t = DEFAULT_LIFETIME_DAYS)]
    pub lifetime_days: u64,
    /// Leave out Section B: nobody can find this peer through a finder.
    #[arg(long)]
    pub unfindable: bool,
}

/// Arguments of `peer-file validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The public peer file.
    pub file: PathBuf,
    /// A `certificates-get` result of the peer's domain: checks the salt's signature.
    #[arg(long, value_name = "FILE")]
    pub certificates: Option<PathBuf>,
    /// Validate as of this Unix time instead of now.
    #[arg(long, value_name = "EPOCH")]
    pub at: Option<u64>,
}

fn parse_suite(name: &str) -> Result<SignatureSuite, String> {
    SignatureSuite::from_name(name)
        .ok_or_else(|| format!("unknown suite {name:?}: use ed25519 or rsa-sha1"))
}

/// Generates the peer's key and both peer files; returns a JSON summary for stdout.
pub fn generate(args: &GenerateArgs) -> Result<String, CommandError> {
    let domain = DomainName::parse(&args.domain)
        .map_err(|_| CommandError(format!("--domain: {:?} is not a domain name", args.domain)))?;
    let created = unix_now();
    let expires = created + args.lifetime_days.max(1) * 86_400;
    let salt_bundle = match &args.salt_bundle {
        Some(path) => read_salt_bundle(path)?,
        None => {
            let dev = DevDomain::generate(domain.clone(), args.suite, expires, &mut OsRng)
                .map_err(|e| CommandError(format!("cannot make development keys: {e}")))?;
            if let Some(out) = &args.dev_certificates {
                let result = Object::new().with(
                    "result",
                    dev.certificates_get_result(&mut OsRng)
                        .with("$domain", domain.as_str()),
                );
                write_file(out, &render_object(&result), false)?;
            }
            dev.salt_bundle(&mut OsRng)
        }
    };
    let salt_domain = SaltBundle::read(&salt_bundle)
        .map_err(|e| CommandError::rule("malformed", format_args!("salt bundle: {e}")))?
        .domain;
    if salt_domain != domain {
        return Err(CommandError(format!(
            "the salt bundle was signed by {salt_domain}, not by --domain {domain}"
        )));
    }
    let key = SigningKey::generate(args.suite, &mut OsRng)
        .map_err(|e| CommandError(format!("cannot generate a key: {e}")))?;
    let options = PeerFileOptions {
        salt_bundle: &salt_bundle,
        created,
        expires,
        findable: !args.unfindable,
    };
    let public = PublicPeerFile::generate(&key, &options, &mut OsRng)
        .map_err(|e| CommandError(format!("cannot make the peer file: {e}")))?;
    let generated_secret = args
        .secret
        .is_none()
        .then(|| random_string(&mut OsRng, PRIVATE_PEER_FILE_SECRET_LEN));
    let secret = args
        .secret
        .as_deref()
        .or(generated_secret.as_deref())
        .unwrap_or_default();
    let private = encrypt_private(&public, &key, secret, &Object::new(), &mut OsRng)
        .map_err(|e| CommandError(format!("cannot make the private peer file: {e}")))?;
    write_file(&args.public, &render_object(public.document()), false)?;
    write_file(&args.private, &render_object(&private), true)?;
    let mut summary = Object::new()
        .with("contact", public.contact().to_string())
        .with("contactId", public.contact().contact_id())
        .with("expires", expires);
    if let Some(secret) = generated_secret {
        summary.insert("secret", secret);
    }
    Ok(format!("{}\n", render_object(&summary)))
}

/// Validates a public peer file; returns the JSON description for stdout, or an error whose
/// message starts with the broken rule.
pub fn validate(args: &ValidateArgs) -> Result<String, CommandError> {
    let document = parse_document(&args.file, &read_input(&args.file)?)?;
    let at = args.at.unwrap_or_else(unix_now);
    let certificates = match &args.certificates {
        Some(path) => Some(read_certificates(path, &document, at)?),
        None => None,
    };
    let file = PublicPeerFile::validate(
        &document,
        at,
        certificates
            .as_ref()
            .map(|c| c as &dyn openpeer_protocol::signature::KeyResolver),
    )
    .map_err(|e| CommandError(e.to_string()))?;
    let summary = Object::new()
        .with("contact", file.contact().to_string())
        .with("contactId", file.contact().contact_id())
        .with("suite", file.suite().name())
        .with("created", file.created())
        .with("expires", file.expires())
        .with("findable", file.find_secret().is_some())
        .with("saltVerified", file.salt_verified());
    Ok(format!("{}\n", render_object(&summary)))
}

/// Reads a salt bundle file in any of the forms `--salt-bundle` accepts.
fn read_salt_bundle(path: &Path) -> Result<Object, CommandError> {
    let document = parse_document(path, &read_input(path)?)?;
    let body = document.get_object("result").unwrap_or(&document);
    let bundle = match body.get_object("salts") {
        Some(salts) => salts
            .get_list("saltBundle")
            .first()
            .and_then(|b| b.as_object()),
        None => body.get_object("saltBundle").or(Some(body)),
    };
    bundle.cloned().ok_or_else(|| {
        CommandError::rule(
            "malformed",
            format_args!("{}: no saltBundle", path.display()),
        )
    })
}

/// Reads a `certificates-get` result for the domain of the peer file's salt. Any failure to
/// establish the salt's certificates is reported under the `salt-signature` rule.
fn read_certificates(
    path: &Path,
    peer_file: &Object,
    at: u64,
) -> Result<CertificateSet, CommandError> {
    let document = parse_document(path, &read_input(path)?)?;
    let body = document.get_object("result").unwrap_or(&document);
    let salt_domain = salt_domain(peer_file).ok_or_else(|| {
        CommandError::rule("malformed", "the peer file has no readable saltBundle")
    })?;
    CertificateSet::from_certificates_get(&salt_domain, body, at)
        .map_err(|e| CommandError::rule("salt-signature", format_args!("{}: {e}", path.display())))
}

/// Writes `text` plus a newline; secret files are readable by the owner only.
fn write_file(path: &Path, text: &str, secret: bool) -> Result<(), CommandError> {
    let failed = |e: std::io::Error| CommandError(format!("cannot write {}: {e}", path.display()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(failed)?;
    std::io::Write::write_all(&mut file, format!("{text}\n").as_bytes()).map_err(failed)
}
