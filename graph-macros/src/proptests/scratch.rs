//! scratch
#[allow(clippy::all, clippy::pedantic)]
mod inner {
    use crate::expand;

    fn run(src: String, stack: usize) -> bool {
        let h = std::thread::Builder::new()
            .stack_size(stack)
            .spawn(move || {
                let tokens: proc_macro2::TokenStream = src.parse().unwrap();
                if std::env::var("SYN_ONLY").is_ok() {
                    let tokens: proc_macro2::TokenStream = src
                        .split_once(" = ")
                        .unwrap()
                        .1
                        .trim_end_matches("; }")
                        .parse()
                        .unwrap();
                    let e = syn::parse2::<syn::Expr>(tokens);
                    drop(e);
                } else {
                    let out = expand::expand(tokens);
                    drop(out);
                }
            })
            .unwrap();
        h.join().is_ok()
    }

    pub fn shapes_pub(kind: &str, n: usize) -> String {
        shapes(kind, n)
    }
    fn shapes(kind: &str, n: usize) -> String {
        match kind {
            "paren" => format!(
                "struct G {{ input x: [3]; output y = {}x{}; }}",
                "(".repeat(n),
                ")".repeat(n)
            ),
            "binary" => format!(
                "struct G {{ input x: [3]; output y = x{}; }}",
                " + x".repeat(n)
            ),
            "neg" => format!(
                "struct G {{ input x: [3]; output y = {}x; }}",
                "- ".repeat(n)
            ),
            "method" => format!(
                "struct G {{ input x: [3]; output y = x{}; }}",
                ".relu()".repeat(n)
            ),
            "call" => format!(
                "struct G {{ input x: [3]; output y = {}x{}; }}",
                "relu(".repeat(n),
                ")".repeat(n)
            ),
            "array" => format!(
                "struct G {{ const c = {}1.0{}; output y = c * 2.0; }}",
                "[".repeat(n),
                "]".repeat(n)
            ),
            "shape" => format!(
                "struct G {{ input x: {}; output y = x; }}",
                "[".repeat(n) + &"]".repeat(n)
            ),
            "mixed" => format!(
                "struct G {{ input x: [3]; output y = {}x{}; }}",
                "(- - - ".repeat(n),
                ")".repeat(n)
            ),
            "lets" => {
                let mut s = String::from("struct G { input h0: [3]; ");
                for i in 1..n {
                    s += &format!("let h{i} = h{} + 1.0; ", i - 1);
                }
                s += &format!("output y = h{}; }}", n - 1);
                s
            }
            _ => unreachable!(),
        }
    }

    #[test]
    #[ignore]
    fn depth_limits() {
        let stack: usize = std::env::var("STACK_KB")
            .map(|s| s.parse::<usize>().unwrap() * 1024)
            .unwrap_or(8 << 20);
        let kind = std::env::var("KIND").unwrap();
        let n: usize = std::env::var("N").unwrap().parse().unwrap();
        let ok = run(shapes(&kind, n), stack);
        eprintln!("RESULT {kind} {n}: {}", if ok { "ok" } else { "panicked" });
    }
}

mod scratch2 {
    #[test]
    #[ignore]
    fn suspects() {
        for src in [
            "struct G { input x: [3]; output y = concat([]); }",
            "struct G { input x: [3]; output y = concat([], axis = 0); }",
            "struct G { input x: [3]; let __g1_relu = x * 2.0; output y = relu(x) + __g1_relu; }",
        ] {
            let r =
                std::panic::catch_unwind(|| crate::expand::expand_checked(src.parse().unwrap()));
            eprintln!(
                "{src}\n  -> {:?}\n",
                r.map(|r| r.map(|t| t.to_string()).map_err(|t| t.to_string()))
            );
        }
    }
}
#[test]
#[ignore]
fn diff_expansions() {
    let src = std::fs::read_to_string("/tmp/src.txt").unwrap();
    let tokens: proc_macro2::TokenStream = src.parse().unwrap();
    let a = crate::expand::expand_checked(tokens.clone())
        .unwrap()
        .to_string();
    for i in 0..20 {
        let b = crate::expand::expand_checked(tokens.clone())
            .unwrap()
            .to_string();
        if a != b {
            std::fs::write("/tmp/a.txt", a.replace(" ; ", " ;\n")).unwrap();
            std::fs::write("/tmp/b.txt", b.replace(" ; ", " ;\n")).unwrap();
            panic!("differ at {i}");
        }
    }
}

#[test]
#[ignore]
fn max_accepted() {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| {
            for kind in ["paren", "binary", "neg", "method", "call", "array", "mixed"] {
                let mut best = 0;
                for n in 1..2000 {
                    let out = crate::expand::expand(inner::shapes_pub(kind, n).parse().unwrap())
                        .to_string();
                    if out.contains("expression too long") || out.contains("nested more than") {
                        break;
                    }
                    best = n;
                }
                eprintln!("MAX {kind} {best}");
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
#[ignore]
fn stats() {
    use super::{choices::Choices, generate, mutate};
    use proptest::strategy::{Strategy, ValueTree};
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = proptest::collection::vec(proptest::num::u32::ANY, 0..400);
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    let mode = std::env::var("MODE").unwrap();
    let mut total_nodes = 0usize;
    let cases: usize = std::env::var("CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(2000);
    let locations = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::<
        String,
        usize,
    >::new()));
    let sink = locations.clone();
    std::panic::set_hook(Box::new(move |info| {
        let loc = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        *sink
            .lock()
            .unwrap()
            .entry(format!(
                "{loc} {}",
                info.payload()
                    .downcast_ref::<String>()
                    .cloned()
                    .or(info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            ))
            .or_default() += 1;
    }));
    let mut first_inputs = std::collections::BTreeMap::<usize, String>::new();
    for case in 0..cases {
        let a = strategy.new_tree(&mut runner).unwrap().current();
        let b = strategy.new_tree(&mut runner).unwrap().current();
        let tokens = match mode.as_str() {
            "valid" => {
                let g = generate::graph(&mut Choices::new(a));
                let graph = crate::expand::build_graph(g.source.parse().unwrap()).unwrap();
                total_nodes += graph.nodes.len();
                for n in &graph.nodes {
                    *counts.entry(n.op.word().to_string()).or_default() += 1;
                }
                continue;
            }
            "mutate" => {
                let source = generate::graph(&mut Choices::new(a)).source;
                let mut tokens = mutate::tree(source.parse().unwrap());
                let mut choices = Choices::new(b);
                for _ in 0..choices.between(1, 4) {
                    mutate::mutate(&mut tokens, &mut choices);
                }
                mutate::stream(&tokens)
            }
            _ => mutate::soup_in_context(&mut Choices::new(a)),
        };
        let text = tokens.to_string();
        let before: usize = locations.lock().unwrap().values().sum();
        let key = match std::panic::catch_unwind(|| crate::expand::expand_checked(tokens))
            .unwrap_or_else(|_| {
                if first_inputs.len() < 20 {
                    first_inputs.insert(case, text.chars().take(1500).collect());
                }
                Ok(proc_macro2::TokenStream::new())
            }) {
            Ok(_) => "OK".to_string(),
            Err(e) => {
                let s = e.to_string();
                let i = s.find("compile_error").unwrap();
                let msg = &s[i..];
                let msg = msg.split('"').nth(1).unwrap_or("?");
                msg.chars().take(45).collect()
            }
        };
        *counts.entry(key).or_default() += 1;
    }
    let _ = std::panic::take_hook();
    for (loc, count) in locations.lock().unwrap().iter() {
        eprintln!("PANIC {count:6} {loc}");
    }
    for (case, text) in &first_inputs {
        eprintln!("INPUT {case}: {text}");
    }

    eprintln!("nodes per graph: {}", total_nodes / cases);
    let mut v: Vec<_> = counts.into_iter().collect();
    v.sort_by_key(|(_, c)| std::cmp::Reverse(*c));
    for (k, c) in v.iter().take(60) {
        eprintln!("{c:6} {k}");
    }
}
#[test]
#[ignore]
fn repro_plan() {
    for src in [
        "struct G { input x: [4294967296, 4294967296]; output y = relu(x); }",
        "struct G { input x: [4611686018427387904]; output y = relu(x); }",
        "struct G { output y = concat([]); }",
    ] {
        let r = std::panic::catch_unwind(|| {
            crate::expand::expand_checked(src.parse().unwrap()).is_ok()
        });
        eprintln!("REPRO {src} -> {r:?}");
    }
}
fn duplicate_lets(file: &syn::File) -> Vec<String> {
    let mut found = Vec::new();
    for item in &file.items {
        if let syn::Item::Impl(imp) = item {
            for it in &imp.items {
                if let syn::ImplItem::Fn(f) = it {
                    let mut seen = std::collections::HashSet::new();
                    for stmt in &f.block.stmts {
                        if let syn::Stmt::Local(local) = stmt {
                            let name = quote::ToTokens::to_token_stream(&local.pat).to_string();
                            if !seen.insert(name.clone()) {
                                found.push(format!("{}: {}", f.sig.ident, name));
                            }
                        }
                    }
                }
            }
        }
    }
    found
}
#[test]
#[ignore]
fn find_clash() {
    for k in 0..8 {
        for op in ["relu", "mul", "add", "const", "softmax", "matmul"] {
            let name = format!("__g{k}_{op}");
            let src = format!("struct G {{ input x: [3, 3]; let {name} = matmul(x, x); output y = matmul(softmax(x * 2.0), {name}); }}");
            let out = crate::expand::expand_checked(src.parse().unwrap()).unwrap();
            let file: syn::File = syn::parse2(out).unwrap();
            let d = duplicate_lets(&file);
            if !d.is_empty() {
                eprintln!("CLASH {src}\n  {d:?}");
            }
        }
    }
}
#[test]
#[ignore]
fn show() {
    let src = std::fs::read_to_string("/tmp/src.txt").unwrap();
    let out = crate::expand::expand_checked(src.parse().unwrap())
        .unwrap_or_else(|e| e)
        .to_string();
    let i = out.find("fn y_with").unwrap();
    eprintln!(
        "{}",
        out[i..]
            .split(" fn ")
            .next()
            .unwrap()
            .replace(" ; ", " ;\n")
    );
}
#[test]
#[ignore]
fn profile_valid() {
    use super::{choices::Choices, generate};
    use proptest::strategy::{Strategy, ValueTree};
    use std::time::Instant;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = proptest::collection::vec(proptest::num::u32::ANY, 0..400);
    let mut t = [std::time::Duration::ZERO; 5];
    for _ in 0..256 {
        let a = strategy.new_tree(&mut runner).unwrap().current();
        let s = Instant::now();
        let g = generate::graph(&mut Choices::new(a));
        let tokens: proc_macro2::TokenStream = g.source.parse().unwrap();
        t[0] += s.elapsed();
        let s = Instant::now();
        let out = crate::expand::expand_checked(tokens.clone()).unwrap();
        t[1] += s.elapsed();
        let s = Instant::now();
        let _ = out.to_string();
        t[2] += s.elapsed();
        let s = Instant::now();
        let _ = syn::parse2::<syn::File>(out).unwrap();
        t[3] += s.elapsed();
        let s = Instant::now();
        let mut graph = crate::expand::build_graph(tokens).unwrap();
        crate::optimize::eliminate_common_subexpressions(&mut graph);
        crate::optimize::eliminate_dead_nodes(&mut graph);
        t[4] += s.elapsed();
    }
    eprintln!(
        "PROFILE generate {:?} expand {:?} to_string {:?} syn {:?} build+passes {:?}",
        t[0], t[1], t[2], t[3], t[4]
    );
}
