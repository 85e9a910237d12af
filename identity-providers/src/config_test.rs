//! Configuration parsing through the `config` crate (as the gateway reads it), defaults per
//! preset, refusals, secrets.

use std::collections::BTreeMap;

use super::*;

/// Parses `[identity.providers.*]` tables from TOML the way the gateway does.
fn parse(toml: &str) -> Result<BTreeMap<String, ProviderConfig>, String> {
    config::Config::builder()
        .add_source(config::File::from_str(toml, config::FileFormat::Toml))
        .build()
        .map_err(|e| e.to_string())?
        .get::<BTreeMap<String, ProviderConfig>>("identity.providers")
        .map_err(|e| e.to_string())
}

fn one(toml: &str) -> ProviderConfig {
    let mut providers = providers_from_table(parse(toml).expect("parse")).expect("valid");
    assert_eq!(providers.len(), 1);
    providers.remove(0)
}

#[test]
fn presets_and_their_defaults() {
    let providers = providers_from_table(
        parse(
            r#"
            [identity.providers.google]
            kind = "google"
            client_id = "g"
            [identity.providers.microsoft]
            kind = "microsoft"
            client_id = "m"
            [identity.providers.gitlab]
            kind = "gitlab"
            client_id = "l"
            [identity.providers.github]
            kind = "github"
            client_id = "h"
            client_secret = "hs"
            [identity.providers.facebook]
            kind = "facebook"
            client_id = "f"
            client_secret = "fs"
            [identity.providers.corp]
            kind = "oidc"
            client_id = "c"
            issuer_url = "https://sso.example.org:8443/realms/staff"
            "#,
        )
        .expect("parse"),
    )
    .expect("valid");
    let by_name: BTreeMap<_, _> = providers.iter().map(|p| (p.name.as_str(), p)).collect();
    assert_eq!(by_name.len(), 6);

    let google = by_name["google"];
    assert_eq!(google.kind, ProviderKind::Google);
    assert!(google.enabled);
    assert_eq!(
        google.effective_issuer_url(),
        Some("https://accounts.google.com")
    );
    assert_eq!(google.effective_scopes(), ["openid", "email", "profile"]);
    assert_eq!(
        google.effective_identity_domain().expect("domain"),
        "google.com"
    );
    assert_eq!(google.effective_endpoints(), None);
    assert!(google.resolve_secret().expect("secret").is_none());

    let microsoft = by_name["microsoft"];
    assert_eq!(
        microsoft.effective_issuer_url(),
        Some("https://login.microsoftonline.com/common/v2.0")
    );
    assert_eq!(
        microsoft.effective_identity_domain().expect("domain"),
        "microsoft.com"
    );

    let gitlab = by_name["gitlab"];
    assert_eq!(gitlab.effective_issuer_url(), Some("https://gitlab.com"));
    assert_eq!(
        gitlab.effective_identity_domain().expect("domain"),
        "gitlab.com"
    );

    let github = by_name["github"];
    assert_eq!(github.effective_issuer_url(), None);
    assert_eq!(
        github.effective_endpoints(),
        Some([
            "https://github.com/login/oauth/authorize",
            "https://github.com/login/oauth/access_token",
            "https://api.github.com/user",
        ])
    );
    assert_eq!(github.effective_scopes(), ["read:user", "user:email"]);
    assert_eq!(
        github.effective_identity_domain().expect("domain"),
        "github.com"
    );

    let facebook = by_name["facebook"];
    assert_eq!(
        facebook.effective_endpoints(),
        Some([
            "https://www.facebook.com/v19.0/dialog/oauth",
            "https://graph.facebook.com/v19.0/oauth/access_token",
            "https://graph.facebook.com/me?fields=id,name,email,picture",
        ])
    );
    assert_eq!(facebook.effective_scopes(), ["public_profile", "email"]);
    assert_eq!(
        facebook.effective_identity_domain().expect("domain"),
        "facebook.com"
    );

    let corp = by_name["corp"];
    assert_eq!(
        corp.effective_identity_domain().expect("domain"),
        "sso.example.org:8443"
    );
    assert_eq!(corp.identity_domain(), "sso.example.org:8443");
}

#[test]
fn overrides() {
    let gitlab = one(r#"
        [identity.providers.work]
        kind = "gitlab"
        client_id = "l"
        issuer_url = "https://GitLab.Example.org"
        scopes = ["openid", "email"]
        enabled = false
        "#);
    assert_eq!(gitlab.name, "work");
    assert!(!gitlab.enabled);
    assert_eq!(
        gitlab.effective_issuer_url(),
        Some("https://GitLab.Example.org")
    );
    assert_eq!(
        gitlab.effective_identity_domain().expect("domain"),
        "gitlab.example.org"
    );
    assert_eq!(gitlab.effective_scopes(), ["openid", "email"]);

    let google = one(r#"
        [identity.providers.google]
        kind = "google"
        client_id = "g"
        issuer_url = "http://127.0.0.1:4000"
        "#);
    // The Google preset keeps its identity domain when only the issuer moves (tests).
    assert_eq!(
        google.effective_identity_domain().expect("domain"),
        "google.com"
    );

    let local = one(r#"
        [identity.providers.local-op]
        kind = "oidc"
        client_id = "c"
        issuer_url = "http://127.0.0.1:4000"
        "#);
    assert_eq!(
        local.effective_identity_domain().expect("domain"),
        "127.0.0.1:4000"
    );

    let ghe = one(r#"
        [identity.providers.ghe]
        kind = "github"
        client_id = "h"
        client_secret = "s"
        authorization_url = "https://ghe.example.org/login/oauth/authorize"
        token_url = "https://ghe.example.org/login/oauth/access_token"
        userinfo_url = "https://ghe.example.org/api/v3/user"
        identity_domain = "GHE.example.org"
        "#);
    assert_eq!(
        ghe.effective_endpoints(),
        Some([
            "https://ghe.example.org/login/oauth/authorize",
            "https://ghe.example.org/login/oauth/access_token",
            "https://ghe.example.org/api/v3/user",
        ])
    );
    assert_eq!(
        ghe.effective_identity_domain().expect("domain"),
        "ghe.example.org"
    );
}

#[test]
fn unknown_fields_and_kinds_are_refused() {
    let err = parse(
        r#"
        [identity.providers.github]
        kind = "github"
        client_id = "h"
        client_secret = "s"
        clientsecret = "typo"
        "#,
    )
    .expect_err("unknown field");
    assert!(err.contains("clientsecret"), "{err}");

    // `name` comes from the table key, never from the table.
    assert!(
        parse(
            r#"
            [identity.providers.github]
            name = "other"
            kind = "github"
            client_id = "h"
            "#
        )
        .is_err()
    );
    assert!(
        parse(
            r#"
            [identity.providers.x]
            kind = "twitter"
            client_id = "h"
            "#
        )
        .is_err()
    );
    assert!(
        parse(
            r#"
            [identity.providers.x]
            kind = "github"
            "#
        )
        .is_err(),
        "client_id is required"
    );
}

#[test]
fn invalid_combinations_are_refused() {
    let refused = |toml: &str| {
        let table = parse(toml).expect("parse");
        let err = providers_from_table(table).expect_err("refused");
        assert!(matches!(err, ProviderError::Config(_)), "{err}");
        err.to_string()
    };
    let err = refused(
        r#"
        [identity.providers.corp]
        kind = "oidc"
        client_id = "c"
        "#,
    );
    assert!(err.contains("issuer_url"), "{err}");
    let err = refused(
        r#"
        [identity.providers.corp]
        kind = "oidc"
        client_id = "c"
        issuer_url = "http://sso.example.org"
        "#,
    );
    assert!(err.contains("https"), "{err}");
    let err = refused(
        r#"
        [identity.providers.google]
        kind = "google"
        client_id = "g"
        token_url = "https://example.org/token"
        "#,
    );
    assert!(err.contains("token_url"), "{err}");
    let err = refused(
        r#"
        [identity.providers.github]
        kind = "github"
        client_id = "h"
        client_secret = "s"
        issuer_url = "https://github.com"
        "#,
    );
    assert!(err.contains("issuer_url"), "{err}");
    let err = refused(
        r#"
        [identity.providers.github]
        kind = "github"
        client_id = "h"
        "#,
    );
    assert!(err.contains("client_secret"), "{err}");
    let err = refused(
        r#"
        [identity.providers.github]
        kind = "github"
        client_id = "h"
        client_secret = "s"
        token_url = "http://example.org/token"
        "#,
    );
    assert!(err.contains("token_url"), "{err}");
    let err = refused(
        r#"
        [identity.providers."Git Hub"]
        kind = "github"
        client_id = "h"
        client_secret = "s"
        "#,
    );
    assert!(err.contains("name"), "{err}");
    let err = refused(
        r#"
        [identity.providers.github]
        kind = "github"
        client_id = "h"
        client_secret = "s"
        identity_domain = "github.com/evil"
        "#,
    );
    assert!(err.contains("identity_domain"), "{err}");

    // A disabled provider is listed without being checked.
    let table = parse(
        r#"
        [identity.providers.github]
        kind = "github"
        client_id = "h"
        client_secret_file = "/nonexistent/secret"
        enabled = false
        "#,
    )
    .expect("parse");
    assert_eq!(providers_from_table(table).expect("listed").len(), 1);
}

#[test]
fn secret_from_file() {
    let dir = std::env::temp_dir().join(format!("openpeer-idp-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("github");
    std::fs::write(&path, "file-secret-value\n").expect("write secret");

    let mut config = ProviderConfig::new("github", ProviderKind::Github, "h");
    config.client_secret_file = path.display().to_string();
    let secret = config.resolve_secret().expect("read").expect("present");
    assert_eq!(secret.expose(), "file-secret-value");
    config.validate().expect("valid with a secret file");

    config.client_secret = Secret::new("inline");
    let err = config.resolve_secret().expect_err("both set");
    assert!(err.to_string().contains("not both"), "{err}");

    config.client_secret = Secret::default();
    std::fs::write(&path, "\n").expect("write secret");
    assert!(config.resolve_secret().is_err(), "empty file");

    config.client_secret_file = dir.join("missing").display().to_string();
    let err = config.resolve_secret().expect_err("missing file");
    assert!(err.to_string().contains("missing"), "{err}");

    config.client_secret_file = String::new();
    config.client_secret = Secret::new("inline");
    assert_eq!(
        config
            .resolve_secret()
            .expect("inline")
            .expect("present")
            .expose(),
        "inline"
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn debug_redacts_the_secret() {
    let config = one(r#"
        [identity.providers.github]
        kind = "github"
        client_id = "public-client-id"
        client_secret = "very-secret-value"
        "#);
    let shown = format!("{config:?}");
    assert!(!shown.contains("very-secret-value"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
    assert!(shown.contains("public-client-id"), "{shown}");
    assert_eq!(format!("{:?}", Secret::default()), "\"\"");
}
