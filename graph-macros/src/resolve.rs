//! Phase 2, names: every name declared once, every reference and op known,
//! no cycles; and the order in which declarations must be lowered.
//!
//! Takes the [`GraphSyntax`] and returns a [`Resolution`]. Errors about names
//! are collected and lowering still runs (so shape errors elsewhere are
//! reported in the same compile); a cycle stops the pipeline, since every
//! shape on it would be an error too.

use std::collections::{HashMap, HashSet};

use proc_macro2::Ident;

use crate::diag::{closest, Code, Diagnostics, SpanRange};
use crate::ops;
use crate::parse::{DeclKind, Expr, GraphSyntax};

pub struct Resolution {
    /// Declared name to the index of its declaration in `GraphSyntax::decls`.
    pub names: HashMap<String, usize>,
    /// Every declaration index, each after the declarations it refers to.
    pub order: Vec<usize>,
    /// For each declaration, the declarations its value (or, for an
    /// update, its target) refers to; empty for the leaves of a cyclic
    /// graph's fallback.
    pub uses: Vec<Vec<usize>>,
}

/// The declarations that refer to nothing (inputs, variables, constants),
/// in declaration order: what a graph whose declarations cannot all be
/// ordered (a cycle) lowers for its fallback, which so has its fields and
/// its methods' parameters. Name errors are not reported again.
pub fn leaves(syntax: &GraphSyntax) -> Resolution {
    let names = declare(syntax, &mut Diagnostics::new());
    let order = syntax
        .decls
        .iter()
        .enumerate()
        .filter(|(_, decl)| matches!(decl.kind, DeclKind::Input | DeclKind::Var | DeclKind::Const))
        .map(|(index, _)| index)
        .collect();
    let uses = vec![Vec::new(); syntax.decls.len()];
    Resolution { names, order, uses }
}

/// A reference from one declaration's value to another declaration.
struct Edge {
    target: usize,
    reference: Ident,
}

pub fn resolve(syntax: &GraphSyntax, diagnostics: &mut Diagnostics) -> Option<Resolution> {
    let names = declare(syntax, diagnostics);
    check_assignments(syntax, &names, diagnostics);
    let edges: Vec<Vec<Edge>> = syntax
        .decls
        .iter()
        .map(|decl| {
            let mut edges = Vec::new();
            // An update is lowered after the variable it assigns, even when
            // its value does not read it (`w = 0.0;` before `var w`).
            if decl.kind == DeclKind::Assign {
                if let Some(&target) = names.get(&decl.name.to_string()) {
                    edges.push(Edge {
                        target,
                        reference: decl.name.clone(),
                    });
                }
            }
            if let Some(value) = &decl.value {
                if decl.kind == DeclKind::Const {
                    // A constant's value is a literal; `lower` reports anything else.
                    return edges;
                }
                if decl.kind == DeclKind::Step {
                    match crate::train::parts(value) {
                        Ok(parts) => {
                            for expr in parts.expressions() {
                                references(expr, &names, &mut edges, diagnostics);
                            }
                        }
                        Err(errors) => errors.into_iter().for_each(|e| diagnostics.push(e)),
                    }
                    return edges;
                }
                references(value, &names, &mut edges, diagnostics);
            }
            edges
        })
        .collect();
    let order = order_acyclic(syntax, &edges, diagnostics)?;
    let uses = edges
        .iter()
        .map(|edges| edges.iter().map(|edge| edge.target).collect())
        .collect();
    Some(Resolution { names, order, uses })
}

/// Builds the name table, reporting duplicates at their second declaration.
fn declare(syntax: &GraphSyntax, diagnostics: &mut Diagnostics) -> HashMap<String, usize> {
    let mut names: HashMap<String, usize> = HashMap::new();
    for (index, decl) in syntax.decls.iter().enumerate() {
        if decl.kind == DeclKind::Assign {
            continue;
        }
        let name = decl.name.to_string();
        // Generated locals are `__g<id>_<op>`, `__ws`, `__dims`, ...: a user
        // value of one of those names would be shadowed by it.
        if name.starts_with("__") {
            diagnostics.push(SpanRange::single(decl.name.span()).error(Code::ReservedName, format!(
                "`{name}`: names starting with `__` are reserved for the code `graph!` generates; rename it"
            )));
        }
        if let Some(&first) = names.get(&name) {
            let first_kind = syntax.decls[first].kind;
            let message = match first_kind {
                DeclKind::Const => format!("cannot redefine constant `{name}`: constants are immutable"),
                DeclKind::Input => format!(
                    "cannot redefine input `{name}`: inputs are fed at each run; give the new value its own name"
                ),
                _ => format!(
                    "`{name}` is declared twice (first as {} {}); every name in a graph is declared once",
                    if first_kind == DeclKind::Input || first_kind == DeclKind::Output { "an" } else { "a" },
                    first_kind.noun()
                ),
            };
            diagnostics.push(SpanRange::single(decl.name.span()).error(Code::Duplicate, message));
        } else {
            names.insert(name, index);
        }
    }
    names
}

/// Only variables may be assigned, each at most once.
fn check_assignments(
    syntax: &GraphSyntax,
    names: &HashMap<String, usize>,
    diagnostics: &mut Diagnostics,
) {
    let mut assigned: HashSet<String> = HashSet::new();
    for decl in syntax.decls.iter().filter(|d| d.kind == DeclKind::Assign) {
        let name = decl.name.to_string();
        let Some(&target) = names.get(&name) else {
            diagnostics.push(unknown_name(&decl.name, names));
            continue;
        };
        let why = match syntax.decls[target].kind {
            DeclKind::Var => {
                if !assigned.insert(name.clone()) {
                    diagnostics.push(SpanRange::single(decl.name.span()).error(Code::Assignment, format!(
                        "variable `{name}` is assigned twice; a graph updates each variable at most once"
                    )));
                }
                continue;
            }
            DeclKind::Const => "constants are immutable".to_string(),
            DeclKind::Input => {
                "inputs are fed at each run; declare a `var` for state that changes".to_string()
            }
            kind => format!(
                "only variables can be assigned; `{name}` is a {}, declare a new `let` for a new value",
                kind.noun()
            ),
        };
        let noun = syntax.decls[target].kind.noun();
        diagnostics.push(SpanRange::single(decl.name.span()).error(
            Code::Assignment,
            format!("cannot assign to {noun} `{name}`: {why}"),
        ));
    }
}

fn unknown_name(name: &Ident, names: &HashMap<String, usize>) -> syn::Error {
    let text = name.to_string();
    let message = match closest(&text, names.keys().map(String::as_str)) {
        Some(suggestion) => {
            format!("cannot find `{text}` in this graph; did you mean `{suggestion}`?")
        }
        None => format!("cannot find `{text}` in this graph"),
    };
    SpanRange::single(name.span()).error(Code::UnknownName, message)
}

/// Collects the declarations `expr` refers to, reporting unknown names and
/// ops and calls with the wrong number of operands.
fn references(
    expr: &Expr,
    names: &HashMap<String, usize>,
    edges: &mut Vec<Edge>,
    diagnostics: &mut Diagnostics,
) {
    match expr {
        Expr::Name(name) => match names.get(&name.to_string()) {
            Some(&target) => edges.push(Edge {
                target,
                reference: name.clone(),
            }),
            None => diagnostics.push(unknown_name(name, names)),
        },
        Expr::Number(..) | Expr::Bool(..) | Expr::Str(..) => {}
        Expr::Array(elements, _) => {
            for element in elements {
                references(element, names, edges, diagnostics);
            }
        }
        Expr::Binary(_, left, right, _) => {
            references(left, names, edges, diagnostics);
            references(right, names, edges, diagnostics);
        }
        Expr::Neg(operand, _) => references(operand, names, edges, diagnostics),
        Expr::Call(op_name, args, span) => {
            let Some(signature) = ops::signature(&op_name.to_string()) else {
                diagnostics.push(ops::unknown_op(op_name));
                // Still resolve the arguments that look like values.
                for arg in args.iter().filter(|arg| arg.name.is_none()) {
                    references(&arg.value, names, edges, diagnostics);
                }
                return;
            };
            // A call with a wrong argument still has its operands resolved,
            // so that their own errors are reported in the same compile.
            let (bound, errors) = ops::bind_partial(signature, args, *span);
            for error in errors {
                diagnostics.push(error);
            }
            for operand in ops::operands(signature, &bound) {
                references(operand, names, edges, diagnostics);
            }
        }
    }
}

/// Orders declarations so each follows those it refers to (post-order
/// depth-first search, as a session would sort its nodes), reporting every
/// cycle found with all its members in order.
fn order_acyclic(
    syntax: &GraphSyntax,
    edges: &[Vec<Edge>],
    diagnostics: &mut Diagnostics,
) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        Active,
        Done,
    }
    let count = syntax.decls.len();
    let mut state = vec![State::New; count];
    let mut order = Vec::with_capacity(count);
    let mut found_cycle = false;
    // Iterative DFS: (declaration, index of the next edge to follow). Deep
    // chains of bindings must not overflow the macro's stack.
    for root in 0..count {
        if state[root] != State::New {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = State::Active;
        while let Some(&(decl, next)) = stack.last() {
            if let Some(edge) = edges[decl].get(next) {
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
                match state[edge.target] {
                    State::New => {
                        state[edge.target] = State::Active;
                        stack.push((edge.target, 0));
                    }
                    State::Active => {
                        found_cycle = true;
                        let start = stack
                            .iter()
                            .position(|(d, _)| *d == edge.target)
                            .unwrap_or(0);
                        // `a` uses `b`, which uses `c`, which uses `a`.
                        let members: Vec<String> = stack[start..]
                            .iter()
                            .map(|(d, _)| format!("`{}`", syntax.decls[*d].name))
                            .chain(std::iter::once(format!("`{}`", edge.reference)))
                            .collect();
                        let message = if members.len() == 2 {
                            format!("`{}` uses itself", edge.reference)
                        } else {
                            format!(
                                "cycle in the graph: {} uses {}",
                                members[0],
                                members[1..].join(", which uses ")
                            )
                        };
                        diagnostics.push(SpanRange::single(edge.reference.span()).error(
                            Code::Cycle,
                            format!("{message}; a graph cannot feed a value back into itself"),
                        ));
                    }
                    State::Done => {}
                }
            } else {
                state[decl] = State::Done;
                order.push(decl);
                stack.pop();
            }
        }
    }
    (!found_cycle).then_some(order)
}
