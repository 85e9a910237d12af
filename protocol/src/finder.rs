//! Finder framing (spec §6.11; architecture §4 "Finder transport").
//!
//! Two carriers share one model, a [`Frame`] of a channel number and a payload:
//!
//! * the C14 `multiplexed-json/tcp` framing on a plain TCP connection: u32 big-endian channel,
//!   u32 big-endian payload length, payload ([`encode_tcp_frame`], [`TcpFrameDecoder`]);
//! * the gateway's WebSocket transport: a text message is one JSON document on channel 0, and a
//!   binary message is a relay frame, u32 big-endian channel + payload, on a channel other than
//!   0 ([`encode_relay_frame`], [`decode_relay_frame`]).
//!
//! Channel 0 carries the peer⇄finder JSON messages; other channels are relay channels (§7.5).
//! A zero-length frame closes its channel, and `"\n"` on channel 0 is the client's keep-alive.

/// The channel of the peer⇄finder JSON messages (spec §6.11).
pub const CONTROL_CHANNEL: u32 = 0;

/// The keep-alive ping payload a client sends on channel 0 (spec §6.11).
pub const KEEP_ALIVE_PAYLOAD: &[u8] = b"\n";

/// Length of the C14 TCP frame header: channel and length, both u32 big-endian (spec §6.11).
pub const TCP_HEADER_LEN: usize = 8;

/// Length of the WebSocket relay frame header: the u32 big-endian channel (architecture §4).
pub const RELAY_HEADER_LEN: usize = 4;

/// Why a frame could not be encoded or decoded (spec §6.11). Any of them ends the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The payload is longer than the receiver's limit (spec §6.11: "the maximum message size
    /// is a receiver limit") or than the u32 length field can say.
    #[error("frame payload of {len} bytes exceeds the limit of {max} bytes")]
    Oversize {
        /// Announced or actual payload length.
        len: u64,
        /// The limit it broke.
        max: u64,
    },
    /// A binary relay message shorter than its 4-byte channel header.
    #[error("relay frame shorter than its 4-byte channel header")]
    Truncated,
    /// A binary relay message on channel 0, which only carries JSON text messages.
    #[error("channel 0 carries JSON text messages, not binary relay frames")]
    ControlChannelInBinary,
}

/// One frame of a finder connection: a channel number and its payload (spec §6.11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// 0 for the JSON messages, any other value for a relay channel.
    pub channel: u32,
    /// The bytes carried; empty means the channel is being closed.
    pub payload: Vec<u8>,
}

impl Frame {
    /// A zero-length frame closes its channel (spec §6.11).
    pub fn is_close(&self) -> bool {
        self.payload.is_empty()
    }

    /// `"\n"` on channel 0 is a keep-alive ping, not a JSON document (spec §6.11).
    pub fn is_keep_alive(&self) -> bool {
        self.channel == CONTROL_CHANNEL && self.payload == KEEP_ALIVE_PAYLOAD
    }
}

/// Encodes one C14 TCP frame: u32 BE channel + u32 BE length + payload (spec §6.11).
///
/// Refuses a payload longer than `u32::MAX` bytes, which the length field cannot express.
pub fn encode_tcp_frame(channel: u32, payload: &[u8]) -> Result<Vec<u8>, FrameError> {
    let len = u32::try_from(payload.len()).map_err(|_| FrameError::Oversize {
        len: payload.len() as u64,
        max: u64::from(u32::MAX),
    })?;
    let mut out = Vec::with_capacity(TCP_HEADER_LEN + payload.len());
    out.extend_from_slice(&channel.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// Splits a C14 TCP byte stream into frames (spec §6.11), however the bytes were chunked.
///
/// Feed received bytes with [`push`](Self::push), then call [`pop`](Self::pop) until it returns
/// `Ok(None)`. A header announcing more than `max_payload` bytes is refused as soon as its 8
/// bytes are in, before the payload is buffered; after that the decoder stays failed and the
/// connection must be dropped, because the stream can no longer be resynchronised.
#[derive(Debug)]
pub struct TcpFrameDecoder {
    buf: Vec<u8>,
    start: usize,
    max_payload: u32,
    failed: Option<FrameError>,
}

impl TcpFrameDecoder {
    /// A decoder that refuses payloads longer than `max_payload` bytes (the receiver limit of
    /// spec §6.11; configured per deployment).
    pub fn new(max_payload: u32) -> Self {
        TcpFrameDecoder {
            buf: Vec::new(),
            start: 0,
            max_payload,
            failed: None,
        }
    }

    /// Appends received bytes. Ignored once the decoder has failed.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed, or the error that ended
    /// the stream (repeated on every later call).
    pub fn pop(&mut self) -> Result<Option<Frame>, FrameError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        let pending = &self.buf[self.start..];
        let Some((header, rest)) = pending.split_first_chunk::<TCP_HEADER_LEN>() else {
            return Ok(None);
        };
        let [c0, c1, c2, c3, l0, l1, l2, l3] = *header;
        let channel = u32::from_be_bytes([c0, c1, c2, c3]);
        let len = u32::from_be_bytes([l0, l1, l2, l3]);
        if len > self.max_payload {
            let error = FrameError::Oversize {
                len: u64::from(len),
                max: u64::from(self.max_payload),
            };
            self.failed = Some(error);
            self.buf = Vec::new();
            self.start = 0;
            return Err(error);
        }
        let Ok(len) = usize::try_from(len) else {
            // Only on a target whose usize is narrower than u32: the payload cannot be held.
            let error = FrameError::Oversize {
                len: u64::from(len),
                max: usize::MAX as u64,
            };
            self.failed = Some(error);
            return Err(error);
        };
        let Some(payload) = rest.get(..len) else {
            return Ok(None);
        };
        let frame = Frame {
            channel,
            payload: payload.to_vec(),
        };
        self.start += TCP_HEADER_LEN + len;
        Ok(Some(frame))
    }

    /// Bytes received but not yet returned as a frame (a partial frame waiting for more).
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }
}

/// Encodes a binary WebSocket relay message: u32 BE channel + payload (architecture §4).
///
/// Refuses channel 0, whose messages travel as JSON text messages instead. An empty payload
/// closes the channel, as a zero-length TCP frame does (spec §6.11; [R] the WebSocket
/// transport is ours).
pub fn encode_relay_frame(channel: u32, payload: &[u8]) -> Result<Vec<u8>, FrameError> {
    if channel == CONTROL_CHANNEL {
        return Err(FrameError::ControlChannelInBinary);
    }
    let mut out = Vec::with_capacity(RELAY_HEADER_LEN + payload.len());
    out.extend_from_slice(&channel.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// Decodes a binary WebSocket relay message into its channel and payload (architecture §4).
///
/// Refuses a message shorter than the 4-byte header and one on channel 0. The message size
/// limit is enforced by the WebSocket layer, which sees the whole message first.
pub fn decode_relay_frame(bytes: &[u8]) -> Result<(u32, &[u8]), FrameError> {
    let (header, payload) = bytes
        .split_first_chunk::<RELAY_HEADER_LEN>()
        .ok_or(FrameError::Truncated)?;
    let channel = u32::from_be_bytes(*header);
    if channel == CONTROL_CHANNEL {
        return Err(FrameError::ControlChannelInBinary);
    }
    Ok((channel, payload))
}

/// `transport` of a finder entry's WebSocket protocol: the peer⇄finder transport of
/// architecture §4.
pub const WEBSOCKET_TRANSPORT: &str = "websocket";

/// `transport` of a finder entry's finder-to-finder link (architecture §4 "Federation" (4)).
pub const LINK_TRANSPORT: &str = "finder-link";

/// One finder of a domain, as `finders-get` lists it (spec §6.3): the `finder` element of a
/// `finderBundle`. Decode it only from a bundle verified under the domain's finder certificates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinderEntry {
    /// `$id`: the node, named by session proofs and link-hellos.
    pub id: String,
    /// The peers' WebSocket URL (`ws://` or `wss://`).
    pub websocket: String,
    /// The WebSocket URL of the node's finder-to-finder link, when it serves one.
    pub link: Option<String>,
    /// The finder's key.
    pub key: crate::signature::PublicKey,
    /// `priority` (lower first).
    pub priority: u32,
    /// `weight` among equal priorities.
    pub weight: u32,
    /// `region`.
    pub region: String,
    /// When the entry was made.
    pub created: u64,
    /// When it lapses unless refreshed.
    pub expires: u64,
}

impl FinderEntry {
    /// The `finder` element, ready to be signed.
    pub fn to_object(&self) -> crate::json::Object {
        use crate::json::{Object, Value};
        let mut protocols = vec![Value::Object(
            Object::new()
                .with("transport", WEBSOCKET_TRANSPORT)
                .with("host", self.websocket.as_str()),
        )];
        if let Some(link) = &self.link {
            protocols.push(Value::Object(
                Object::new()
                    .with("transport", LINK_TRANSPORT)
                    .with("host", link.as_str()),
            ));
        }
        Object::new()
            .with("$id", self.id.as_str())
            .with(
                "protocols",
                Object::new().with("protocol", Value::from_list(protocols)),
            )
            .with(
                "key",
                crate::signature::KeyReference::X509Data(self.key.clone()).to_object(),
            )
            .with("priority", self.priority)
            .with("weight", self.weight)
            .with("region", self.region.as_str())
            .with("created", self.created)
            .with("expires", self.expires)
    }

    /// Reads a verified `finder` element; the name of the first missing or mistyped field is the
    /// error. Protocols of other transports (C14's `multiplexed-json/tcp`) are skipped; an
    /// entry without a WebSocket URL is refused.
    pub fn from_object(finder: &crate::json::Object) -> Result<FinderEntry, &'static str> {
        let host = |transport: &str| {
            finder
                .get_object("protocols")
                .map(|p| p.get_list("protocol"))
                .unwrap_or_default()
                .iter()
                .filter_map(crate::json::Value::as_object)
                .filter(|p| p.get_str("transport") == Some(transport))
                .find_map(|p| p.get_str("host").filter(|h| is_websocket_url(h)))
                .map(str::to_owned)
        };
        let number = |key: &'static str| finder.get_u64(key).ok_or(key);
        let small = |key: &'static str| number(key).and_then(|n| u32::try_from(n).map_err(|_| key));
        Ok(FinderEntry {
            id: finder.get_str("$id").ok_or("$id")?.to_owned(),
            websocket: host(WEBSOCKET_TRANSPORT).ok_or("protocols")?,
            link: host(LINK_TRANSPORT),
            key: finder
                .get_object("key")
                .and_then(|k| k.get_str("x509Data"))
                .and_then(|k| crate::signature::PublicKey::from_x509_data(k).ok())
                .ok_or("key")?,
            priority: small("priority").unwrap_or(0),
            weight: small("weight").unwrap_or(0),
            region: finder.get_str("region").unwrap_or_default().to_owned(),
            created: number("created")?,
            expires: number("expires")?,
        })
    }
}

/// Whether `url` is a WebSocket URL (`ws://` or `wss://`).
pub fn is_websocket_url(url: &str) -> bool {
    url.starts_with("ws://") || url.starts_with("wss://")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipher::test_vectors::{hex, rows};
    use proptest::prelude::*;

    #[test]
    fn tcp_frames_match_vectors_and_decode() {
        for row in rows("tcp_frame") {
            let [label, channel, payload, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            let channel: u32 = channel.parse().unwrap();
            let payload = hex(payload);
            let encoded = encode_tcp_frame(channel, &payload).unwrap();
            assert_eq!(crate::encoding::to_hex(&encoded), expected, "{label}");
            let mut decoder = TcpFrameDecoder::new(1 << 20);
            decoder.push(&encoded);
            let frame = decoder.pop().unwrap().expect("a whole frame");
            assert_eq!(frame, Frame { channel, payload }, "{label}");
            assert_eq!(decoder.pop(), Ok(None));
            assert_eq!(decoder.buffered(), 0);
        }
    }

    #[test]
    fn relay_frames_match_vectors_and_decode() {
        for row in rows("relay_frame") {
            let [label, channel, payload, expected] = row[..] else {
                panic!("bad row {row:?}")
            };
            let channel: u32 = channel.parse().unwrap();
            let payload = hex(payload);
            let encoded = encode_relay_frame(channel, &payload).unwrap();
            assert_eq!(crate::encoding::to_hex(&encoded), expected, "{label}");
            assert_eq!(
                decode_relay_frame(&encoded),
                Ok((channel, &payload[..])),
                "{label}"
            );
        }
    }

    #[test]
    fn keep_alive_and_close_are_recognised() {
        let ping = Frame {
            channel: 0,
            payload: b"\n".to_vec(),
        };
        assert!(ping.is_keep_alive());
        assert!(!ping.is_close());
        assert!(
            !Frame {
                channel: 3,
                payload: b"\n".to_vec()
            }
            .is_keep_alive()
        );
        assert!(
            !Frame {
                channel: 0,
                payload: b"\n\n".to_vec()
            }
            .is_keep_alive()
        );
        let close = Frame {
            channel: 9,
            payload: Vec::new(),
        };
        assert!(close.is_close());
        assert!(!close.is_keep_alive());
    }

    #[test]
    fn truncated_tcp_frame_waits_for_more_bytes() {
        let encoded = encode_tcp_frame(5, b"hello").unwrap();
        let mut decoder = TcpFrameDecoder::new(100);
        for (i, byte) in encoded.iter().enumerate() {
            assert_eq!(decoder.pop(), Ok(None), "after {i} bytes");
            decoder.push(&[*byte]);
        }
        assert_eq!(
            decoder.pop(),
            Ok(Some(Frame {
                channel: 5,
                payload: b"hello".to_vec()
            }))
        );
        assert_eq!(decoder.pop(), Ok(None));
    }

    #[test]
    fn several_frames_in_one_push_come_out_in_order() {
        let mut bytes = encode_tcp_frame(0, b"{}").unwrap();
        bytes.extend(encode_tcp_frame(0, b"\n").unwrap());
        bytes.extend(encode_tcp_frame(7, b"").unwrap());
        bytes.extend(&encode_tcp_frame(7, b"tail").unwrap()[..10]);
        let mut decoder = TcpFrameDecoder::new(100);
        decoder.push(&bytes);
        assert_eq!(decoder.pop().unwrap().unwrap().payload, b"{}");
        assert!(decoder.pop().unwrap().unwrap().is_keep_alive());
        assert!(decoder.pop().unwrap().unwrap().is_close());
        assert_eq!(decoder.pop(), Ok(None));
        assert_eq!(decoder.buffered(), 10);
        decoder.push(b"il");
        assert_eq!(decoder.pop().unwrap().unwrap().payload, b"tail");
    }

    #[test]
    fn oversize_tcp_frame_is_refused_from_its_header() {
        let mut decoder = TcpFrameDecoder::new(4);
        decoder.push(&encode_tcp_frame(1, b"four").unwrap());
        assert_eq!(decoder.pop().unwrap().unwrap().payload, b"four");
        // Only the header of a too-long frame: refused before any payload arrives.
        decoder.push(&[0, 0, 0, 1, 0, 0, 0, 5]);
        let error = FrameError::Oversize { len: 5, max: 4 };
        assert_eq!(decoder.pop(), Err(error));
        // The stream cannot be resynchronised: the decoder stays failed.
        decoder.push(&encode_tcp_frame(1, b"ok").unwrap());
        assert_eq!(decoder.pop(), Err(error));
        assert_eq!(decoder.buffered(), 0);
        let mut decoder = TcpFrameDecoder::new(1000);
        decoder.push(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(
            decoder.pop(),
            Err(FrameError::Oversize {
                len: u64::from(u32::MAX),
                max: 1000
            })
        );
    }

    #[test]
    fn relay_frame_refuses_short_and_control_channel_messages() {
        assert_eq!(decode_relay_frame(&[]), Err(FrameError::Truncated));
        assert_eq!(decode_relay_frame(&[0, 0, 1]), Err(FrameError::Truncated));
        assert_eq!(
            decode_relay_frame(&[0, 0, 0, 0, b'x']),
            Err(FrameError::ControlChannelInBinary)
        );
        assert_eq!(
            decode_relay_frame(&[0, 0, 0, 0]),
            Err(FrameError::ControlChannelInBinary)
        );
        assert_eq!(
            encode_relay_frame(0, b"x"),
            Err(FrameError::ControlChannelInBinary)
        );
        // A bare header is a close of that channel.
        assert_eq!(decode_relay_frame(&[0, 0, 0, 2]), Ok((2, &[][..])));
    }

    fn frames() -> impl Strategy<Value = Vec<(u32, Vec<u8>)>> {
        proptest::collection::vec(
            (any::<u32>(), proptest::collection::vec(any::<u8>(), 0..64)),
            0..12,
        )
    }

    proptest! {
        #[test]
        fn tcp_frames_round_trip_over_any_chunking(
            frames in frames(),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..16),
        ) {
            let mut stream = Vec::new();
            for (channel, payload) in &frames {
                stream.extend(encode_tcp_frame(*channel, payload).unwrap());
            }
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
            cuts.push(0);
            cuts.push(stream.len());
            cuts.sort_unstable();
            let mut decoder = TcpFrameDecoder::new(64);
            let mut out = Vec::new();
            for pair in cuts.windows(2) {
                decoder.push(&stream[pair[0]..pair[1]]);
                while let Some(frame) = decoder.pop().unwrap() {
                    out.push((frame.channel, frame.payload));
                }
            }
            prop_assert_eq!(out, frames);
            prop_assert_eq!(decoder.buffered(), 0);
        }

        #[test]
        fn relay_frames_round_trip(channel in 1u32.., payload in proptest::collection::vec(any::<u8>(), 0..64)) {
            let encoded = encode_relay_frame(channel, &payload).unwrap();
            prop_assert_eq!(decode_relay_frame(&encoded), Ok((channel, &payload[..])));
        }

        #[test]
        fn tcp_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut decoder = TcpFrameDecoder::new(16);
            decoder.push(&bytes);
            while let Ok(Some(_)) = decoder.pop() {}
        }
    }

    #[test]
    fn finder_entries_round_trip_and_skip_other_transports() {
        use crate::json::{Object, Value};
        use crate::signature::SignatureSuite;
        use crate::signature::test_keys::key;
        let entry = FinderEntry {
            id: "node-1".into(),
            websocket: "wss://beta.test/finder".into(),
            link: Some("wss://beta.test/federation/link".into()),
            key: key(SignatureSuite::Ed25519).public_key().clone(),
            priority: 0,
            weight: 10,
            region: "1".into(),
            created: 100,
            expires: 190,
        };
        assert_eq!(
            FinderEntry::from_object(&entry.to_object()),
            Ok(entry.clone())
        );
        let without_link = FinderEntry {
            link: None,
            ..entry.clone()
        };
        assert_eq!(
            FinderEntry::from_object(&without_link.to_object()),
            Ok(without_link.clone())
        );
        // A C14 entry: only a TCP transport, so no WebSocket URL.
        let tcp = Object::new()
            .with("transport", "multiplexed-json/tcp")
            .with("host", "192.0.2.1:4032");
        let c14 = entry.to_object().with(
            "protocols",
            Object::new().with("protocol", Value::Object(tcp)),
        );
        assert_eq!(FinderEntry::from_object(&c14), Err("protocols"));
        assert_eq!(
            FinderEntry::from_object(&entry.to_object().with("expires", "soon")),
            Err("expires")
        );
    }
}
