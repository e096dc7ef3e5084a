//! The Python literals of a `.npy` header: a dict of strings, integers,
//! booleans, tuples and lists, as `repr` writes them.
//!
//! numpy reads the header with `ast.literal_eval`; this is the subset that
//! `numpy.save` produces (plus the `L` suffix Python 2 put on integers),
//! parsed without recursion deeper than [`MAX_DEPTH`] so that a hostile
//! header cannot exhaust the stack.

use core::fmt;

/// How deeply tuples, lists and dicts may nest (structured dtypes nest a
/// few levels; nothing real comes close).
const MAX_DEPTH: usize = 32;

/// A parsed Python literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Literal {
    Str(String),
    Int(i128),
    Bool(bool),
    None,
    Tuple(Vec<Literal>),
    List(Vec<Literal>),
    Dict(Vec<(Literal, Literal)>),
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn items(f: &mut fmt::Formatter<'_>, items: &[Literal]) -> fmt::Result {
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{item}")?;
            }
            Ok(())
        }
        match self {
            Literal::Str(text) => write!(f, "'{text}'"),
            Literal::Int(value) => write!(f, "{value}"),
            Literal::Bool(true) => f.write_str("True"),
            Literal::Bool(false) => f.write_str("False"),
            Literal::None => f.write_str("None"),
            Literal::Tuple(values) => {
                f.write_str("(")?;
                items(f, values)?;
                if values.len() == 1 {
                    f.write_str(",")?;
                }
                f.write_str(")")
            }
            Literal::List(values) => {
                f.write_str("[")?;
                items(f, values)?;
                f.write_str("]")
            }
            Literal::Dict(pairs) => {
                f.write_str("{")?;
                for (index, (key, value)) in pairs.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{key}: {value}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// Parses `text` as exactly one literal, surrounded by optional whitespace.
pub(crate) fn parse(text: &str) -> Result<Literal, String> {
    let mut parser = Parser {
        chars: text.chars().collect(),
        position: 0,
    };
    let value = parser.value(0)?;
    parser.skip_whitespace();
    match parser.peek() {
        None => Ok(value),
        Some(c) => Err(format!(
            "unexpected {c:?} at character {} after the header dict",
            parser.position
        )),
    }
}

struct Parser {
    chars: Vec<char>,
    position: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.position).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.position += 1;
        Some(c)
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.position += 1;
        }
    }

    fn error(&self, what: &str) -> String {
        match self.peek() {
            Some(c) => format!(
                "expected {what} at character {}, found {c:?}",
                self.position
            ),
            None => format!(
                "expected {what} at character {}, found the end",
                self.position
            ),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Literal, String> {
        if depth > MAX_DEPTH {
            return Err(format!("the header nests deeper than {MAX_DEPTH} levels"));
        }
        self.skip_whitespace();
        match self.peek() {
            Some(quote @ ('\'' | '"')) => {
                self.position += 1;
                self.string(quote).map(Literal::Str)
            }
            Some('(') => {
                self.position += 1;
                let (values, trailing_comma) = self.sequence(')', depth)?;
                // `(x)` is x in Python; only a comma makes a tuple of one.
                if values.len() == 1 && !trailing_comma {
                    Ok(values.into_iter().next().unwrap_or(Literal::None))
                } else {
                    Ok(Literal::Tuple(values))
                }
            }
            Some('[') => {
                self.position += 1;
                Ok(Literal::List(self.sequence(']', depth)?.0))
            }
            Some('{') => {
                self.position += 1;
                self.dict(depth)
            }
            Some(c) if c == '-' || c.is_ascii_digit() => self.integer(),
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let start = self.position;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    self.position += 1;
                }
                let word: String = self.chars[start..self.position].iter().collect();
                match word.as_str() {
                    "True" => Ok(Literal::Bool(true)),
                    "False" => Ok(Literal::Bool(false)),
                    "None" => Ok(Literal::None),
                    _ => Err(format!(
                        "unknown name `{}` at character {start}",
                        super::safetensors::truncate(&word)
                    )),
                }
            }
            _ => Err(self.error("a value")),
        }
    }

    /// Items up to `close`, and whether a comma followed the last one.
    fn sequence(&mut self, close: char, depth: usize) -> Result<(Vec<Literal>, bool), String> {
        let mut values = Vec::new();
        loop {
            self.skip_whitespace();
            if self.peek() == Some(close) {
                self.position += 1;
                let trailing_comma = !values.is_empty();
                return Ok((values, trailing_comma));
            }
            values.push(self.value(depth + 1)?);
            self.skip_whitespace();
            match self.bump() {
                Some(',') => {}
                Some(c) if c == close => return Ok((values, false)),
                _ => {
                    self.position = self.position.saturating_sub(1);
                    return Err(self.error(&format!("`,` or `{close}`")));
                }
            }
        }
    }

    fn dict(&mut self, depth: usize) -> Result<Literal, String> {
        let mut pairs = Vec::new();
        loop {
            self.skip_whitespace();
            if self.peek() == Some('}') {
                self.position += 1;
                return Ok(Literal::Dict(pairs));
            }
            let key = self.value(depth + 1)?;
            self.skip_whitespace();
            if self.bump() != Some(':') {
                self.position = self.position.saturating_sub(1);
                return Err(self.error("`:`"));
            }
            let value = self.value(depth + 1)?;
            pairs.push((key, value));
            self.skip_whitespace();
            match self.bump() {
                Some(',') => {}
                Some('}') => return Ok(Literal::Dict(pairs)),
                _ => {
                    self.position = self.position.saturating_sub(1);
                    return Err(self.error("`,` or `}`"));
                }
            }
        }
    }

    /// The rest of a string literal whose opening `quote` has been read.
    fn string(&mut self, quote: char) -> Result<String, String> {
        let mut text = String::new();
        loop {
            match self.bump() {
                None => return Err("a string in the header is not closed".to_owned()),
                Some(c) if c == quote => return Ok(text),
                Some('\\') => match self.bump() {
                    None => return Err("a string in the header is not closed".to_owned()),
                    Some('n') => text.push('\n'),
                    Some('t') => text.push('\t'),
                    Some('r') => text.push('\r'),
                    Some(c @ ('\\' | '\'' | '"')) => text.push(c),
                    // Other escapes never occur in numpy headers; keep them
                    // verbatim, as Python keeps unknown escapes.
                    Some(c) => {
                        text.push('\\');
                        text.push(c);
                    }
                },
                Some(c) => text.push(c),
            }
        }
    }

    fn integer(&mut self) -> Result<Literal, String> {
        let start = self.position;
        let negative = self.peek() == Some('-');
        if negative {
            self.position += 1;
        }
        let mut value: i128 = 0;
        let mut digits = 0;
        while let Some(digit) = self.peek().and_then(|c| c.to_digit(10)) {
            value = value
                .checked_mul(10)
                .and_then(|value| value.checked_add(i128::from(digit)))
                .ok_or_else(|| format!("the integer at character {start} is too large"))?;
            digits += 1;
            self.position += 1;
        }
        if digits == 0 {
            return Err(self.error("a digit"));
        }
        // Python 2 wrote long integers with an `L` suffix.
        if self.peek() == Some('L') {
            self.position += 1;
        }
        Ok(Literal::Int(if negative { -value } else { value }))
    }
}

#[cfg(test)]
mod tests {
    use super::{parse, Literal};

    #[test]
    fn parses_what_numpy_writes() {
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }          \n";
        let expected = Literal::Dict(vec![
            (Literal::Str("descr".into()), Literal::Str("<f4".into())),
            (Literal::Str("fortran_order".into()), Literal::Bool(false)),
            (
                Literal::Str("shape".into()),
                Literal::Tuple(vec![Literal::Int(3), Literal::Int(4)]),
            ),
        ]);
        assert_eq!(parse(header), Ok(expected));
    }

    #[test]
    fn tuples_of_one_need_a_comma() {
        assert_eq!(parse("(5,)"), Ok(Literal::Tuple(vec![Literal::Int(5)])));
        assert_eq!(parse("(5)"), Ok(Literal::Int(5)));
        assert_eq!(parse("()"), Ok(Literal::Tuple(vec![])));
        assert_eq!(
            parse("(3L, 4L)").map(|l| l.to_string()),
            Ok("(3, 4)".into())
        );
    }

    #[test]
    fn rejects_what_is_not_a_literal() {
        assert!(parse("{'a': 1").is_err());
        assert!(parse("{'a' 1}").is_err());
        assert!(parse("'open").is_err());
        assert!(parse("(1, 2) x").is_err());
        assert!(parse("os.system").is_err());
        assert!(parse("99999999999999999999999999999999999999999999").is_err());
        assert!(parse(&"[".repeat(10_000)).is_err());
        assert!(parse("-").is_err());
    }
}
