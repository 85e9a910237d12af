//! A real coturn accepts what `peer-services-get` hands out (spec §6.10): the gateway and a
//! coturn configured with the same shared secret agree on the TURN REST API credentials, and
//! coturn refuses a forged password, an expired username and another secret's password.

mod support;

use std::time::{Duration, Instant};

use openpeer_protocol::json::Object;
use openpeer_protocol::message::Method;
use openpeer_protocol::proof::Purpose;
use openpeer_protocol::random::{random_bytes, random_string};
use openpeer_protocol::turn::{turn_rest_password, turn_rest_username};
use rand_core::OsRng;
use support::identity::{create_account, protocol};
use support::lockbox::{PEER_SERVICES, access, login, proven_body};
use support::turn::{Coturn, allocate};
use support::{TestDb, call, ok_body, start, stop, unix_now};

const LIFETIME: u64 = 600;

/// The TURN credentials of one `peer-services-get` answer.
struct TurnCredentials {
    uri: String,
    username: String,
    password: String,
    /// The service's `expires`.
    expires: u64,
}

/// The one `turn` service of a `peer-services-get` result body.
fn turn_of(body: &Object) -> TurnCredentials {
    let services = body.get_object("services").expect("services");
    let turn: Vec<&Object> = services
        .get_list("service")
        .iter()
        .map(|s| s.as_object().expect("service element"))
        .filter(|s| s.get_str("type") == Some("turn"))
        .collect();
    assert_eq!(turn.len(), 1, "one turn service: {body:?}");
    let service = turn[0];
    assert_eq!(service.get_str("version"), Some("RFC5766"));
    let methods = service.get_object("methods").expect("methods");
    let method = methods.get_list("method");
    assert_eq!(method.len(), 1, "one method: {service:?}");
    let method = method[0].as_object().expect("method element");
    assert_eq!(method.get_str("name"), Some("turn"));
    let text = |k| {
        method
            .get_str(k)
            .unwrap_or_else(|| panic!("{k}"))
            .to_owned()
    };
    TurnCredentials {
        uri: text("uri"),
        username: text("username"),
        password: text("password"),
        expires: service.get_u64("expires").expect("expires"),
    }
}

/// `password` with its first character replaced by another base64 character.
fn altered(password: &str) -> String {
    let mut chars: Vec<char> = password.chars().collect();
    chars[0] = if chars[0] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// How often coturn answered a request of `username` with 401 so far.
fn unauthorized(coturn: &Coturn, username: &str) -> usize {
    let line = format!("user <{username}>: incoming packet message processed, error 401");
    coturn.log().matches(line.as_str()).count()
}

/// Asserts that coturn grants no allocation for `username` and `password`, and that it was coturn
/// refusing them (a 401 for `username` in its log), not the client giving up for another reason.
fn refused(coturn: &Coturn, username: &str, password: &str, what: &str) {
    let before = unauthorized(coturn, username);
    let result = allocate(coturn.port(), username, password);
    assert!(result.is_err(), "coturn accepted {what}");
    // coturn may write its log line a moment after the client gave up.
    let deadline = Instant::now() + Duration::from_secs(2);
    while unauthorized(coturn, username) == before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        unauthorized(coturn, username) > before,
        "coturn logged no 401 for {what} ({result:?}): {}",
        coturn.log()
    );
}

#[test]
fn coturn_accepts_peer_services_credentials_and_refuses_others() {
    let started = Instant::now();
    let secret = random_string(&mut OsRng, 32);
    let coturn = Coturn::start(&secret);
    println!("coturn at {} ({:?})", coturn.uri(), started.elapsed());

    let db = TestDb::sqlite();
    let config = format!(
        "[peer_services]\ncredential_lifetime_seconds = {LIFETIME}\n\
         [[peer_services.turn]]\nuri = {:?}\nsecret = {secret:?}\n",
        coturn.uri()
    );
    let (lockbox, turn, asked_at) = async_std::task::block_on(async {
        create_account(&db, "alice", "correct horse").await;
        let node = start(db.settings(&config)).await;
        let addr = node.local_addr();
        let login = login(addr, "alice", "correct horse").await;
        let lockbox = access(addr, &login, &random_bytes(&mut OsRng, 32), false).await;
        let asked_at = unix_now();
        let answer = call(
            addr,
            PEER_SERVICES,
            &protocol(
                Method::PeerServicesGet,
                proven_body(&lockbox, Purpose::PeerServicesGet, Object::new()),
            ),
        )
        .await;
        let turn = turn_of(ok_body(&answer));
        stop(node).await;
        (lockbox, turn, asked_at)
    });
    println!(
        "peer-services-get: username {} ({:?})",
        turn.username,
        started.elapsed()
    );

    assert_eq!(turn.uri, coturn.uri());
    let (expiry, account) = turn
        .username
        .split_once(':')
        .unwrap_or_else(|| panic!("username {:?} is not expiry:account", turn.username));
    let expiry: u64 = expiry
        .parse()
        .unwrap_or_else(|e| panic!("expiry of {:?}: {e}", turn.username));
    assert!(
        expiry.abs_diff(asked_at + LIFETIME) <= 5,
        "expiry {expiry} is not about {asked_at} + {LIFETIME}"
    );
    assert_eq!(turn.expires, expiry, "service expires and username expiry");
    assert_eq!(account, lockbox.account_id, "account part of the username");
    assert_eq!(
        turn.password,
        turn_rest_password(&secret, &turn.username),
        "password is the TURN REST HMAC of the username"
    );

    allocate(coturn.port(), &turn.username, &turn.password).unwrap_or_else(|e| {
        panic!(
            "coturn refused the credentials peer-services-get handed out: {e}\ncoturn log: {}",
            coturn.log()
        )
    });
    println!("granted ({:?})", started.elapsed());

    refused(
        &coturn,
        &turn.username,
        &altered(&turn.password),
        "an altered password",
    );
    println!("forged password refused ({:?})", started.elapsed());

    let expired = turn_rest_username(unix_now() - 60, &lockbox.account_id);
    refused(
        &coturn,
        &expired,
        &turn_rest_password(&secret, &expired),
        "an expired username",
    );
    println!("expired username refused ({:?})", started.elapsed());

    let other_secret = random_string(&mut OsRng, 32);
    refused(
        &coturn,
        &turn.username,
        &turn_rest_password(&other_secret, &turn.username),
        "another secret's password",
    );
    println!(
        "another secret's password refused ({:?})",
        started.elapsed()
    );
}
