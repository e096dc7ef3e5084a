//! Reads the numpy fixtures of `tests/reference/fixtures/kernels/` (written
//! by the scripts in `tests/reference/`) and compares results with them,
//! without a JSON dependency: the files are `{"cases": [...]}`, each case an
//! object of strings, numbers and tensors `{"shape": [...], "data": [...]}`
//! (row-major), with the strings `"nan"`, `"inf"` and `"-inf"` standing for
//! non-finite floats. This is the format `graph-runtime/tests/common/mod.rs`
//! reads with `serde_json`; the reader below handles the JSON it uses.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::path::PathBuf;

use staticflow::ndarray::{ArrayD, ArrayViewD, Dimension, IxDyn};

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    List(Vec<Json>),
    /// Keys in file order.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The value at `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The items of a list.
    pub fn items(&self) -> &[Json] {
        match self {
            Json::List(items) => items,
            other => panic!("not a list: {other:?}"),
        }
    }

    /// A string.
    pub fn text(&self) -> &str {
        match self {
            Json::Text(text) => text,
            other => panic!("not a string: {other:?}"),
        }
    }

    /// A float: a number, or one of the strings standing for non-finite
    /// values.
    pub fn float(&self) -> f64 {
        match self {
            Json::Number(n) => *n,
            Json::Text(s) if s == "nan" => f64::NAN,
            Json::Text(s) if s == "inf" => f64::INFINITY,
            Json::Text(s) if s == "-inf" => f64::NEG_INFINITY,
            other => panic!("not a float: {other:?}"),
        }
    }

    /// A non-negative integer.
    pub fn index(&self) -> usize {
        let n = self.float();
        assert!(
            n >= 0.0 && n.fract() == 0.0 && n < 2f64.powi(52),
            "not an index: {n}"
        );
        // Checked just above: a whole number well inside usize's range.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let index = n as usize;
        index
    }
}

/// Parses JSON text: objects, lists, strings (with the standard escapes),
/// numbers, `true`, `false` and `null`. Panics, with the byte offset, on
/// anything else.
pub fn parse_json(text: &str) -> Json {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        at: 0,
    };
    let value = parser.value();
    parser.skip_space();
    assert_eq!(parser.at, parser.bytes.len(), "trailing text after JSON");
    value
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> u8 {
        self.skip_space();
        *self
            .bytes
            .get(self.at)
            .unwrap_or_else(|| panic!("JSON ends early at byte {}", self.at))
    }

    fn expect(&mut self, byte: u8) {
        let found = self.peek();
        assert_eq!(
            found, byte,
            "expected {:?} at byte {}, found {:?}",
            byte as char, self.at, found as char
        );
        self.at += 1;
    }

    fn keyword(&mut self, word: &str, value: Json) -> Json {
        assert!(
            self.bytes[self.at..].starts_with(word.as_bytes()),
            "unexpected token at byte {}",
            self.at
        );
        self.at += word.len();
        value
    }

    fn value(&mut self) -> Json {
        match self.peek() {
            b'{' => self.object(),
            b'[' => self.list(),
            b'"' => Json::Text(self.string()),
            b't' => self.keyword("true", Json::Bool(true)),
            b'f' => self.keyword("false", Json::Bool(false)),
            b'n' => self.keyword("null", Json::Null),
            _ => self.number(),
        }
    }

    fn object(&mut self) -> Json {
        self.expect(b'{');
        let mut entries = Vec::new();
        if self.peek() == b'}' {
            self.at += 1;
            return Json::Object(entries);
        }
        loop {
            self.skip_space();
            let key = self.string();
            self.expect(b':');
            entries.push((key, self.value()));
            match self.peek() {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Json::Object(entries);
                }
                other => panic!(
                    "expected , or }} at byte {}, found {:?}",
                    self.at, other as char
                ),
            }
        }
    }

    fn list(&mut self) -> Json {
        self.expect(b'[');
        let mut items = Vec::new();
        if self.peek() == b']' {
            self.at += 1;
            return Json::List(items);
        }
        loop {
            items.push(self.value());
            match self.peek() {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Json::List(items);
                }
                other => panic!(
                    "expected , or ] at byte {}, found {:?}",
                    self.at, other as char
                ),
            }
        }
    }

    fn string(&mut self) -> String {
        self.expect(b'"');
        let mut bytes = Vec::new();
        loop {
            let byte = self.next_byte();
            match byte {
                b'"' => break,
                b'\\' => {
                    let escaped = match self.next_byte() {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hex = std::str::from_utf8(&self.bytes[self.at..self.at + 4])
                                .expect("four hex digits");
                            self.at += 4;
                            let code = u32::from_str_radix(hex, 16).expect("four hex digits");
                            char::from_u32(code).expect("a character outside the surrogates")
                        }
                        other => panic!("unknown escape \\{}", other as char),
                    };
                    let mut buffer = [0; 4];
                    bytes.extend_from_slice(escaped.encode_utf8(&mut buffer).as_bytes());
                }
                other => bytes.push(other),
            }
        }
        String::from_utf8(bytes).expect("UTF-8 strings")
    }

    fn next_byte(&mut self) -> u8 {
        let byte = *self.bytes.get(self.at).expect("unterminated string");
        self.at += 1;
        byte
    }

    fn number(&mut self) -> Json {
        let start = self.at;
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
        {
            self.at += 1;
        }
        let text = std::str::from_utf8(&self.bytes[start..self.at]).expect("ASCII");
        // Rust's float parsing is correctly rounded, as JSON readers are.
        Json::Number(
            text.parse()
                .unwrap_or_else(|_| panic!("not a number at byte {start}: {text:?}")),
        )
    }
}

/// One fixture case: its `op`, `name`, parameters and tensors.
pub struct Case {
    family: &'static str,
    value: Json,
}

impl Case {
    /// `family/op: name`, for failure messages.
    pub fn label(&self) -> String {
        format!("{}/{}: {}", self.family, self.op(), self.get("name").text())
    }

    /// The op the case is for.
    pub fn op(&self) -> &str {
        self.get("op").text()
    }

    /// The raw value at `key`.
    pub fn get(&self, key: &str) -> &Json {
        self.value
            .get(key)
            .unwrap_or_else(|| panic!("{}: no `{key}`", self.family))
    }

    /// Whether the case has `key`.
    pub fn has(&self, key: &str) -> bool {
        self.value.get(key).is_some()
    }

    /// A scalar float parameter, as the f32 the fixture stores exactly.
    pub fn scalar(&self, key: &str) -> f32 {
        single(self.get(key))
    }

    /// A float tensor.
    pub fn f32s(&self, key: &str) -> ArrayD<f32> {
        let tensor = self.get(key);
        let shape: Vec<usize> = tensor
            .get("shape")
            .expect("a shape")
            .items()
            .iter()
            .map(Json::index)
            .collect();
        let data: Vec<f32> = tensor
            .get("data")
            .expect("data")
            .items()
            .iter()
            .map(single)
            .collect();
        ArrayD::from_shape_vec(IxDyn(&shape), data).expect("data matching the shape")
    }
}

/// A fixture float as f32. Inputs are stored as the exact f64 value of an
/// f32, and references as f32-rounded values, so the cast is exact.
#[allow(clippy::cast_possible_truncation)]
fn single(value: &Json) -> f32 {
    value.float() as f32
}

/// Every case of `fixtures/kernels/<family>.json`.
pub fn cases(family: &'static str) -> Vec<Case> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference/fixtures/kernels")
        .join(format!("{family}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("reading {}: {err}", path.display()));
    let root = parse_json(&text);
    let list = root
        .get("cases")
        .unwrap_or_else(|| panic!("{}: no `cases` list", path.display()));
    list.items()
        .iter()
        .map(|value| Case {
            family,
            value: value.clone(),
        })
        .collect()
}

/// How far a result may stray from the float64 reference (rounded to f32):
/// `|actual − expected| ≤ abs + rel·|expected|`. NaN must meet NaN and an
/// infinity the same infinity. (The rule of `graph-runtime`'s kernel tests.)
#[derive(Debug, Clone, Copy)]
pub struct Tolerance {
    /// Relative part, scaled by the expected magnitude.
    pub rel: f64,
    /// Absolute floor, for results near zero.
    pub abs: f64,
}

/// Compares `actual` with `expected` elementwise within `tolerance`,
/// naming `context` and the first offending position on failure.
pub fn assert_close(
    context: &str,
    actual: &ArrayViewD<'_, f32>,
    expected: &ArrayViewD<'_, f32>,
    tolerance: Tolerance,
) {
    assert_eq!(actual.shape(), expected.shape(), "{context}: shape");
    for ((position, &a), &e) in actual.indexed_iter().zip(expected.iter()) {
        let (a, e) = (f64::from(a), f64::from(e));
        let ok = if e.is_nan() {
            a.is_nan()
        } else if e.is_infinite() {
            a == e
        } else {
            (a - e).abs() <= tolerance.abs + tolerance.rel * e.abs()
        };
        assert!(
            ok,
            "{context} at {:?}: got {a:e}, expected {e:e} (tolerance rel {:e}, abs {:e})",
            position.slice(),
            tolerance.rel,
            tolerance.abs
        );
    }
}

#[test]
fn the_reader_handles_the_json_the_fixtures_use() {
    let value = parse_json(
        r#" {"a": [1, -2.5e+3, 1e-45, "nan", "-inf"], "b": {"c": "x\"y\\z\u00e9"},
            "d": [], "e": {}, "f": true, "g": null} "#,
    );
    let a: Vec<f64> = value.get("a").unwrap().items()[..3]
        .iter()
        .map(Json::float)
        .collect();
    assert_eq!(a, [1.0, -2500.0, 1e-45]);
    assert!(value.get("a").unwrap().items()[3].float().is_nan());
    assert_eq!(
        value.get("a").unwrap().items()[4].float(),
        f64::NEG_INFINITY
    );
    assert_eq!(value.get("b").unwrap().get("c").unwrap().text(), "x\"y\\zé");
    assert_eq!(value.get("d"), Some(&Json::List(Vec::new())));
    assert_eq!(value.get("e"), Some(&Json::Object(Vec::new())));
    assert_eq!(value.get("f"), Some(&Json::Bool(true)));
    assert_eq!(value.get("g"), Some(&Json::Null));
}
