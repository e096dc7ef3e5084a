//! ONNX names as Rust identifiers: `input.1`, `/fc1/Gemm_output_0` and
//! `onnx::Gemm_5` become `input_1`, `fc1_gemm` and `gemm_5`.

use std::collections::{HashMap, HashSet};

/// Rust's keywords, which no name may be; a sanitized name equal to one
/// gets a trailing `_`.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true", "try", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "union",
];

/// The names given so far.
#[derive(Default)]
pub struct Names {
    taken: HashSet<String>,
    /// The next suffix `fresh` tries for each base: the ones below it were
    /// taken when tried and names are never released, so skipping them
    /// keeps many values of one base (`r.`, `r/`, `r:` all become `r`)
    /// linear instead of quadratic.
    next: HashMap<String, usize>,
}

impl Names {
    pub fn is_taken(&self, name: &str) -> bool {
        self.taken.contains(name)
    }

    pub fn reserve(&mut self, name: &str) {
        self.taken.insert(name.to_string());
    }

    /// `base`, or `base_2`, `base_3`, .. if taken; reserved.
    pub fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let n = self.next.entry(base.to_string()).or_insert(2);
        while self.taken.contains(&name) {
            name = format!("{base}_{n}");
            *n += 1;
        }
        self.taken.insert(name.clone());
        name
    }
}

/// The local name of a node output: the sanitized name without the
/// `_output_0` suffix and `onnx::` prefix exporters add.
pub fn local(raw: &str) -> String {
    let trimmed = raw.strip_prefix("onnx::").unwrap_or(raw);
    identifier(&trimmed.replace("_output_0", ""))
}

/// `raw` as an identifier, lower snake case: other characters become `_`,
/// runs of `_` one, camel case is split, and a leading digit gets a `v`
/// before it (also a symbolic dim's name: `batchSize`, `N` → `batch_size`, `n`).
pub fn identifier(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut last_underscore = true;
    let mut previous_lower = false;
    for ch in raw.chars() {
        if ch.is_ascii_alphanumeric() {
            // camelCase boundaries: `GemmOutput` → `gemm_output`.
            if ch.is_ascii_uppercase() && previous_lower && !last_underscore {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
            last_underscore = false;
            previous_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
        } else if !last_underscore {
            out.push('_');
            last_underscore = true;
            previous_lower = false;
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() {
        out.push('v');
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'v');
    }
    if out.starts_with("__") || KEYWORDS.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{identifier, local};

    #[test]
    fn exporter_names_become_identifiers() {
        assert_eq!(identifier("input.1"), "input_1");
        assert_eq!(local("/fc1/Gemm_output_0"), "fc1_gemm");
        assert_eq!(local("onnx::Gemm_5"), "gemm_5");
        assert_eq!(identifier("17"), "v17");
        assert_eq!(identifier("fc1.weight"), "fc1_weight");
        assert_eq!(identifier("batchSize"), "batch_size");
        assert_eq!(identifier("N"), "n");
        assert_eq!(identifier("type"), "type_");
        assert_eq!(local("/conv2/Conv_output_0_padded"), "conv2_conv_padded");
        assert_eq!(identifier("..."), "v");
    }
}
