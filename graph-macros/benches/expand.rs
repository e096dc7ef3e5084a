//! Expansion time of `graph!` (issue 7, point 6): the expander run directly
//! on generated graphs of 100, 1,000 and 10,000 nodes, with no rustc, to
//! show its cost per node staying flat as graphs grow; and each phase alone,
//! to name the one that grows faster when one does.
//!
//! A proc-macro crate exports nothing but its macros, so this bench compiles
//! the compiler's sources a second time as modules of its own: `compiler`
//! loads them from `src/`, and the `use` below makes their `crate::ir`-style
//! paths resolve here as they do in the library. A module added to `lib.rs`
//! is added to the list too (the bench does not build until it is).
//!
//! ```text
//! cargo bench -p graph-macros --bench expand                  # optimised
//! cargo bench -p graph-macros --bench expand --profile dev    # as rustc runs it
//! ```
//!
//! Cargo builds proc macros at `opt-level = 0` in every profile (its
//! `build-override` default), so the `dev` numbers are the ones a user
//! waits for.

use std::fmt::Write as _;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use proc_macro2::TokenStream;

// The bench calls the pipeline's phases, not every helper of every module;
// and cargo builds benches with `cfg(test)`, which compiles the sources'
// unit-test modules without their `#[test]` functions.
#[allow(dead_code, unused_imports)]
#[path = "../src"]
mod compiler {
    pub mod bake;
    pub mod budget;
    pub mod check;
    pub mod diag;
    pub mod differentiate;
    pub mod dot;
    pub mod emit;
    pub mod expand;
    pub mod import;
    pub mod introspect;
    pub mod ir;
    pub mod lint;
    pub mod lower;
    pub mod ops;
    pub mod optimize;
    pub mod parse;
    pub mod plan;
    pub mod resolve;
    pub mod shape;
    pub mod train;
}

use compiler::{
    bake, budget, check, diag, differentiate, dot, emit, expand, import, introspect, ir, lint,
    lower, ops, optimize,
};
use compiler::{parse, plan, resolve, shape, train};

const SIZES: [usize; 3] = [100, 1_000, 10_000];

/// A chain: every value computed from the one before it, `nodes` deep.
fn chain(nodes: usize, output_every: Option<usize>) -> String {
    let mut source = String::from(
        "struct Chain {\n    input x: [n, 16];\n    var w: [16, 16];\n    var b: [16];\n    let h0 = x;\n",
    );
    // Three leaves; each declaration below adds one node.
    for i in 1..nodes.saturating_sub(2) {
        let previous = format!("h{}", i - 1);
        let value = match i % 5 {
            0 => format!("relu({previous})"),
            1 => format!("matmul({previous}, w)"),
            2 => format!("{previous} + b"),
            3 => format!("tanh({previous})"),
            _ => format!("{previous} * h{}", i - 2),
        };
        let keyword = match output_every {
            Some(every) if i % every == 0 => "output",
            _ => "let",
        };
        writeln!(source, "    {keyword} h{i} = {value};").expect("writing to a String cannot fail");
    }
    writeln!(source, "    output y = h{};\n}}", nodes.saturating_sub(3))
        .expect("writing to a String cannot fail");
    source
}

/// A wide graph: `nodes / 3` independent branches of the input, summed
/// pairwise down to one output. Each branch scales by its own constant
/// (two nodes: the constant and the product), so none are merged. With
/// `inputs`, the branches are instead `nodes / 2` inputs of their own.
fn wide(nodes: usize, inputs: bool) -> String {
    let mut source = String::from("struct Wide {\n    input x: [n, 16];\n");
    let branches = if inputs { nodes / 2 } else { nodes / 3 }.max(2);
    let mut level: Vec<String> = (0..branches)
        .map(|k| {
            if inputs {
                writeln!(source, "    input a{k}: [n, 16];")
                    .expect("writing to a String cannot fail");
            } else {
                writeln!(source, "    let a{k} = x * {}.5;", k + 1)
                    .expect("writing to a String cannot fail");
            }
            format!("a{k}")
        })
        .collect();
    let mut sums = 0;
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            if let [left, right] = pair {
                sums += 1;
                writeln!(source, "    let s{sums} = {left} + {right};")
                    .expect("writing to a String cannot fail");
                next.push(format!("s{sums}"));
            } else {
                next.push(pair[0].clone());
            }
        }
        level = next;
    }
    writeln!(source, "    output y = {};\n}}", level[0]).expect("writing to a String cannot fail");
    source
}

/// The benchmarked graphs: (name, nodes, source).
fn graphs() -> Vec<(&'static str, usize, TokenStream)> {
    let mut graphs = Vec::new();
    for nodes in SIZES {
        let mut sources = vec![
            ("chain", chain(nodes, None)),
            ("wide", wide(nodes, false)),
            ("inputs", wide(nodes, true)),
        ];
        // One output every 10 nodes. The outputs' methods share one
        // schedule (`emit/fetch.rs`), so this grows with nodes plus outputs;
        // when each method restated the nodes it needs, it grew with nodes ×
        // outputs (951 ms at 1,000 nodes, 140 s at 10,000, unoptimised).
        sources.push(("outputs", chain(nodes, Some(10))));
        for (name, source) in sources {
            let tokens = source.parse().expect("generated graphs lex");
            graphs.push((name, nodes, tokens));
        }
    }
    graphs
}

fn configure(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    nodes: usize,
) {
    group.throughput(Throughput::Elements(nodes as u64));
    if nodes >= 10_000 {
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(20));
    } else {
        group.sample_size(20);
    }
}

/// The whole expansion, as the macro runs it.
fn whole(criterion: &mut Criterion) {
    for (name, nodes, tokens) in graphs() {
        let output = expand::expand_checked(tokens.clone());
        assert!(
            output.is_ok(),
            "the generated {name} graph expands without errors"
        );
        let mut group = criterion.benchmark_group(format!("expand/{name}"));
        configure(&mut group, nodes);
        group.bench_function(BenchmarkId::from_parameter(nodes), |bench| {
            bench.iter_batched(
                || tokens.clone(),
                expand::expand_checked,
                BatchSize::LargeInput,
            );
        });
        group.finish();
    }
}

/// The checked IR of a valid graph.
fn checked(tokens: TokenStream) -> ir::Graph {
    let syntax = parse::parse(tokens).expect("generated graphs parse");
    let mut diagnostics = diag::Diagnostics::new();
    let resolution =
        resolve::resolve(&syntax, &mut diagnostics).expect("generated graphs are acyclic");
    let mut graph = lower::lower(&syntax, &resolution, &mut diagnostics);
    check::check(&mut graph, &mut diagnostics);
    assert!(!diagnostics.has_errors(), "generated graphs check");
    graph
}

/// Each phase alone: parse; resolve, lower and check; the DOT text; the
/// optimisation passes; emission.
fn phases(criterion: &mut Criterion) {
    for (name, nodes, tokens) in graphs() {
        let mut group = criterion.benchmark_group(format!("phase/{name}/{nodes}"));
        configure(&mut group, nodes);
        group.bench_function("parse", |bench| {
            bench.iter_batched(|| tokens.clone(), parse::parse, BatchSize::LargeInput);
        });
        let syntax = parse::parse(tokens.clone()).expect("generated graphs parse");
        group.bench_function("resolve+lower+check", |bench| {
            bench.iter(|| {
                let mut diagnostics = diag::Diagnostics::new();
                let resolution = resolve::resolve(&syntax, &mut diagnostics);
                resolution.map(|resolution| {
                    let mut graph = lower::lower(&syntax, &resolution, &mut diagnostics);
                    check::check(&mut graph, &mut diagnostics);
                    graph.nodes.len()
                })
            });
        });
        let graph = checked(tokens.clone());
        group.bench_function("dot", |bench| bench.iter(|| dot::dot(&graph)));
        group.bench_function("optimize", |bench| {
            bench.iter_batched(
                || checked(tokens.clone()),
                |mut graph| optimize::run(&mut graph),
                BatchSize::LargeInput,
            );
        });
        let as_written = dot::dot(&graph);
        let mut optimized = checked(tokens.clone());
        optimize::run(&mut optimized);
        group.bench_function("plan", |bench| bench.iter(|| plan::plan(&optimized)));
        let plan = plan::plan(&optimized);
        group.bench_function("introspect", |bench| {
            bench.iter(|| introspect::items(&optimized, &as_written, true));
        });
        let introspection = introspect::items(&optimized, &as_written, true);
        group.bench_function("emit", |bench| {
            bench.iter(|| emit::hosted::emit(&optimized, &plan, &introspection));
        });
        group.finish();
    }
}

criterion_group!(benches, whole, phases);
criterion_main!(benches);
