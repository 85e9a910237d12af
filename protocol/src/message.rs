//! The message envelope (spec §1.2), the handler/method table (§1.4) and the error result
//! (§1.3).
//!
//! A document is `{"request"|"result"|"notify": {…}}`. Inside, the envelope attributes
//! (`$domain`, `$appid`, `$id`, `$handler`, `$method`, `$timestamp`) become an [`Envelope`] and
//! every other member is the [`Message::body`]. The envelope keeps `$handler`/`$method` as
//! received, so that a request naming an unknown method still decodes and can be answered with a
//! 501 that echoes it; [`Envelope::method`] resolves them to a [`Method`] separately.
//!
//! Input accepts the variants of spec §9 (`reply` for `notify`, `$epoch` for `$timestamp`, the
//! `lockbox` and `bootstrapper-finder` handlers, G3 short method names, three error shapes);
//! output writes only the C14 form, through [`crate::canonical::render_object`].

use std::fmt;

use crate::canonical::render_object;
use crate::error::{Error, ResultCode};
use crate::json::{self, Object, Value};

const DOMAIN: &str = "$domain";
const APP_ID: &str = "$appid";
const ID: &str = "$id";
const HANDLER: &str = "$handler";
const METHOD: &str = "$method";
const TIMESTAMP: &str = "$timestamp";
/// The node IdP's name for `$timestamp` (spec §1.2, §9); read, never written.
const EPOCH: &str = "$epoch";
/// The member of a result that carries its error (spec §1.3).
const ERROR: &str = "error";

/// Why a document is not a well-formed message (spec §1.2, §1.3).
///
/// [`Error::result_code`] maps the unknown handler/method variants to 501 and all others to 400.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The document does not have exactly one top-level key.
    #[error("a message has exactly one top-level key, found {count}")]
    RootCount {
        /// How many top-level keys there were.
        count: usize,
    },
    /// The top-level key is not `request`, `result`, `notify` or `reply`.
    #[error("unknown message kind {name:?}")]
    UnknownKind {
        /// The key as received.
        name: String,
    },
    /// The value of the top-level key is not an element.
    #[error("the message root is not an object")]
    RootNotObject,
    /// A required envelope attribute is absent.
    #[error("missing envelope attribute {name}")]
    MissingAttribute {
        /// The attribute, e.g. `$method`.
        name: &'static str,
    },
    /// An envelope attribute has the wrong type or value.
    #[error("malformed envelope attribute {name}: {reason}")]
    BadAttribute {
        /// The attribute, e.g. `$timestamp`.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `$handler` names no handler of spec §1.4 (501).
    #[error("unknown handler {handler:?}")]
    UnknownHandler {
        /// `$handler` as received.
        handler: String,
    },
    /// `$method` is not a method of a known `$handler` (501).
    #[error("unknown method {method:?} of handler {handler:?}")]
    UnknownMethod {
        /// `$handler` as received.
        handler: String,
        /// `$method` as received.
        method: String,
    },
    /// A result's `error` element has none of the shapes of spec §1.3.
    #[error("malformed error element: {0}")]
    MalformedError(&'static str),
}

/// The top-level key of a document (spec §1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// `request`: answered by a `result` with the same `$id`.
    Request,
    /// `result`: the answer to a request, possibly an `error`.
    Result,
    /// `notify`: no answer expected. The 2013 spec's `reply` reads as this (§9).
    Notify,
}

impl MessageKind {
    /// Every kind.
    pub const ALL: [MessageKind; 3] = [
        MessageKind::Request,
        MessageKind::Result,
        MessageKind::Notify,
    ];

    /// The C14 top-level key.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Request => "request",
            MessageKind::Result => "result",
            MessageKind::Notify => "notify",
        }
    }

    /// The kind of a top-level key; `reply` (spec §1.2, §9) reads as [`MessageKind::Notify`].
    pub fn parse(name: &str) -> Option<MessageKind> {
        match name {
            "request" => Some(MessageKind::Request),
            "result" => Some(MessageKind::Result),
            "notify" | "reply" => Some(MessageKind::Notify),
            _ => None,
        }
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Declares [`Handler`] from one list of (variant, C14 name, input aliases).
macro_rules! handlers {
    ($($(#[$doc:meta])* $variant:ident = $name:literal $(| $alias:literal)*;)*) => {
        /// A `$handler`: the service namespace of a method (spec §1.4).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Handler {
            $($(#[$doc])* $variant,)*
        }

        impl Handler {
            /// Every handler, in the order of spec §1.4.
            pub const ALL: &[Handler] = &[$(Handler::$variant,)*];

            /// The C14 name, the only one written (spec §9).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Handler::$variant => $name,)*
                }
            }

            /// The handler of a `$handler` name, C14 or one of its older aliases (spec §9).
            pub fn parse(name: &str) -> Option<Handler> {
                match name {
                    $($name $(| $alias)* => Some(Handler::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

handlers! {
    /// `bootstrapper` (§6.1).
    Bootstrapper = "bootstrapper";
    /// `certificates` (§6.2).
    Certificates = "certificates";
    /// `bootstrapped-finders` (§6.3); the spec example writes `bootstrapper-finder`.
    BootstrappedFinders = "bootstrapped-finders" | "bootstrapper-finder";
    /// `peer-salt` (§6.4).
    PeerSalt = "peer-salt";
    /// `identity` (§6.5).
    Identity = "identity";
    /// `identity-lookup` (§6.6).
    IdentityLookup = "identity-lookup";
    /// `identity-lockbox` (§6.7); the spec examples and the JS SDK write `lockbox`.
    IdentityLockbox = "identity-lockbox" | "lockbox";
    /// `namespace-grant` (§6.8).
    NamespaceGrant = "namespace-grant";
    /// `rolodex` (§6.9).
    Rolodex = "rolodex";
    /// `peer` (§6.10).
    Peer = "peer";
    /// `peer-finder` (§6.11).
    PeerFinder = "peer-finder";
    /// `p2p` (§6.12).
    P2p = "p2p";
    /// `peer-common` (§6.12).
    PeerCommon = "peer-common";
}

impl fmt::Display for Handler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Declares [`Method`] and its tables from one list of (variant, handler, G2 name, G3 aliases),
/// so that parsing and emitting read the same entries.
macro_rules! methods {
    ($($(#[$doc:meta])* $variant:ident = $handler:ident, $name:literal $(| $alias:literal)*;)*) => {
        /// A (`$handler`, `$method`) pair of spec §1.4, named by its G2 method name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Method {
            $($(#[$doc])* $variant,)*
        }

        /// (handler, G2 `$method` name, method): the names every method is written with.
        const METHODS: &[(Handler, &str, Method)] = &[
            $((Handler::$handler, $name, Method::$variant),)*
        ];

        /// (handler, G3 short name, method): accepted on input only (spec §0.1, §9).
        const ALIASES: &[(Handler, &str, Method)] = &[
            $($((Handler::$handler, $alias, Method::$variant),)*)*
        ];

        impl Method {
            /// Every method, in the order of spec §1.4.
            pub const ALL: &[Method] = &[$(Method::$variant,)*];

            /// The handler this method belongs to.
            pub fn handler(self) -> Handler {
                match self {
                    $(Method::$variant => Handler::$handler,)*
                }
            }

            /// The G2 `$method` name, the only one written.
            pub fn name(self) -> &'static str {
                match self {
                    $(Method::$variant => $name,)*
                }
            }
        }
    };
}

// G3 short names (C15) are accepted only where spec §9 lists them, and each only under the one
// handler where it is unambiguous: identity `access-start`, identity-lookup `check`/`lookup`,
// identity-lockbox `access`/`content-get`, peer `services-get`.
methods! {
    /// `bootstrapper / services-get` (§6.1).
    ServicesGet = Bootstrapper, "services-get";
    /// `certificates / certificates-get` (§6.2).
    CertificatesGet = Certificates, "certificates-get";
    /// `bootstrapped-finders / finders-get` (§6.3).
    FindersGet = BootstrappedFinders, "finders-get";
    /// `peer-salt / signed-salt-get` (§6.4).
    SignedSaltGet = PeerSalt, "signed-salt-get";
    /// `identity / identity-access-window`, inner → outer frame (§6.5).
    IdentityAccessWindow = Identity, "identity-access-window";
    /// `identity / identity-access-start`, outer → inner frame (§6.5); G3 `access-start`.
    IdentityAccessStart = Identity, "identity-access-start" | "access-start";
    /// `identity / identity-access-complete`, inner → outer frame (§6.5).
    IdentityAccessComplete = Identity, "identity-access-complete";
    /// `identity / identity-access-lockbox-update` (§6.5).
    IdentityAccessLockboxUpdate = Identity, "identity-access-lockbox-update";
    /// `identity / identity-access-rolodex-credentials-get` (§6.5).
    IdentityAccessRolodexCredentialsGet = Identity, "identity-access-rolodex-credentials-get";
    /// `identity / identity-access-validate`, service → IdP over HTTPS (§6.5).
    IdentityAccessValidate = Identity, "identity-access-validate";
    /// `identity / identity-lookup-update`, client → IdP over HTTPS (§6.5).
    IdentityLookupUpdate = Identity, "identity-lookup-update";
    /// `identity / identity-sign`, G1 spec only (§6.5).
    IdentitySign = Identity, "identity-sign";
    /// `identity-lookup / identity-lookup-check` (§6.6); G3 `check`.
    IdentityLookupCheck = IdentityLookup, "identity-lookup-check" | "check";
    /// `identity-lookup / identity-lookup` (§6.6); G3 `lookup`.
    IdentityLookup = IdentityLookup, "identity-lookup" | "lookup";
    /// `identity-lockbox / lockbox-access` (§6.7); G3 `access`.
    LockboxAccess = IdentityLockbox, "lockbox-access" | "access";
    /// `identity-lockbox / lockbox-access-validate`, service → lockbox (§6.7).
    LockboxAccessValidate = IdentityLockbox, "lockbox-access-validate";
    /// `identity-lockbox / lockbox-identities-update` (§6.7).
    LockboxIdentitiesUpdate = IdentityLockbox, "lockbox-identities-update";
    /// `identity-lockbox / lockbox-content-get` (§6.7); G3 `content-get`.
    LockboxContentGet = IdentityLockbox, "lockbox-content-get" | "content-get";
    /// `identity-lockbox / lockbox-content-set` (§6.7).
    LockboxContentSet = IdentityLockbox, "lockbox-content-set";
    /// `identity-lockbox / lockbox-namespace-grant-challenge-validate` (§6.7).
    LockboxNamespaceGrantChallengeValidate =
        IdentityLockbox, "lockbox-namespace-grant-challenge-validate";
    /// `namespace-grant / namespace-grant-window`, inner → outer frame (§6.8).
    NamespaceGrantWindow = NamespaceGrant, "namespace-grant-window";
    /// `namespace-grant / namespace-grant-start`, outer → inner frame (§6.8).
    NamespaceGrantStart = NamespaceGrant, "namespace-grant-start";
    /// `namespace-grant / namespace-grant-complete`, inner → outer frame (§6.8).
    NamespaceGrantComplete = NamespaceGrant, "namespace-grant-complete";
    /// `rolodex / rolodex-access` (§6.9).
    RolodexAccess = Rolodex, "rolodex-access";
    /// `rolodex / rolodex-namespace-grant-challenge-validate` (§6.9).
    RolodexNamespaceGrantChallengeValidate =
        Rolodex, "rolodex-namespace-grant-challenge-validate";
    /// `rolodex / rolodex-contacts-get` (§6.9).
    RolodexContactsGet = Rolodex, "rolodex-contacts-get";
    /// `peer / peer-services-get`: TURN/STUN credentials (§6.10); G3 `services-get`.
    PeerServicesGet = Peer, "peer-services-get" | "services-get";
    /// `peer-finder / session-create` (§6.11).
    SessionCreate = PeerFinder, "session-create";
    /// `peer-finder / session-keep-alive` (§6.11).
    SessionKeepAlive = PeerFinder, "session-keep-alive";
    /// `peer-finder / session-delete` (§6.11).
    SessionDelete = PeerFinder, "session-delete";
    /// `peer-finder / peer-location-find` (§6.11).
    PeerLocationFind = PeerFinder, "peer-location-find";
    /// `peer-finder / channel-map`: finder relay (§6.11, §7.5).
    ChannelMap = PeerFinder, "channel-map";
    /// `peer-finder / link-hello`: the first request on a finder-to-finder link (architecture
    /// §4 "Federation"; [R]).
    LinkHello = PeerFinder, "link-hello";
    /// `p2p / peer-identify` (§6.12).
    PeerIdentify = P2p, "peer-identify";
    /// `p2p / peer-keep-alive` (§6.12).
    PeerKeepAlive = P2p, "peer-keep-alive";
    /// `peer-common / peer-publish` (§6.12).
    PeerPublish = PeerCommon, "peer-publish";
    /// `peer-common / peer-get` (§6.12).
    PeerGet = PeerCommon, "peer-get";
    /// `peer-common / peer-delete` (§6.12).
    PeerDelete = PeerCommon, "peer-delete";
    /// `peer-common / peer-subscribe` (§6.12).
    PeerSubscribe = PeerCommon, "peer-subscribe";
    /// `peer-common / peer-publish-notify` (§6.12).
    PeerPublishNotify = PeerCommon, "peer-publish-notify";
}

impl Method {
    /// The method a (`$handler`, `$method`) pair names: the handler by its C14 name or an alias,
    /// the method by its G2 name or a G3 alias of that handler (spec §1.4, §9).
    ///
    /// An unknown handler or an unknown method of a known handler is a 501 (spec §1.3).
    pub fn resolve(handler: &str, method: &str) -> Result<Method, EnvelopeError> {
        let known = Handler::parse(handler).ok_or_else(|| EnvelopeError::UnknownHandler {
            handler: handler.to_owned(),
        })?;
        METHODS
            .iter()
            .chain(ALIASES)
            .find(|(h, name, _)| *h == known && *name == method)
            .map(|&(_, _, m)| m)
            .ok_or_else(|| EnvelopeError::UnknownMethod {
                handler: handler.to_owned(),
                method: method.to_owned(),
            })
    }
}

impl fmt::Display for Method {
    /// `handler/method` in C14 names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.handler(), self.name())
    }
}

/// The envelope attributes of a message (spec §1.2), as received.
///
/// `$handler` and `$method` stay raw strings so that an unknown pair can be echoed in its 501
/// result; [`Envelope::method`] resolves them. They are required in requests and notifies; a
/// result may lack them (an error answering a document whose envelope could not be read).
/// `$domain` and `$appid` are kept verbatim for echoing; services check them with their own
/// types (e.g. [`crate::uri::DomainName`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The top-level key.
    pub kind: MessageKind,
    /// `$domain`: the domain the message is addressed to or about.
    pub domain: Option<String>,
    /// `$appid`: the authorised application id (§1.2).
    pub app_id: Option<String>,
    /// `$id`: correlates a result with its request. Optional everywhere: `services-get` may
    /// lack it (§1.2); the service decides whether it needs one.
    pub id: Option<String>,
    /// `$handler`, as received.
    pub handler: Option<String>,
    /// `$method`, as received.
    pub method: Option<String>,
    /// `$timestamp` (or `$epoch` on input): the sender's clock, Unix seconds.
    pub timestamp: Option<u64>,
}

impl Envelope {
    /// An envelope of `kind` for `method`, in C14 names, with no other attribute set.
    pub fn new(kind: MessageKind, method: Method) -> Envelope {
        Envelope {
            kind,
            domain: None,
            app_id: None,
            id: None,
            handler: Some(method.handler().as_str().to_owned()),
            method: Some(method.name().to_owned()),
            timestamp: None,
        }
    }

    /// The method `$handler`/`$method` name: 501 if unknown (spec §1.3), 400 if absent.
    pub fn method(&self) -> Result<Method, EnvelopeError> {
        let handler = self
            .handler
            .as_deref()
            .ok_or(EnvelopeError::MissingAttribute { name: HANDLER })?;
        let method = self
            .method
            .as_deref()
            .ok_or(EnvelopeError::MissingAttribute { name: METHOD })?;
        Method::resolve(handler, method)
    }

    /// The envelope of a result answering this one: `$domain`, `$appid`, `$id`, `$handler` and
    /// `$method` echoed verbatim, `$timestamp` = `now` (spec §1.2).
    pub fn result_envelope(&self, now: u64) -> Envelope {
        Envelope {
            kind: MessageKind::Result,
            domain: self.domain.clone(),
            app_id: self.app_id.clone(),
            id: self.id.clone(),
            handler: self.handler.clone(),
            method: self.method.clone(),
            timestamp: Some(now),
        }
    }

    /// Takes the envelope attributes out of a message root, leaving the body.
    fn take_from(kind: MessageKind, root: &mut Object) -> Result<Envelope, EnvelopeError> {
        let domain = take_string(root, DOMAIN)?;
        let app_id = take_string(root, APP_ID)?;
        let id = take_id(root)?;
        let handler = take_string(root, HANDLER)?;
        let method = take_string(root, METHOD)?;
        let timestamp = take_u64(root, TIMESTAMP)?;
        let epoch = take_u64(root, EPOCH)?;
        let timestamp = match (timestamp, epoch) {
            (Some(t), Some(e)) if t != e => {
                return Err(EnvelopeError::BadAttribute {
                    name: EPOCH,
                    reason: "differs from $timestamp",
                });
            }
            (t, e) => t.or(e),
        };
        if kind != MessageKind::Result {
            if handler.is_none() {
                return Err(EnvelopeError::MissingAttribute { name: HANDLER });
            }
            if method.is_none() {
                return Err(EnvelopeError::MissingAttribute { name: METHOD });
            }
        }
        Ok(Envelope {
            kind,
            domain,
            app_id,
            id,
            handler,
            method,
            timestamp,
        })
    }

    /// Writes the attributes into a message root; they replace same-named body members.
    fn write_into(&self, root: &mut Object) {
        let texts = [
            (DOMAIN, &self.domain),
            (APP_ID, &self.app_id),
            (ID, &self.id),
            (HANDLER, &self.handler),
            (METHOD, &self.method),
        ];
        for (name, value) in texts {
            if let Some(value) = value {
                root.insert(name, value);
            }
        }
        if let Some(timestamp) = self.timestamp {
            root.insert(TIMESTAMP, timestamp);
        }
    }
}

/// A string attribute, removed from `root`.
fn take_string(root: &mut Object, name: &'static str) -> Result<Option<String>, EnvelopeError> {
    match root.remove(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(EnvelopeError::BadAttribute {
            name,
            reason: "not a string",
        }),
    }
}

/// `$id`, removed from `root`: a string, or a number literal read as its text (the C++ reads
/// every attribute as text).
fn take_id(root: &mut Object) -> Result<Option<String>, EnvelopeError> {
    match root.remove(ID) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.as_str().to_owned())),
        Some(_) => Err(EnvelopeError::BadAttribute {
            name: ID,
            reason: "not a string or number",
        }),
    }
}

/// An epoch attribute, quoted or not (spec §1.1), removed from `root`.
fn take_u64(root: &mut Object, name: &'static str) -> Result<Option<u64>, EnvelopeError> {
    match root.remove(name) {
        None => Ok(None),
        Some(value) => value.as_u64().map(Some).ok_or(EnvelopeError::BadAttribute {
            name,
            reason: "not an unsigned integer",
        }),
    }
}

/// A decoded message: its envelope and the remaining members (spec §1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The envelope attributes.
    pub envelope: Envelope,
    /// Every member of the root that is not an envelope attribute, in document order. Unknown
    /// `$`-attributes stay here.
    pub body: Object,
}

impl Message {
    /// A message from its parts.
    pub fn new(envelope: Envelope, body: Object) -> Message {
        Message { envelope, body }
    }

    /// Reads a parsed document as a message (spec §1.2): exactly one top-level key among
    /// `request`, `result`, `notify` and `reply`, whose value is an element.
    pub fn from_document(mut document: Object) -> Result<Message, EnvelopeError> {
        if document.len() != 1 {
            return Err(EnvelopeError::RootCount {
                count: document.len(),
            });
        }
        let name = match document.iter().next() {
            Some((name, _)) => name.to_owned(),
            // The length check above guarantees one member.
            None => return Err(EnvelopeError::RootCount { count: 0 }),
        };
        let kind = MessageKind::parse(&name)
            .ok_or_else(|| EnvelopeError::UnknownKind { name: name.clone() })?;
        let mut root = match document.remove(&name) {
            Some(Value::Object(root)) => root,
            _ => return Err(EnvelopeError::RootNotObject),
        };
        let envelope = Envelope::take_from(kind, &mut root)?;
        Ok(Message {
            envelope,
            body: root,
        })
    }

    /// The document `{"<kind>": {envelope attributes, body}}`; the envelope replaces any
    /// same-named body member.
    pub fn to_document(&self) -> Object {
        let mut root = self.body.clone();
        self.envelope.write_into(&mut root);
        Object::new().with(self.envelope.kind.as_str(), root)
    }

    /// The method the envelope names; see [`Envelope::method`].
    pub fn method(&self) -> Result<Method, EnvelopeError> {
        self.envelope.method()
    }

    /// A successful result answering `request` (spec §1.2): the envelope echoed, `$timestamp`
    /// = `now`, and `body`.
    pub fn result_for(request: &Envelope, now: u64, body: Object) -> Message {
        Message {
            envelope: request.result_envelope(now),
            body,
        }
    }

    /// An error result answering `request` in the C++ form (spec §1.3):
    /// `"error":{"$id":code,"#text":reason}`, plus `location` when given (the 302 redirect).
    /// `reason` defaults to the code's standard phrase.
    pub fn error_for(
        request: &Envelope,
        now: u64,
        code: ResultCode,
        reason: Option<&str>,
        location: Option<&str>,
    ) -> Message {
        let error = ErrorResult {
            code: code.code(),
            reason: reason.unwrap_or(code.reason()).to_owned(),
            location: location.map(str::to_owned),
        };
        Message::result_for(request, now, Object::new().with(ERROR, error.to_object()))
    }

    /// An error result for a document whose envelope could not be read (spec §1.3): no
    /// attribute to echo, only `$timestamp` and the error.
    pub fn error_document(code: ResultCode, reason: Option<&str>, now: u64) -> Message {
        let request = Envelope {
            kind: MessageKind::Request,
            domain: None,
            app_id: None,
            id: None,
            handler: None,
            method: None,
            timestamp: None,
        };
        Message::error_for(&request, now, code, reason, None)
    }

    /// The error this result carries, if any (spec §1.3, §9). `None` for a result without an
    /// `error` member and for requests and notifies.
    pub fn error(&self) -> Option<Result<ErrorResult, EnvelopeError>> {
        if self.envelope.kind != MessageKind::Result {
            return None;
        }
        self.body.get(ERROR).map(ErrorResult::from_value)
    }
}

/// The `error` element of a result (spec §1.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorResult {
    /// The numeric code; see [`ErrorResult::result_code`] for the known ones.
    pub code: u16,
    /// The reason text, `""` if the sender gave none.
    pub reason: String,
    /// `location`: where a 302 redirects to.
    pub location: Option<String>,
}

impl ErrorResult {
    /// The code as a [`ResultCode`], if it is one we know.
    pub fn result_code(&self) -> Option<ResultCode> {
        ResultCode::from_code(self.code)
    }

    /// The C++ form `{"$id":code,"#text":reason,"location":…}` (spec §1.3).
    pub fn to_object(&self) -> Object {
        let mut error = Object::new()
            .with(ID, self.code)
            .with("#text", self.reason.as_str());
        if let Some(location) = &self.location {
            error.insert("location", location);
        }
        error
    }

    /// Reads any of the three shapes of spec §1.3/§9, the code quoted or not:
    /// `{"$id":c,"#text":r}` (C++), `{"reason":{"$id":c,"#text":r}}` (spec) and
    /// `{"$id":c,"reason":"r"}` (node IdP); `location` is read from the outer element.
    pub fn from_value(value: &Value) -> Result<ErrorResult, EnvelopeError> {
        let error = value
            .as_object()
            .ok_or(EnvelopeError::MalformedError("error is not an element"))?;
        let (coded, reason) = if error.contains_key(ID) {
            let reason = match (error.get("#text"), error.get("reason")) {
                (Some(text), _) => Some(text),
                (None, reason) => reason,
            };
            (error, reason)
        } else if let Some(Value::Object(inner)) = error.get("reason") {
            (inner, inner.get("#text"))
        } else {
            return Err(EnvelopeError::MalformedError("error has no code"));
        };
        let code = coded
            .get(ID)
            .and_then(Value::as_u64)
            .filter(|c| (100..=999).contains(c))
            .and_then(|c| u16::try_from(c).ok())
            .ok_or(EnvelopeError::MalformedError(
                "error code is not a three-digit number",
            ))?;
        let reason = match reason {
            None => String::new(),
            Some(r) => r
                .as_text()
                .ok_or(EnvelopeError::MalformedError("error reason is not text"))?
                .to_owned(),
        };
        let location = match error.get("location") {
            None => None,
            Some(l) => Some(
                l.as_text()
                    .ok_or(EnvelopeError::MalformedError("error location is not text"))?
                    .to_owned(),
            ),
        };
        Ok(ErrorResult {
            code,
            reason,
            location,
        })
    }
}

/// Parses a message (spec §1.1, §1.2). Malformed JSON and a malformed envelope are 400 by
/// [`Error::result_code`]; an unknown method is not an error here but of [`Message::method`].
pub fn decode(text: &str) -> Result<Message, Error> {
    let document = json::parse(text)?;
    Ok(Message::from_document(document)?)
}

/// Renders a message in the C14 form: canonical order puts the `$`-attributes first, sorted,
/// and epochs unquoted (spec §1.1, §2.1).
pub fn encode(message: &Message) -> String {
    render_object(&message.to_document())
}

/// A body rendered once in canonical form, for answers that are the same for every request
/// (`services-get`, `certificates-get`): per request only the envelope is rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedBody {
    /// The canonical members, without the enclosing braces.
    members: String,
}

impl RenderedBody {
    /// Renders `body`. Only child elements qualify (no `$`-attribute, no `#text`, not empty):
    /// they sort after every envelope attribute, so the rendering can follow the envelope's.
    pub fn new(body: &Object) -> Option<RenderedBody> {
        if body.is_empty() || body.iter().any(|(k, _)| k.starts_with('$') || k == "#text") {
            return None;
        }
        let full = render_object(body);
        let members = full.strip_prefix('{')?.strip_suffix('}')?.to_owned();
        Some(RenderedBody { members })
    }
}

/// Renders `envelope` with a pre-rendered body; byte-identical to [`encode`] of the same message.
pub fn encode_rendered(envelope: &Envelope, body: &RenderedBody) -> String {
    let mut root = Object::new();
    envelope.write_into(&mut root);
    let attributes = render_object(&root);
    let kind = envelope.kind.as_str();
    match attributes.strip_suffix('}') {
        // `{"$a":…,"$b":…}`: the body members follow the last attribute.
        Some(open) if open.starts_with('{') => format!("{{\"{kind}\":{open},{}}}}}", body.members),
        // No attribute at all (an empty element renders as `""`).
        _ => format!("{{\"{kind}\":{{{}}}}}", body.members),
    }
}

#[cfg(test)]
#[path = "message_test.rs"]
mod tests;
