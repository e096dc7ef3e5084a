//! Phase 3, lowering: syntax to the graph IR.
//!
//! Declarations are lowered in the order `resolve` computed, so every name a
//! value refers to already has its node. Expressions become one node per
//! operation; a name becomes an edge to its declaration's node; numeric and
//! array literals become constant nodes. Spans travel into the IR. Shapes of
//! leaves come from their declarations; all other shapes are left to `check`.

use std::collections::HashMap;

use quote::ToTokens;
use syn::ext::IdentExt;

use crate::diag::{Code, Diagnostics, SpanRange};
use crate::ir::{Annotation, DType, Graph, Node, NodeId, Op, Output, Tensor, Update};
use crate::ops;
use crate::parse::{BinaryOp, DeclKind, DimSyntax, Expr, GraphSyntax, ShapeSyntax};
use crate::resolve::Resolution;
use crate::shape::{Dim, Shape};

pub fn lower(
    syntax: &GraphSyntax,
    resolution: &Resolution,
    diagnostics: &mut Diagnostics,
) -> Graph {
    let mut lowering = Lowering {
        graph: Graph {
            attrs: struct_attrs(&syntax.attrs),
            vis: syntax.vis.clone(),
            name: syntax.name.clone(),
            nodes: Vec::new(),
            inputs: Vec::new(),
            variables: Vec::new(),
            outputs: Vec::new(),
            updates: Vec::new(),
            annotations: Vec::new(),
            baked_from: None,
            no_std: syntax.no_std.is_some(),
            optimize: syntax.optimize,
            steps: Vec::new(),
            state: Vec::new(),
            initial: Vec::new(),
            docs: Vec::new(),
        },
        resolution,
        decl_nodes: HashMap::new(),
        leaf_decls: HashMap::new(),
        diagnostics,
    };
    for decl in &syntax.decls {
        for attr in &decl.rejected {
            let path = attr.path().to_token_stream().to_string().replace(' ', "");
            lowering.diagnostics.push(SpanRange::of(attr).error(
                Code::DeclarationAttribute,
                format!(
                    "`#[{path}]` is not supported on a graph declaration: only doc comments \
                     (`///`) are, and they document the generated methods"
                ),
            ));
        }
    }
    for &index in &resolution.order {
        lowering.declaration(syntax, index);
    }
    // Parameters and fields follow declaration order, not dependency order.
    let position = |id: &NodeId| lowering.leaf_decls.get(id).copied();
    let mut inputs = std::mem::take(&mut lowering.graph.inputs);
    inputs.sort_by_key(position);
    let mut variables = std::mem::take(&mut lowering.graph.variables);
    variables.sort_by_key(position);
    let mut outputs = std::mem::take(&mut lowering.graph.outputs);
    outputs.sort_by_key(|output| resolution.names.get(&output.name.to_string()).copied());
    lowering.graph.inputs = inputs;
    lowering.graph.variables = variables;
    lowering.graph.outputs = outputs;
    lowering.graph
}

/// The attributes of the graph's struct: the user's, with `Debug` taken
/// out of their derives. Every graph implements `Debug` (each variable's
/// name and shape, `emit::debug_impl`), so a derived one would clash; the
/// user's `#[derive(Clone, Debug, PartialEq)]` keeps working, with that
/// implementation.
fn struct_attrs(attrs: &[syn::Attribute]) -> Vec<syn::Attribute> {
    let mut kept = Vec::new();
    for attr in attrs {
        let derived = attr.path().is_ident("derive").then(|| {
            attr.parse_args_with(
                syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
            )
        });
        let Some(Ok(paths)) = derived else {
            kept.push(attr.clone());
            continue;
        };
        let count = paths.len();
        let others: Vec<syn::Path> = paths
            .into_iter()
            .filter(|path| path.segments.last().is_none_or(|s| s.ident != "Debug"))
            .collect();
        if others.len() == count {
            kept.push(attr.clone());
        } else if !others.is_empty() {
            let pound = attr.pound_token;
            kept.push(syn::parse_quote! { #pound[derive(#(#others),*)] });
        }
    }
    kept
}

/// spaces; `None` without any.
fn doc_text(attrs: &[syn::Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter_map(|attr| match &attr.meta {
            syn::Meta::NameValue(meta) if meta.path.is_ident("doc") => match &meta.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(text),
                    ..
                }) => Some(text.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .filter(|line| !line.is_empty())
        .collect();
    (!lines.is_empty()).then(|| lines.join(" "))
}

struct Lowering<'a> {
    graph: Graph,
    resolution: &'a Resolution,
    /// Declaration index to the node holding its value; missing where the
    /// declaration had an error already reported.
    decl_nodes: HashMap<usize, NodeId>,
    /// Input and variable nodes to the index of their own declaration (a
    /// `let` or `output` naming the same node must not move them).
    leaf_decls: HashMap<NodeId, usize>,
    diagnostics: &'a mut Diagnostics,
}

impl Lowering<'_> {
    fn declaration(&mut self, syntax: &GraphSyntax, index: usize) {
        let decl = &syntax.decls[index];
        let name_span = SpanRange::single(decl.name.span());
        let node = match decl.kind {
            DeclKind::Input | DeclKind::Var => {
                let Some(shape) = &decl.shape else { return };
                let op = if decl.kind == DeclKind::Input {
                    Op::Input
                } else {
                    Op::Variable
                };
                let id = self.push(op, Vec::new(), Some(shape_of(shape)), name_span);
                self.graph.nodes[id.0].dtype = decl.dtype.unwrap_or(DType::F32);
                self.leaf_decls.insert(id, index);
                if let Some(doc) = doc_text(&decl.attrs) {
                    self.graph.docs.push((id, doc));
                }
                if decl.kind == DeclKind::Input {
                    self.graph.inputs.push(id);
                } else {
                    self.graph.variables.push(id);
                }
                Some(id)
            }
            DeclKind::Const => {
                let value = decl.value.as_ref().and_then(|value| self.literal(value));
                value.map(|tensor| self.constant(tensor, name_span))
            }
            DeclKind::Let | DeclKind::Output | DeclKind::Assign => {
                decl.value.as_ref().and_then(|value| self.expression(value))
            }
            DeclKind::Step => {
                self.step(decl);
                return;
            }
        };
        let Some(node) = node else { return };
        if decl.kind == DeclKind::Assign {
            if let Some(&variable) = self
                .resolution
                .names
                .get(&decl.name.to_string())
                .and_then(|target| self.decl_nodes.get(target))
            {
                if self.graph.node(variable).op == Op::Variable {
                    self.graph.updates.push(Update {
                        variable,
                        value: node,
                        step: None,
                    });
                }
            }
            return;
        }
        self.decl_nodes.insert(index, node);
        let slot = &mut self.graph.nodes[node.0];
        if slot.name.is_none() {
            slot.name = Some(decl.name.clone());
        }
        if let Some(shape) = &decl.shape {
            if !matches!(decl.kind, DeclKind::Input | DeclKind::Var) {
                self.graph.annotations.push(Annotation {
                    node,
                    name: decl.name.clone(),
                    shape: shape_of(shape),
                    span: shape.span,
                });
            }
        }
        if decl.kind == DeclKind::Output {
            self.graph.outputs.push(Output {
                attrs: decl.attrs.clone(),
                name: decl.name.clone(),
                node,
            });
        }
    }

    fn push(
        &mut self,
        op: Op,
        operands: Vec<NodeId>,
        shape: Option<Shape>,
        span: SpanRange,
    ) -> NodeId {
        let id = NodeId(self.graph.nodes.len());
        self.graph.nodes.push(Node {
            op,
            operands,
            shape,
            dtype: DType::F32,
            name: None,
            called: None,
            span,
            attributes: Vec::new(),
        });
        id
    }

    fn constant(&mut self, tensor: Tensor, span: SpanRange) -> NodeId {
        let shape = Shape::fixed(&tensor.shape);
        self.push(Op::Constant(tensor), Vec::new(), Some(shape), span)
    }

    /// Records a training step; its errors in syntax were reported by
    /// `resolve`.
    fn step(&mut self, decl: &crate::parse::Decl) {
        let Some(parts) = decl
            .value
            .as_ref()
            .and_then(|v| crate::train::parts(v).ok())
        else {
            return;
        };
        let loss = self.expression(parts.loss);
        let lr = self.expression(parts.lr);
        let mut vars = Vec::new();
        for var in parts.vars.into_iter().flatten() {
            let node = self.expression(var);
            match node {
                Some(node) if vars.contains(&node) => {
                    self.diagnostics.push(var.span().error(
                        Code::StepVars,
                        format!(
                            "`{}` is listed twice in `vars`; each variable is trained once",
                            self.graph
                                .node(node)
                                .name
                                .as_ref()
                                .map_or_else(String::new, ToString::to_string)
                        ),
                    ));
                }
                Some(node) if self.graph.node(node).op == Op::Variable => vars.push(node),
                Some(node) => {
                    let what = match self.graph.node(node).op {
                        Op::Input => "an input",
                        Op::Constant(_) => "a constant",
                        _ => "a computed value",
                    };
                    self.diagnostics.push(var.span().error(
                        Code::StepVars,
                        format!(
                        "this is {what}, not a variable: `vars` lists the variables a step trains"
                    ),
                    ));
                }
                None => {}
            }
        }
        let mut outputs = Vec::new();
        for output in parts.outputs {
            let found = match output {
                Expr::Name(name) => self.graph.outputs.iter().position(|o| o.name == *name),
                _ => None,
            };
            match found {
                Some(k) if outputs.contains(&k) => {
                    self.diagnostics.push(output.span().error(
                        Code::StepOutputs,
                        "this output is listed twice in `outputs`; the step returns it once",
                    ));
                }
                Some(k) if self.graph.node(self.graph.outputs[k].node).op.is_leaf() => {
                    self.diagnostics.push(output.span().error(
                        Code::StepOutputs,
                        "a step returns computed outputs; this one is an input, variable or \
                         constant itself, which the caller already has",
                    ));
                }
                Some(k) => outputs.push(k),
                None => {
                    let what = match output {
                        Expr::Name(name) => format!("`{name}` is not an output of the graph"),
                        _ => "this is not an output of the graph".to_string(),
                    };
                    self.diagnostics.push(output.span().error(
                        Code::StepOutputs,
                        format!(
                            "{what}: `outputs` lists outputs (declared with `output`) that the \
                         step also returns"
                        ),
                    ));
                }
            }
        }
        let (Some(loss), Some(lr)) = (loss, lr) else {
            return;
        };
        let span = decl
            .value
            .as_ref()
            .map_or_else(|| SpanRange::single(decl.name.span()), Expr::span);
        self.graph.steps.push(crate::train::Step {
            name: decl.name.clone(),
            loss,
            loss_name: self.graph.node(loss).name.clone(),
            lr,
            lr_span: parts.lr.span(),
            vars: parts.vars.map(|_| vars),
            outputs,
            optimizer: parts.optimizer,
            clip_norm: parts.clip_norm,
            span,
        });
    }

    /// Lowers an expression, returning `None` where an error was reported.
    fn expression(&mut self, expr: &Expr) -> Option<NodeId> {
        match expr {
            Expr::Name(name) => {
                let decl = self.resolution.names.get(&name.to_string())?;
                self.decl_nodes.get(decl).copied()
            }
            Expr::Number(..) | Expr::Array(..) => {
                let tensor = self.literal(expr)?;
                Some(self.constant(tensor, expr.span()))
            }
            Expr::Binary(op, left, right, span) => {
                let left = self.expression(left);
                let right = self.expression(right);
                let symbol = match op {
                    BinaryOp::Add => '+',
                    BinaryOp::Sub => '-',
                    BinaryOp::Mul => '*',
                    BinaryOp::Div => '/',
                };
                let op = ops::elementwise::operator(symbol)?;
                Some(self.push(op, vec![left?, right?], None, *span))
            }
            Expr::Neg(operand, span) => {
                let operand = self.expression(operand)?;
                Some(self.push(ops::elementwise::negation(), vec![operand], None, *span))
            }
            Expr::Bool(_, span) => {
                self.diagnostics.push(span.error(
                    Code::Literal,
                    "`true` and `false` are only op attributes, such as `keep_dims = true`",
                ));
                None
            }
            Expr::Str(_, span) => {
                self.diagnostics
                    .push(span.error(Code::Literal, crate::parse::NO_STRINGS));
                None
            }
            Expr::Call(name, args, span) => {
                // Unknown ops and badly bound arguments were reported by
                // `resolve`; the operands that did bind are still lowered, so
                // that their own errors are reported too.
                let signature = ops::signature(&name.to_string())?;
                let (bound, bind_errors) = ops::bind_partial(signature, args, *span);
                let operands: Vec<Option<NodeId>> = ops::operands(signature, &bound)
                    .into_iter()
                    .map(|operand| self.expression(operand))
                    .collect();
                if !bind_errors.is_empty() {
                    // The attributes that did bind are read for their errors.
                    if let Err(errors) = ops::signature::attributes(signature, &bound) {
                        for error in errors {
                            self.diagnostics.push(error);
                        }
                    }
                    return None;
                }
                let op = match ops::build(signature, &bound) {
                    Ok(op) => op,
                    Err(errors) => {
                        for error in errors {
                            self.diagnostics.push(error);
                        }
                        return None;
                    }
                };
                let operands = operands.into_iter().collect::<Option<Vec<_>>>()?;
                let id = self.push(op, operands, None, *span);
                self.graph.nodes[id.0].called = Some(signature.name);
                self.graph.nodes[id.0].attributes =
                    ops::signature::attribute_spans(signature, &bound);
                Some(id)
            }
        }
    }

    /// Evaluates a literal: a number or a rectangular nested array of numbers.
    fn literal(&mut self, expr: &Expr) -> Option<Tensor> {
        match expr {
            Expr::Number(number, _) => Some(Tensor {
                shape: Vec::new(),
                values: vec![number.value],
            }),
            Expr::Array(elements, span) => {
                if elements.is_empty() {
                    self.diagnostics.push(span.error(
                        Code::Constant,
                        "empty array literal: a constant needs at least one element",
                    ));
                    return None;
                }
                let rows: Vec<Tensor> = elements
                    .iter()
                    .map(|element| self.literal(element))
                    .collect::<Vec<_>>()
                    .into_iter()
                    .collect::<Option<_>>()?;
                let first = &rows[0].shape;
                if let Some((index, row)) =
                    rows.iter().enumerate().find(|(_, row)| row.shape != *first)
                {
                    self.diagnostics.push(elements[index].span().error(Code::Constant, format!(
                        "array literal is not rectangular: element {index} has shape {}, element 0 has shape {}",
                        Shape::fixed(&row.shape),
                        Shape::fixed(first)
                    )));
                    return None;
                }
                let mut shape = vec![rows.len()];
                shape.extend_from_slice(first);
                let values = rows.into_iter().flat_map(|row| row.values).collect();
                Some(Tensor { shape, values })
            }
            other => {
                self.diagnostics.push(other.span().error(Code::Constant,
                    "a constant's value must be a literal, such as `2.0` or `[[1.0, 2.0], [3.0, 4.0]]`; \
                     use `let` for a computed value",
                ));
                None
            }
        }
    }
}

pub fn shape_of(syntax: &ShapeSyntax) -> Shape {
    Shape(
        syntax
            .dims
            .iter()
            .map(|dim| match dim {
                DimSyntax::Fixed(size) => Dim::Fixed(*size),
                // `r#n` and `n` are one symbol, and its text becomes part of
                // generated identifiers.
                DimSyntax::Symbol(name) => Dim::Symbol(name.unraw().to_string()),
            })
            .collect(),
    )
}
