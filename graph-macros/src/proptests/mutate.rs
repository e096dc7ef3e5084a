//! Hostile inputs: token-level mutations of valid graph sources, and token
//! soup. Both work on token trees, as rustc hands a macro balanced
//! delimiters whatever the user typed.

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};

use super::choices::Choices;
use crate::ops::SIGNATURES;

/// A token tree that is easy to edit in place.
#[derive(Clone)]
pub enum Token {
    Leaf(TokenTree),
    Group(Delimiter, Vec<Token>),
}

pub fn tree(stream: TokenStream) -> Vec<Token> {
    stream
        .into_iter()
        .map(|token| match token {
            TokenTree::Group(group) => Token::Group(group.delimiter(), tree(group.stream())),
            leaf => Token::Leaf(leaf),
        })
        .collect()
}

pub fn stream(tokens: &[Token]) -> TokenStream {
    tokens
        .iter()
        .map(|token| match token {
            Token::Leaf(leaf) => leaf.clone(),
            Token::Group(delimiter, inner) => {
                TokenTree::Group(Group::new(*delimiter, stream(inner)))
            }
        })
        .collect()
}

/// Tokens parsed from source text the generators control.
fn lex(text: &str) -> Vec<Token> {
    tree(text.parse().expect("the mutation vocabulary lexes"))
}

/// Names a mutant may use: the graph language's words, every op, the
/// generator's names, Rust keywords, and names the generated code uses.
const WORDS: [&str; 36] = [
    "input", "var", "const", "let", "output", "struct", "pub", "as", "usize", "f32", "i32", "fn",
    "self", "Self", "crate", "if", "match", "return", "true", "false", "mut", "impl", "x1", "w2",
    "h3", "y4", "n", "m", "new", "zeros", "run", "update", "__g1_add", "__dims", "axis", "same",
];

/// Literals a mutant may use: zero and huge dims, out-of-range numbers,
/// suffixes, and literals of the wrong kind.
const LITERALS: [&str; 24] = [
    "0",
    "18446744073709551615",
    "99999999999999999999",
    "18446744073709551616",
    "9223372036854775807",
    "9223372036854775808",
    "340282366920938463463374607431768211455",
    "1e40",
    "1e-50",
    "-0.0",
    "-1",
    "-9223372036854775808",
    "1usize",
    "1u8",
    "2.0f64",
    "0x7fffffffffffffff",
    "0b1",
    "1_000",
    "'c'",
    "\"s\"",
    "b'x'",
    "1.5e-45",
    "3.4028236e38",
    "2.0",
];

/// Operators, each lexed with the spacing rustc gives it.
const PUNCTUATION: [&str; 28] = [
    "+", "-", "*", "/", "%", "^", "!", "&", "|", "=", "<", ">", "@", ".", ",", ";", ":", "#", "$",
    "?", "~", "->", "=>", "::", "..", "==", "&&", "..=",
];

const DELIMITERS: [Delimiter; 4] = [
    Delimiter::Parenthesis,
    Delimiter::Bracket,
    Delimiter::Brace,
    Delimiter::None,
];

fn word(choices: &mut Choices) -> Vec<Token> {
    match choices.below(4) {
        0 => lex(choices.pick::<&str>(&WORDS)),
        1 => {
            let all: Vec<&str> = SIGNATURES
                .iter()
                .flat_map(|f| f.iter().map(|s| s.name))
                .collect();
            lex(choices.pick::<&str>(&all))
        }
        2 => vec![Token::Leaf(TokenTree::Ident(Ident::new_raw(
            choices.pick::<&str>(&["type", "match", "x1"]),
            Span::call_site(),
        )))],
        _ => lex(&format!("v{}", choices.below(1000))),
    }
}

fn atom(choices: &mut Choices) -> Vec<Token> {
    match choices.below(3) {
        0 => word(choices),
        1 => lex(choices.pick::<&str>(&LITERALS)),
        _ => lex(choices.pick::<&str>(&PUNCTUATION)),
    }
}

/// `tokens` wrapped in `depth` groups.
fn nested(tokens: Vec<Token>, depth: usize, delimiter: Delimiter) -> Vec<Token> {
    (0..depth).fold(tokens, |inner, _| vec![Token::Group(delimiter, inner)])
}

/// A long flat run that makes a deep expression tree without any group:
/// `x + x + ..`, `- - .. x`, `x.relu().relu()..`.
fn chain(choices: &mut Choices) -> Vec<Token> {
    let length = *choices.pick(&[10, 100, 200, 255, 256, 300, 600]);
    let text = match choices.below(3) {
        0 => format!("x1{}", " + x1".repeat(length)),
        1 => format!("{}x1", "- ".repeat(length)),
        _ => format!("x1{}", ".relu()".repeat(length)),
    };
    lex(&text)
}

/// A group of the tree, reached by a random walk from the top that mostly
/// goes into the graph's body.
fn target<'a>(
    tokens: &'a mut Vec<Token>,
    choices: &mut Choices,
    stop: usize,
) -> &'a mut Vec<Token> {
    let groups: Vec<usize> = (0..tokens.len())
        .filter(|&i| matches!(tokens[i], Token::Group(..)))
        .collect();
    if groups.is_empty() || choices.chance(stop) {
        return tokens;
    }
    let index = *choices.pick(&groups);
    match &mut tokens[index] {
        Token::Group(_, inner) => target(inner, choices, 40),
        Token::Leaf(_) => unreachable!("`groups` holds the indices of groups"),
    }
}

/// Every identifier in the tree: names a renamed token may take.
fn identifiers(tokens: &[Token], found: &mut Vec<Ident>) {
    for token in tokens {
        match token {
            Token::Leaf(TokenTree::Ident(ident)) => found.push(ident.clone()),
            Token::Group(_, inner) => identifiers(inner, found),
            Token::Leaf(_) => {}
        }
    }
}

/// The position of a random token of `group` that passes `accept`, or of
/// any token if none does.
fn position(group: &[Token], choices: &mut Choices, accept: fn(&Token) -> bool) -> usize {
    let matching: Vec<usize> = (0..group.len()).filter(|&i| accept(&group[i])).collect();
    if matching.is_empty() {
        choices.below(group.len())
    } else {
        *choices.pick(&matching)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mutation {
    Delete,
    Duplicate,
    Swap,
    /// An identifier becomes a word of the vocabulary.
    RenameToWord,
    /// An identifier becomes another identifier of the same source.
    RenameToName,
    /// A literal becomes a hostile one (zero, huge, suffixed, ...).
    Literal,
    InsertPunctuation,
    InsertAtom,
    Truncate,
    ChangeDelimiter,
    /// A token moves to another group.
    Move,
    /// A token gets wrapped in up to 500 groups.
    Nest,
    /// A long flat chain of operators is inserted.
    Chain,
}

/// Mutations by weight. Nesting and chains are checked before anything
/// else is parsed, so they are rarer, not to hide the others.
const MUTATIONS: [Mutation; 20] = [
    Mutation::Delete,
    Mutation::Delete,
    Mutation::Duplicate,
    Mutation::Swap,
    Mutation::Swap,
    Mutation::RenameToWord,
    Mutation::RenameToName,
    Mutation::RenameToName,
    Mutation::RenameToName,
    Mutation::Literal,
    Mutation::Literal,
    Mutation::Literal,
    Mutation::InsertPunctuation,
    Mutation::InsertAtom,
    Mutation::InsertAtom,
    Mutation::Truncate,
    Mutation::ChangeDelimiter,
    Mutation::Move,
    Mutation::Nest,
    Mutation::Chain,
];

/// Applies one random mutation somewhere in `tokens`.
pub fn mutate(tokens: &mut Vec<Token>, choices: &mut Choices) {
    let mut names = Vec::new();
    identifiers(tokens, &mut names);
    let mutation = *choices.pick(&MUTATIONS);
    let group = target(tokens, choices, 5);
    let at = choices.below(group.len() + 1);
    if group.is_empty() {
        group.extend(atom(choices));
        return;
    }
    let existing = at.min(group.len() - 1);
    match mutation {
        Mutation::Delete => {
            group.remove(existing);
        }
        Mutation::Duplicate => group.insert(existing, group[existing].clone()),
        Mutation::Swap => {
            let other = choices.below(group.len());
            group.swap(existing, other);
        }
        Mutation::RenameToWord | Mutation::RenameToName => {
            let at = position(group, choices, |token| {
                matches!(token, Token::Leaf(TokenTree::Ident(_)))
            });
            let with = if mutation == Mutation::RenameToWord || names.is_empty() {
                word(choices)
            } else {
                vec![Token::Leaf(TokenTree::Ident(choices.pick(&names).clone()))]
            };
            group.splice(at..=at, with).for_each(drop);
        }
        Mutation::Literal => {
            let at = position(group, choices, |token| {
                matches!(token, Token::Leaf(TokenTree::Literal(_)))
            });
            group
                .splice(at..=at, lex(choices.pick::<&str>(&LITERALS)))
                .for_each(drop);
        }
        Mutation::InsertPunctuation => {
            group
                .splice(at..at, lex(choices.pick::<&str>(&PUNCTUATION)))
                .for_each(drop);
        }
        Mutation::InsertAtom => group.splice(at..at, atom(choices)).for_each(drop),
        Mutation::Truncate => group.truncate(at),
        Mutation::ChangeDelimiter => {
            if let Token::Group(delimiter, _) = &mut group[existing] {
                *delimiter = *choices.pick(&DELIMITERS);
            }
        }
        Mutation::Move => {
            let token = group.remove(existing);
            let elsewhere = target(tokens, choices, 5);
            let at = choices.below(elsewhere.len() + 1);
            elsewhere.insert(at, token);
        }
        Mutation::Nest => {
            let depth = *choices.pick(&[2, 10, 62, 63, 64, 65, 128, 500]);
            let delimiter = *choices.pick(&DELIMITERS);
            let inner = vec![group[existing].clone()];
            group
                .splice(existing..=existing, nested(inner, depth, delimiter))
                .for_each(drop);
        }
        Mutation::Chain => group.splice(at..at, chain(choices)).for_each(drop),
    }
}

/// Random tokens and groups, nested at most `depth` deep.
pub fn soup(choices: &mut Choices, depth: usize) -> Vec<Token> {
    let mut tokens = Vec::new();
    for _ in 0..choices.below(12) {
        if depth > 0 && choices.chance(20) {
            let delimiter = *choices.pick(&DELIMITERS);
            tokens.push(Token::Group(delimiter, soup(choices, depth - 1)));
        } else {
            tokens.extend(atom(choices));
        }
    }
    tokens
}

/// `tokens` with every `SOUP` placeholder replaced by `soup`.
fn substitute(tokens: Vec<Token>, soup: &[Token]) -> Vec<Token> {
    let mut result = Vec::with_capacity(tokens.len());
    for token in tokens {
        match token {
            Token::Leaf(TokenTree::Ident(ident)) if ident == "SOUP" => {
                result.extend_from_slice(soup);
            }
            Token::Group(delimiter, inner) => {
                result.push(Token::Group(delimiter, substitute(inner, soup)));
            }
            leaf @ Token::Leaf(_) => result.push(leaf),
        }
    }
    result
}

/// Soup alone, or in the places of a graph where each phase reads it.
pub fn soup_in_context(choices: &mut Choices) -> TokenStream {
    let soup = soup(choices, 4);
    let context = match choices.below(5) {
        0 => "SOUP",
        1 => "struct G { SOUP }",
        2 => "struct G { input x: [3]; output y = SOUP; }",
        3 => "struct G { input x: SOUP; output y = x; }",
        _ => "struct G { input x: [n, 3]; output y = relu(x, SOUP); }",
    };
    stream(&substitute(lex(context), &soup))
}
