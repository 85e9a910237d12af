//! Envelope, method table and error-result vectors (spec §1.2–§1.4, §9, §11 "Error encoding",
//! "Single-vs-array normalisation"). Expected strings are written by hand from the spec.

use proptest::prelude::*;

use super::*;
use crate::error::{Error, ResultCode};
use crate::json::{Object, Value};

const SERVICES_GET: &str = r#"{"request":{"$domain":"example.org","$handler":"bootstrapper","$id":"abc","$method":"services-get"}}"#;

fn envelope_of(text: &str) -> Envelope {
    decode(text).unwrap().envelope
}

fn code_of(text: &str) -> u16 {
    decode(text).unwrap_err().result_code().code()
}

fn method_code_of(text: &str) -> u16 {
    Error::from(decode(text).unwrap().method().unwrap_err())
        .result_code()
        .code()
}

#[test]
fn decodes_a_request_envelope_and_body() {
    let message = decode(
        r#"{"request":{"$domain":"example.org","$appid":"app-r-1-m","$id":"abc","$handler":"bootstrapped-finders","$method":"finders-get","$timestamp":1400000000,"servers":2}}"#,
    )
    .unwrap();
    assert_eq!(
        message.envelope,
        Envelope {
            kind: MessageKind::Request,
            domain: Some("example.org".into()),
            app_id: Some("app-r-1-m".into()),
            id: Some("abc".into()),
            handler: Some("bootstrapped-finders".into()),
            method: Some("finders-get".into()),
            timestamp: Some(1_400_000_000),
        }
    );
    assert_eq!(message.method(), Ok(Method::FindersGet));
    assert_eq!(message.body, Object::new().with("servers", 2u64));
}

#[test]
fn encodes_an_error_result_exactly() {
    let request = envelope_of(SERVICES_GET);
    let result = Message::error_for(&request, 1_400_000_000, ResultCode::NotFound, None, None);
    assert_eq!(
        encode(&result),
        r##"{"result":{"$domain":"example.org","$handler":"bootstrapper","$id":"abc","$method":"services-get","$timestamp":1400000000,"error":{"$id":404,"#text":"Not Found"}}}"##
    );
}

#[test]
fn encodes_a_redirect_with_location() {
    let request = envelope_of(SERVICES_GET);
    let result = Message::error_for(&request, 9, ResultCode::Found, None, Some("https://x/"));
    assert_eq!(
        encode(&result),
        r##"{"result":{"$domain":"example.org","$handler":"bootstrapper","$id":"abc","$method":"services-get","$timestamp":9,"error":{"$id":302,"#text":"Found","location":"https://x/"}}}"##
    );
    let error = decode(&encode(&result)).unwrap().error().unwrap().unwrap();
    assert_eq!(
        error,
        ErrorResult {
            code: 302,
            reason: "Found".into(),
            location: Some("https://x/".into()),
        }
    );
}

#[test]
fn a_given_reason_replaces_the_standard_phrase() {
    let request = envelope_of(SERVICES_GET);
    let result = Message::error_for(
        &request,
        1,
        ResultCode::Forbidden,
        Some("Invalid Token"),
        None,
    );
    assert!(encode(&result).ends_with(r##""error":{"$id":403,"#text":"Invalid Token"}}}"##));
}

#[test]
fn every_code_round_trips_through_an_error_result() {
    let request = envelope_of(
        r#"{"request":{"$appid":"a","$domain":"d.example","$handler":"identity-lockbox","$id":"7f","$method":"lockbox-access"}}"#,
    );
    for code in ResultCode::ALL {
        let text = encode(&Message::error_for(
            &request,
            1_400_000_000,
            code,
            None,
            None,
        ));
        let decoded = decode(&text).unwrap();
        assert_eq!(
            decoded.envelope,
            Envelope {
                kind: MessageKind::Result,
                timestamp: Some(1_400_000_000),
                ..request.clone()
            }
        );
        let error = decoded.error().unwrap().unwrap();
        assert_eq!(error.result_code(), Some(code), "{text}");
        assert_eq!(error.reason, code.reason());
        assert_eq!(error.location, None);
    }
}

#[test]
fn results_echo_the_envelope_verbatim() {
    // Aliases and an unknown `$`-attribute are echoed as received, not normalised.
    let request = decode(
        r#"{"request":{"$appid":"app:x:1:ff","$domain":"example.org","$handler":"lockbox","$id":"42","$method":"access","$x":"kept","nonce":"n"}}"#,
    )
    .unwrap();
    assert_eq!(request.method(), Ok(Method::LockboxAccess));
    assert_eq!(request.body.get_str("$x"), Some("kept"));
    let body = Object::new().with(
        "lockbox",
        Object::new()
            .with("$id", "acct")
            .with("domain", "example.org"),
    );
    assert_eq!(
        encode(&Message::result_for(&request.envelope, 5, body)),
        r#"{"result":{"$appid":"app:x:1:ff","$domain":"example.org","$handler":"lockbox","$id":"42","$method":"access","$timestamp":5,"lockbox":{"$id":"acct","domain":"example.org"}}}"#
    );
}

#[test]
fn a_result_without_id_echoes_none() {
    let request =
        envelope_of(r#"{"request":{"$handler":"bootstrapper","$method":"services-get"}}"#);
    assert_eq!(
        encode(&Message::result_for(&request, 3, Object::new())),
        r#"{"result":{"$handler":"bootstrapper","$method":"services-get","$timestamp":3}}"#
    );
}

#[test]
fn numeric_id_is_read_as_its_text() {
    let envelope =
        envelope_of(r#"{"request":{"$handler":"p2p","$id":12,"$method":"peer-keep-alive"}}"#);
    assert_eq!(envelope.id.as_deref(), Some("12"));
}

#[test]
fn error_document_has_nothing_to_echo_and_still_decodes() {
    let message = Message::error_document(ResultCode::BadRequest, None, 7);
    let text = encode(&message);
    assert_eq!(
        text,
        r##"{"result":{"$timestamp":7,"error":{"$id":400,"#text":"Bad Request"}}}"##
    );
    let decoded = decode(&text).unwrap();
    assert_eq!(decoded, message);
    assert_eq!(decoded.error().unwrap().unwrap().code, 400);
    assert_eq!(
        decoded.method(),
        Err(EnvelopeError::MissingAttribute { name: "$handler" })
    );
}

#[test]
fn epoch_reads_as_timestamp_and_is_never_written() {
    let message = decode(
        r#"{"result":{"$epoch":1400000001,"$handler":"identity","$id":"i","$method":"identity-access-validate"}}"#,
    )
    .unwrap();
    assert_eq!(message.envelope.timestamp, Some(1_400_000_001));
    assert!(message.body.is_empty());
    assert_eq!(
        encode(&message),
        r#"{"result":{"$handler":"identity","$id":"i","$method":"identity-access-validate","$timestamp":1400000001}}"#
    );
    // Both present: they must agree.
    let both = r#"{"result":{"$epoch":2,"$timestamp":2}}"#;
    assert_eq!(envelope_of(both).timestamp, Some(2));
    assert_eq!(code_of(r#"{"result":{"$epoch":2,"$timestamp":3}}"#), 400);
}

#[test]
fn timestamp_reads_quoted_or_not_and_is_written_unquoted() {
    for text in [
        r#"{"notify":{"$handler":"p2p","$method":"peer-keep-alive","$timestamp":1400000000}}"#,
        r#"{"notify":{"$handler":"p2p","$method":"peer-keep-alive","$timestamp":"1400000000"}}"#,
    ] {
        let message = decode(text).unwrap();
        assert_eq!(message.envelope.timestamp, Some(1_400_000_000));
        assert_eq!(
            encode(&message),
            r#"{"notify":{"$handler":"p2p","$method":"peer-keep-alive","$timestamp":1400000000}}"#
        );
    }
    for bad in [r#""x""#, "-1", "1.5", r#""""#, "true", "null"] {
        let text = format!(
            r#"{{"request":{{"$handler":"p2p","$method":"peer-keep-alive","$timestamp":{bad}}}}}"#
        );
        assert_eq!(
            decode(&text).unwrap_err(),
            Error::Envelope(EnvelopeError::BadAttribute {
                name: "$timestamp",
                reason: "not an unsigned integer",
            }),
            "{bad}"
        );
    }
}

#[test]
fn reply_reads_as_notify_and_is_written_as_notify() {
    let text = r#"{"reply":{"$domain":"example.org","$handler":"peer-finder","$id":"f1","$method":"peer-location-find"}}"#;
    let message = decode(text).unwrap();
    assert_eq!(message.envelope.kind, MessageKind::Notify);
    assert_eq!(message.method(), Ok(Method::PeerLocationFind));
    assert_eq!(
        encode(&message),
        r#"{"notify":{"$domain":"example.org","$handler":"peer-finder","$id":"f1","$method":"peer-location-find"}}"#
    );
}

#[test]
fn reads_all_three_error_shapes() {
    let expected = |code: u16, reason: &str| ErrorResult {
        code,
        reason: reason.into(),
        location: None,
    };
    for (error, want) in [
        // C++ form, unquoted and quoted code.
        (
            r##"{"$id":404,"#text":"Not Found"}"##,
            expected(404, "Not Found"),
        ),
        (
            r##"{"$id":"404","#text":"Not Found"}"##,
            expected(404, "Not Found"),
        ),
        // Spec form.
        (
            r##"{"reason":{"$id":404,"#text":"Not Found"}}"##,
            expected(404, "Not Found"),
        ),
        (
            r##"{"reason":{"$id":"424","#text":"Failed Rolodex Token Dependency"}}"##,
            expected(424, "Failed Rolodex Token Dependency"),
        ),
        // Node IdP form.
        (
            r#"{"$id":403,"reason":"Invalid Token"}"#,
            expected(403, "Invalid Token"),
        ),
        (
            r#"{"$id":"403","reason":"Invalid Token"}"#,
            expected(403, "Invalid Token"),
        ),
        // A code with no text.
        (r#"{"$id":480}"#, expected(480, "")),
    ] {
        let text = format!(
            r#"{{"result":{{"$handler":"identity","$id":"1","$method":"identity-access-validate","error":{error}}}}}"#
        );
        assert_eq!(decode(&text).unwrap().error(), Some(Ok(want)), "{error}");
    }
}

#[test]
fn refuses_malformed_error_elements() {
    for (error, reason) in [
        (r#""Not Found""#, "error is not an element"),
        (r##"{"#text":"Not Found"}"##, "error has no code"),
        (r#"{"text":"Not Found"}"#, "error has no code"),
        (r#"{"reason":"Not Found"}"#, "error has no code"),
        (r#"{"$id":"abc"}"#, "error code is not a three-digit number"),
        (r#"{"$id":70000}"#, "error code is not a three-digit number"),
        (r#"{"$id":42}"#, "error code is not a three-digit number"),
        (
            r#"{"$id":404,"reason":{"a":"b"}}"#,
            "error reason is not text",
        ),
        (
            r#"{"$id":302,"location":{"a":"b"}}"#,
            "error location is not text",
        ),
    ] {
        let text = format!(r#"{{"result":{{"error":{error}}}}}"#);
        let got = decode(&text).unwrap().error();
        assert_eq!(
            got,
            Some(Err(EnvelopeError::MalformedError(reason))),
            "{error}"
        );
        assert_eq!(
            Error::from(got.unwrap().unwrap_err()).result_code(),
            ResultCode::BadRequest
        );
    }
}

#[test]
fn only_results_carry_errors() {
    let request = decode(
        r##"{"request":{"$handler":"p2p","$method":"peer-identify","error":{"$id":404,"#text":"x"}}}"##,
    )
    .unwrap();
    assert_eq!(request.error(), None);
    let ok = decode(r#"{"result":{"$handler":"p2p","$method":"peer-identify"}}"#).unwrap();
    assert_eq!(ok.error(), None);
}

#[test]
fn unknown_handler_or_method_is_501_and_echoed() {
    assert_eq!(
        method_code_of(r#"{"request":{"$handler":"push-mailbox","$id":"1","$method":"access"}}"#),
        501
    );
    assert_eq!(
        method_code_of(r#"{"request":{"$handler":"peer-finder","$id":"1","$method":"nope"}}"#),
        501
    );
    // A G3 alias is not accepted under another handler.
    assert_eq!(
        method_code_of(r#"{"request":{"$handler":"rolodex","$id":"1","$method":"access"}}"#),
        501
    );
    let message = decode(r#"{"request":{"$handler":"nope","$id":"1","$method":"x"}}"#).unwrap();
    let error = Error::from(message.method().unwrap_err());
    assert_eq!(
        error,
        Error::Envelope(EnvelopeError::UnknownHandler {
            handler: "nope".into()
        })
    );
    let result = Message::error_for(&message.envelope, 5, error.result_code(), None, None);
    assert_eq!(
        encode(&result),
        r##"{"result":{"$handler":"nope","$id":"1","$method":"x","$timestamp":5,"error":{"$id":501,"#text":"Not Implemented"}}}"##
    );
}

#[test]
fn malformed_documents_are_400() {
    for (text, error) in [
        (
            r#"{"request":{"$handler":"bootstrapper""#,
            None, // JSON parse error
        ),
        (r#"[{"request":{}}]"#, None),
        (
            r#"{"request":{"$handler":"bootstrapper","$id":"1"}}"#,
            Some(EnvelopeError::MissingAttribute { name: "$method" }),
        ),
        (
            r#"{"notify":{"$method":"peer-keep-alive"}}"#,
            Some(EnvelopeError::MissingAttribute { name: "$handler" }),
        ),
        (
            r#"{"request":{"$handler":"bootstrapper","$method":"services-get"},"notify":{}}"#,
            Some(EnvelopeError::RootCount { count: 2 }),
        ),
        (r#"{}"#, Some(EnvelopeError::RootCount { count: 0 })),
        (r#"{"request":"x"}"#, Some(EnvelopeError::RootNotObject)),
        (
            r#"{"request":[{"$handler":"bootstrapper","$method":"services-get"}]}"#,
            Some(EnvelopeError::RootNotObject),
        ),
        (r#"{"request":""}"#, Some(EnvelopeError::RootNotObject)),
        (
            r#"{"query":{}}"#,
            Some(EnvelopeError::UnknownKind {
                name: "query".into(),
            }),
        ),
        (
            r#"{"request":{"$handler":5,"$method":"services-get"}}"#,
            Some(EnvelopeError::BadAttribute {
                name: "$handler",
                reason: "not a string",
            }),
        ),
        (
            r#"{"request":{"$domain":null,"$handler":"bootstrapper","$method":"services-get"}}"#,
            Some(EnvelopeError::BadAttribute {
                name: "$domain",
                reason: "not a string",
            }),
        ),
        (
            r#"{"request":{"$handler":"p2p","$id":true,"$method":"peer-identify"}}"#,
            Some(EnvelopeError::BadAttribute {
                name: "$id",
                reason: "not a string or number",
            }),
        ),
    ] {
        let got = decode(text).unwrap_err();
        assert_eq!(got.result_code(), ResultCode::BadRequest, "{text}");
        match error {
            Some(error) => assert_eq!(got, Error::Envelope(error), "{text}"),
            None => assert!(matches!(got, Error::Parse(_)), "{text}"),
        }
    }
}

#[test]
fn resolves_handler_aliases_and_g3_names() {
    for (handler, method, want) in [
        ("lockbox", "lockbox-access", Method::LockboxAccess),
        ("identity-lockbox", "access", Method::LockboxAccess),
        ("identity-lockbox", "content-get", Method::LockboxContentGet),
        ("lockbox", "content-get", Method::LockboxContentGet),
        ("bootstrapper-finder", "finders-get", Method::FindersGet),
        ("identity-lookup", "lookup", Method::IdentityLookup),
        ("identity-lookup", "check", Method::IdentityLookupCheck),
        ("identity", "access-start", Method::IdentityAccessStart),
        ("peer", "services-get", Method::PeerServicesGet),
        ("bootstrapper", "services-get", Method::ServicesGet),
    ] {
        assert_eq!(
            Method::resolve(handler, method),
            Ok(want),
            "{handler}/{method}"
        );
    }
    assert_eq!(Method::LockboxAccess.handler().as_str(), "identity-lockbox");
    assert_eq!(Method::LockboxAccess.name(), "lockbox-access");
    assert_eq!(
        Method::FindersGet.to_string(),
        "bootstrapped-finders/finders-get"
    );
    assert_eq!(
        Method::resolve("Bootstrapper", "services-get"),
        Err(EnvelopeError::UnknownHandler {
            handler: "Bootstrapper".into()
        })
    );
}

#[test]
fn envelope_new_writes_c14_names() {
    let mut envelope = Envelope::new(MessageKind::Request, Method::LockboxContentGet);
    envelope.id = Some("r1".into());
    let message = Message::new(envelope, Object::new().with("nonce", "n"));
    assert_eq!(
        encode(&message),
        r#"{"request":{"$handler":"identity-lockbox","$id":"r1","$method":"lockbox-content-get","nonce":"n"}}"#
    );
}

#[test]
fn the_table_is_complete_and_unambiguous() {
    assert_eq!(Handler::ALL.len(), 13);
    assert_eq!(Method::ALL.len(), METHODS.len());
    for (i, method) in Method::ALL.iter().enumerate() {
        assert_eq!(METHODS[i].2, *method);
        assert!(Handler::ALL.contains(&method.handler()));
    }
    let mut pairs: Vec<(Handler, &str)> = METHODS
        .iter()
        .chain(ALIASES)
        .map(|&(h, n, _)| (h, n))
        .collect();
    let all = pairs.len();
    pairs.sort_by_key(|&(h, n)| (h.as_str(), n));
    pairs.dedup();
    assert_eq!(pairs.len(), all, "a (handler, name) pair names two methods");
    for handler in Handler::ALL {
        assert_eq!(Handler::parse(handler.as_str()), Some(*handler));
    }
    assert_eq!(Handler::parse("lockbox"), Some(Handler::IdentityLockbox));
    assert_eq!(
        Handler::parse("bootstrapper-finder"),
        Some(Handler::BootstrappedFinders)
    );
    assert_eq!(MessageKind::parse("reply"), Some(MessageKind::Notify));
    for kind in MessageKind::ALL {
        assert_eq!(MessageKind::parse(kind.as_str()), Some(kind));
    }
}

#[test]
fn single_and_array_children_read_the_same() {
    let one = decode(
        r#"{"result":{"$handler":"peer-salt","$method":"signed-salt-get","salts":{"saltBundle":{"salt":"a"}}}}"#,
    )
    .unwrap();
    let many = decode(
        r#"{"result":{"$handler":"peer-salt","$method":"signed-salt-get","salts":{"saltBundle":[{"salt":"a"}]}}}"#,
    )
    .unwrap();
    let bundles = |m: &Message| {
        m.body
            .get_object("salts")
            .unwrap()
            .get_list("saltBundle")
            .to_vec()
    };
    assert_eq!(bundles(&one), bundles(&many));
    assert_eq!(bundles(&one).len(), 1);
    assert_eq!(
        bundles(&one)[0].as_object().unwrap().get_str("salt"),
        Some("a")
    );
    // Canonical output writes a group of one without brackets: both encode identically.
    assert_eq!(encode(&one), encode(&many));
}

#[test]
fn from_list_writes_one_as_object_and_several_as_array() {
    let item = |s: &str| Value::from(Object::new().with("uri", s));
    let envelope = Envelope::new(MessageKind::Result, Method::IdentityLookupCheck);
    let body = |items: Vec<Value>| {
        Object::new().with(
            "identities",
            Object::new().with("identity", Value::from_list(items)),
        )
    };
    assert_eq!(
        encode(&Message::new(
            envelope.clone(),
            body(vec![item("identity://a/x")])
        )),
        r#"{"result":{"$handler":"identity-lookup","$method":"identity-lookup-check","identities":{"identity":{"uri":"identity://a/x"}}}}"#
    );
    assert_eq!(
        encode(&Message::new(
            envelope.clone(),
            body(vec![item("identity://a/x"), item("identity://a/y")])
        )),
        r#"{"result":{"$handler":"identity-lookup","$method":"identity-lookup-check","identities":{"identity":[{"uri":"identity://a/x"},{"uri":"identity://a/y"}]}}}"#
    );
    // And both read back as lists of the same length.
    let decoded = decode(&encode(&Message::new(
        envelope,
        body(vec![item("identity://a/x")]),
    )))
    .unwrap();
    let identities = decoded.body.get_object("identities").unwrap();
    assert_eq!(identities.get_list("identity").len(), 1);
}

#[test]
fn body_member_order_is_kept_and_output_is_canonical() {
    let message =
        decode(r#"{"request":{"z":"1","$method":"peer-get","a":"2","$handler":"peer-common"}}"#)
            .unwrap();
    let keys: Vec<&str> = message.body.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["z", "a"]);
    assert_eq!(
        encode(&message),
        r#"{"request":{"$handler":"peer-common","$method":"peer-get","a":"2","z":"1"}}"#
    );
}

proptest! {
    #[test]
    fn every_table_entry_round_trips(index in 0..METHODS.len() + ALIASES.len()) {
        let (handler, name, method) = METHODS.iter().chain(ALIASES).nth(index).copied().unwrap();
        prop_assert_eq!(Method::resolve(handler.as_str(), name), Ok(method));
        prop_assert_eq!(method.handler(), handler);
        prop_assert_eq!(
            Method::resolve(method.handler().as_str(), method.name()),
            Ok(method)
        );
        if index < METHODS.len() {
            prop_assert_eq!(method.name(), name);
        }
    }

    #[test]
    fn envelopes_round_trip(
        index in 0..METHODS.len(),
        kind in 0..3usize,
        domain in proptest::option::of("[a-z0-9.-]{1,20}"),
        app_id in proptest::option::of("\\PC{0,20}"),
        id in proptest::option::of("\\PC{0,32}"),
        timestamp in proptest::option::of(any::<u64>()),
        value in "\\PC{0,20}",
    ) {
        let mut envelope = Envelope::new(MessageKind::ALL[kind], METHODS[index].2);
        envelope.domain = domain;
        envelope.app_id = app_id;
        envelope.id = id;
        envelope.timestamp = timestamp;
        let message = Message::new(envelope, Object::new().with("value", value));
        prop_assert_eq!(decode(&encode(&message)), Ok(message));
    }
}

#[test]
fn a_rendered_body_encodes_byte_identically() {
    let body = crate::json::parse(
        r#"{"services":{"service":[{"type":"b","$id":"x"},{"type":"a","$id":"y"}]},"alpha":"1"}"#,
    )
    .unwrap();
    let rendered = RenderedBody::new(&body).unwrap();
    let request = Message::from_document(
        crate::json::parse(r#"{"request":{"$domain":"example.org","$id":"i","$handler":"bootstrapper","$method":"services-get","$appid":"a"}}"#).unwrap(),
    )
    .unwrap();
    let with_timestamp = request.envelope.result_envelope(1_400_000_000);
    let mut bare = Envelope::new(MessageKind::Result, Method::ServicesGet);
    bare.handler = None;
    bare.method = None;
    for envelope in [with_timestamp, bare] {
        assert_eq!(
            encode_rendered(&envelope, &rendered),
            encode(&Message::new(envelope.clone(), body.clone()))
        );
    }
    assert!(RenderedBody::new(&Object::new()).is_none());
    assert!(RenderedBody::new(&crate::json::parse(r#"{"$x":"1","a":"2"}"#).unwrap()).is_none());
    assert!(
        RenderedBody::new(&crate::json::parse(r##"{"#text":"t","a":"2"}"##).unwrap()).is_none()
    );
}
