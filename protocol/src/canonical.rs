//! Canonical JSON, the C14 rule (spec §2.1), byte-exact: what every signature digest and the
//! contact id are computed over.
//!
//! Inside each element: `$`-keys sorted byte-wise, then `#text`, then the other keys sorted
//! byte-wise; a group of one renders without brackets and an empty group or element renders as
//! `""`; an element holding only `#text` renders as that text; strings escape only
//! `" \ \b \f \n \r \t` and write everything else raw; number literals are written as received.
//! This is neither RFC 8785 nor OLPC canonical JSON.

use crate::json::{Object, Value};

/// `{"<name>":<canonical value>}`: the string a jsonsig digest covers (spec §2.1).
pub fn canon(name: &str, value: &Value) -> String {
    let mut out = String::new();
    out.push('{');
    write_string(&mut out, name);
    out.push(':');
    write_value(&mut out, value);
    out.push('}');
    out
}

/// [`canon`] for an element.
pub fn canon_object(name: &str, object: &Object) -> String {
    let mut out = String::new();
    out.push('{');
    write_string(&mut out, name);
    out.push(':');
    write_object(&mut out, object);
    out.push('}');
    out
}

/// The canonical rendering of a value on its own.
pub fn render(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// The canonical rendering of a whole document.
pub fn render_object(object: &Object) -> String {
    let mut out = String::new();
    write_object(&mut out, object);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::String(s) => write_string(out, s),
        Value::Number(n) => out.push_str(n.as_str()),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Null => out.push_str("null"),
        Value::Object(o) => write_object(out, o),
        Value::Array(items) => write_group(out, items),
    }
}

/// Same-name siblings: none is an empty element, one stands alone, more form an array.
fn write_group(out: &mut String, items: &[Value]) {
    match items {
        [] => out.push_str("\"\""),
        [one] => write_value(out, one),
        many => {
            out.push('[');
            for (i, item) in many.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
    }
}

fn write_object(out: &mut String, object: &Object) {
    if object.is_empty() {
        out.push_str("\"\"");
        return;
    }
    if object.len() == 1
        && let Some(text) = object.get("#text")
    {
        write_value(out, text);
        return;
    }
    let mut members: Vec<(&str, &Value)> = object.iter().collect();
    members.sort_by(|(a, _), (b, _)| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    out.push('{');
    for (i, (key, value)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, key);
        out.push(':');
        write_value(out, value);
    }
    out.push('}');
}

/// Attributes first, then text, then children.
fn rank(key: &str) -> u8 {
    if key.starts_with('$') {
        0
    } else if key == "#text" {
        1
    } else {
        2
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            other => out.push(other),
        }
    }
    out.push('"');
}

#[cfg(test)]
#[path = "canonical_test.rs"]
mod tests;
