//! The Open Peer object model (spec §1.1): JSON as zsLib renders an element tree.
//!
//! `$`-keys are attributes and hold only scalars, `#text` is the text of an element that also has
//! attributes, every other key is a child element, and repeated children form an array. The
//! parser keeps what signatures depend on and a general JSON library loses: key order, number
//! literals exactly as written, and duplicate keys refused (a signature must not cover one value
//! while the reader sees another). Documents that have no element form — a non-scalar attribute
//! or `#text`, an array directly inside an array, a top level that is not an object — are refused.

use std::fmt;

/// A JSON value of the object model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A string, with escapes decoded.
    String(String),
    /// A number literal, kept exactly as written so that canonical rendering reproduces it.
    Number(Number),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// A group of same-name sibling elements, in their order.
    Array(Vec<Value>),
    /// An element: attributes, text and children, in document order.
    Object(Object),
}

/// A JSON number literal, validated at construction and never converted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Number(String);

impl Number {
    /// The literal as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses a literal, refusing anything that is not a JSON number.
    pub fn parse(literal: &str) -> Option<Number> {
        let mut parser = Parser::new(literal);
        let end = parser.number_end().ok()?;
        (end == literal.len()).then(|| Number(literal.to_owned()))
    }
}

impl From<u64> for Number {
    fn from(n: u64) -> Number {
        Number(n.to_string())
    }
}

impl From<u32> for Number {
    fn from(n: u32) -> Number {
        Number(n.to_string())
    }
}

impl From<u16> for Number {
    fn from(n: u16) -> Number {
        Number(n.to_string())
    }
}

/// An element: ordered members with unique keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Object(Vec<(String, Value)>);

impl Object {
    /// An empty element.
    pub fn new() -> Object {
        Object(Vec::new())
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key`, replacing an existing value in place or appending a new member.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        let key = key.into();
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, slot)) => *slot = value,
            None => self.0.push((key, value)),
        }
    }

    /// Builder form of [`Object::insert`].
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Object {
        self.insert(key, value);
        self
    }

    /// Removes `key` and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let index = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(index).1)
    }

    /// Members in document order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the element has no member.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A string member (also a `{"#text": …}` element), if present and a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_text)
    }

    /// A child element, if present and an object.
    pub fn get_object(&self, key: &str) -> Option<&Object> {
        match self.get(key) {
            Some(Value::Object(o)) => Some(o),
            _ => None,
        }
    }

    /// An unsigned number member, quoted or not (spec §1.1: accept both).
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(Value::as_u64)
    }

    /// A boolean member, quoted or not.
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(Value::as_bool)
    }

    /// The children named `key` as a list: one object and a one-element array read the same,
    /// and an absent key or an empty element (`""`) reads as no children (spec §1.1, §9).
    pub fn get_list(&self, key: &str) -> &[Value] {
        match self.get(key) {
            Some(Value::Array(items)) => items,
            Some(Value::String(s)) if s.is_empty() => &[],
            Some(value) => std::slice::from_ref(value),
            None => &[],
        }
    }
}

impl FromIterator<(String, Value)> for Object {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Object {
        let mut object = Object::new();
        for (k, v) in iter {
            object.insert(k, v);
        }
        object
    }
}

impl Value {
    /// The text of a string or of an element that holds only `#text`.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            Value::Object(o) if o.len() == 1 => match o.get("#text") {
                Some(Value::String(s)) => Some(s),
                _ => None,
            },
            _ => None,
        }
    }

    /// An unsigned integer from a number literal or a decimal string.
    pub fn as_u64(&self) -> Option<u64> {
        let text = match self {
            Value::Number(n) => n.as_str(),
            Value::String(s) => s.as_str(),
            _ => return None,
        };
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok()
    }

    /// A boolean from `true`/`false`, quoted or not.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s == "true" => Some(true),
            Value::String(s) if s == "false" => Some(false),
            _ => None,
        }
    }

    /// The element, if this is an object.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// A list rendered the C14 way: one element stands alone, several form an array (§1.1).
    pub fn from_list(mut items: Vec<Value>) -> Value {
        if items.len() == 1 {
            items.remove(0)
        } else {
            Value::Array(items)
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Value {
        Value::String(s.clone())
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::Number(n.into())
    }
}

impl From<u32> for Value {
    fn from(n: u32) -> Value {
        Value::Number(n.into())
    }
}

impl From<u16> for Value {
    fn from(n: u16) -> Value {
        Value::Number(n.into())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<Object> for Value {
    fn from(o: Object) -> Value {
        Value::Object(o)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::Array(items)
    }
}

/// Deepest nesting the parser accepts; real documents stay below ten.
pub const MAX_DEPTH: usize = 64;

/// Why a document was refused, with the byte offset where it was noticed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed JSON at byte {offset}: {reason}")]
pub struct ParseError {
    /// Byte offset into the input.
    pub offset: usize,
    /// What was wrong there.
    pub reason: &'static str,
}

/// Parses a document: one JSON object in the element form described in the module docs.
pub fn parse(input: &str) -> Result<Object, ParseError> {
    let mut parser = Parser::new(input);
    parser.skip_whitespace();
    let value = parser.value(0)?;
    parser.skip_whitespace();
    if parser.pos != input.len() {
        return Err(parser.error("trailing characters after the document"));
    }
    match value {
        Value::Object(o) => Ok(o),
        _ => Err(ParseError {
            offset: 0,
            reason: "the document is not an object",
        }),
    }
}

/// A recursive-descent parser over the input bytes, bounded by [`MAX_DEPTH`].
struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
        }
    }

    fn error(&self, reason: &'static str) -> ParseError {
        ParseError {
            offset: self.pos,
            reason,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), ParseError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(reason))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        match self.peek() {
            Some(b'{') => self.object(depth).map(Value::Object),
            Some(b'[') => self.array(depth).map(Value::Array),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.keyword("true", Value::Bool(true)),
            Some(b'f') => self.keyword("false", Value::Bool(false)),
            Some(b'n') => self.keyword("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.pos;
                let end = self.number_end()?;
                self.pos = end;
                Ok(Value::Number(Number(self.text[start..end].to_owned())))
            }
            Some(_) => Err(self.error("expected a value")),
            None => Err(self.error("unexpected end of input")),
        }
    }

    fn keyword(&mut self, word: &'static str, value: Value) -> Result<Value, ParseError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("expected true, false or null"))
        }
    }

    /// Finds the end of the number literal starting at `pos` (RFC 8259 grammar).
    fn number_end(&mut self) -> Result<usize, ParseError> {
        let mut i = self.pos;
        let digits = |i: &mut usize, bytes: &[u8]| {
            let start = *i;
            while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i - start
        };
        if self.bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        match self.bytes.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                digits(&mut i, self.bytes);
            }
            _ => return Err(self.error("malformed number")),
        }
        if self.bytes.get(i) == Some(&b'.') {
            i += 1;
            if digits(&mut i, self.bytes) == 0 {
                return Err(self.error("malformed number fraction"));
            }
        }
        if matches!(self.bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(self.bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if digits(&mut i, self.bytes) == 0 {
                return Err(self.error("malformed number exponent"));
            }
        }
        Ok(i)
    }

    fn object(&mut self, depth: usize) -> Result<Object, ParseError> {
        self.pos += 1; // '{'
        let mut members: Vec<(String, Value)> = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a key"));
            }
            let key_at = self.pos;
            let key = self.string()?;
            if members.iter().any(|(k, _)| *k == key) {
                return Err(ParseError {
                    offset: key_at,
                    reason: "duplicate key",
                });
            }
            self.skip_whitespace();
            self.expect(b':', "expected ':'")?;
            self.skip_whitespace();
            let value_at = self.pos;
            let value = self.value(depth + 1)?;
            let scalar = matches!(
                value,
                Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null
            );
            if (key.starts_with('$') || key == "#text") && !scalar {
                return Err(ParseError {
                    offset: value_at,
                    reason: "an attribute or #text must be a scalar",
                });
            }
            members.push((key, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Object(members));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Vec<Value>, ParseError> {
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(items);
        }
        loop {
            self.skip_whitespace();
            if self.peek() == Some(b'[') {
                return Err(self.error("an array directly inside an array has no element form"));
            }
            items.push(self.value(depth + 1)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(items);
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    /// A string literal. Raw control characters are accepted because the C14 renderer writes
    /// all but `\b \f \n \r \t` raw, and canonical output must parse again.
    fn string(&mut self) -> Result<String, ParseError> {
        self.pos += 1; // '"'
        let mut out = String::new();
        loop {
            let start = self.pos;
            while !matches!(self.peek(), Some(b'"' | b'\\') | None) {
                self.pos += 1;
            }
            // Both stop bytes are ASCII, so `start..pos` lies on character boundaries.
            out.push_str(&self.text[start..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    out.push(self.escape()?);
                }
                _ => return Err(self.error("unterminated string")),
            }
        }
    }

    fn escape(&mut self) -> Result<char, ParseError> {
        let byte = self
            .peek()
            .ok_or_else(|| self.error("unterminated escape"))?;
        self.pos += 1;
        Ok(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4()?;
                let code = if (0xD800..0xDC00).contains(&first) {
                    if !self.bytes[self.pos..].starts_with(b"\\u") {
                        return Err(self.error("unpaired surrogate"));
                    }
                    self.pos += 2;
                    let second = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&second) {
                        return Err(self.error("unpaired surrogate"));
                    }
                    0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                } else {
                    first
                };
                char::from_u32(code).ok_or_else(|| self.error("unpaired surrogate"))?
            }
            _ => return Err(self.error("unknown escape")),
        })
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("short \\u escape"))?;
        let mut code = 0;
        for &d in digits {
            let v = char::from(d)
                .to_digit(16)
                .ok_or_else(|| self.error("bad \\u escape"))?;
            code = code * 16 + v;
        }
        self.pos += 4;
        Ok(code)
    }
}

impl fmt::Display for Value {
    /// Canonical rendering (see [`crate::canonical`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::canonical::render(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_key_order_and_number_literals() {
        let doc = parse(r#"{"b":1.50,"a":-0,"c":1E+3,"d":"x"}"#).unwrap();
        let keys: Vec<&str> = doc.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["b", "a", "c", "d"]);
        assert_eq!(doc.get("b"), Some(&Value::Number(Number("1.50".into()))));
        assert_eq!(doc.get("c"), Some(&Value::Number(Number("1E+3".into()))));
    }

    #[test]
    fn decodes_escapes_and_surrogate_pairs() {
        let doc = parse(r#"{"s":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}"#).unwrap();
        assert_eq!(doc.get_str("s"), Some("\"\\/\u{8}\u{c}\n\r\té😀"));
    }

    #[test]
    fn refuses_what_has_no_element_form() {
        for (bad, reason) in [
            (r#"{"a":1,"a":2}"#, "duplicate key"),
            (
                r#"{"$id":{"x":1}}"#,
                "an attribute or #text must be a scalar",
            ),
            (
                r##"{"#text":[1]}"##,
                "an attribute or #text must be a scalar",
            ),
            (
                r#"{"a":[[1]]}"#,
                "an array directly inside an array has no element form",
            ),
            (r#"[1]"#, "the document is not an object"),
            (r#"{"a":1} x"#, "trailing characters after the document"),
            (r#"{"a":01}"#, "expected ',' or '}'"),
            (r#"{"a":1.}"#, "malformed number fraction"),
            (r#"{"a":"\ud800"}"#, "unpaired surrogate"),
            (r#"{"a":"\x"}"#, "unknown escape"),
            (r#"{"a":tru}"#, "expected true, false or null"),
            (r#"{"a":"open"#, "unterminated string"),
            (r#"{a:1}"#, "expected a key"),
            ("", "unexpected end of input"),
        ] {
            assert_eq!(parse(bad).unwrap_err().reason, reason, "{bad}");
        }
    }

    #[test]
    fn refuses_deep_nesting_without_overflowing() {
        let deep = format!("{}{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
        assert_eq!(parse(&deep).unwrap_err().reason, "nested too deeply");
    }

    #[test]
    fn single_and_array_read_the_same() {
        let one = parse(r#"{"x":{"a":"1"}}"#).unwrap();
        let many = parse(r#"{"x":[{"a":"1"}]}"#).unwrap();
        assert_eq!(one.get_list("x"), many.get_list("x"));
        assert_eq!(parse(r#"{"x":""}"#).unwrap().get_list("x").len(), 0);
        assert_eq!(parse(r#"{}"#).unwrap().get_list("x").len(), 0);
    }

    #[test]
    fn numbers_and_booleans_read_quoted_or_not() {
        let doc = parse(r#"{"a":"12","b":12,"c":"true","d":false,"e":"1x","f":-1}"#).unwrap();
        assert_eq!(doc.get_u64("a"), Some(12));
        assert_eq!(doc.get_u64("b"), Some(12));
        assert_eq!(doc.get_bool("c"), Some(true));
        assert_eq!(doc.get_bool("d"), Some(false));
        assert_eq!(doc.get_u64("e"), None);
        assert_eq!(doc.get_u64("f"), None);
    }

    #[test]
    fn text_elements_read_as_text() {
        let doc = parse(r##"{"salt":{"#text":"abc"},"s":{"$id":"1","#text":"x"}}"##).unwrap();
        assert_eq!(doc.get_str("salt"), Some("abc"));
        assert_eq!(doc.get_str("s"), None);
    }

    #[test]
    fn number_literals_validate() {
        assert!(Number::parse("-12.5e-3").is_some());
        assert!(Number::parse("1x").is_none());
        assert!(Number::parse("").is_none());
    }
}
