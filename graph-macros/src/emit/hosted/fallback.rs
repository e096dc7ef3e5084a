//! What a `std` graph with errors expands to beside its `compile_error!`s.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::super::fallback::{outputs, FallbackOutput, MethodNames};
use super::super::{allowed_lints, array_type, local, outputs_name, private, view_type};
use super::entry;
use crate::ir::{DType, Graph, NodeId, Op};
use crate::ops::linalg::Linalg;
use crate::parse::{DeclKind, Expr, GraphSyntax};

/// What a graph with errors expands to, beside its `compile_error!`s: every
/// item the successful expansion declares (the struct, `NameOutputs`,
/// `NameOutputViews`, `NameWorkspace`, `Default`, and in the `impl` the
/// constructors, loaders, accessors, entry points, training steps and
/// constants), with bodies that never run, so calling code sees one real
/// error instead of a cascade of "cannot find". Types come from the
/// declared shapes, and from inferred ones where known; an array of unknown
/// shape is dynamic, an input or variable of unknown shape generic. Entry
/// points take the inputs the real ones would: those their values read, or
/// every input when a value had an error before it became a node.
/// (Optimizer state is not a parameter of `new`, as in the real expansion.)
pub fn fallback(graph: &Graph, syntax: &GraphSyntax) -> TokenStream {
    let Graph {
        attrs, vis, name, ..
    } = graph;
    let lints = allowed_lints();
    let outputs = outputs(graph, syntax);
    let workspace = entry::workspace_name(graph);
    let mut names = MethodNames::new();
    let accessors: Vec<TokenStream> = graph
        .variables
        .iter()
        .map(|&id| accessors(graph, syntax, id, &mut names))
        .collect();
    let steps = step_methods(graph, syntax, &mut names);
    let methods: Vec<TokenStream> = outputs
        .iter()
        .map(|output| output_methods(graph, output, &mut names))
        .collect();
    let run = run_methods(graph, &outputs);
    let update = update_methods(graph, syntax);
    let constructors = constructors(graph);
    let introspection = introspection(graph);
    let structs = output_structs(graph, &outputs);
    let debug = super::super::fallback::debug_impl(graph);
    // `WORKSPACE_BYTES` is declared whatever the shapes: the fallback cannot
    // plan the workspace, and one constant too many hides no error.
    quote! {
        #(#attrs)*
        #lints
        #vis struct #name {}

        #structs

        #lints
        #[derive(Debug, Clone, Default)]
        #vis struct #workspace {}

        #lints
        impl #name {
            #vis const WORKSPACE_BYTES: usize = 0;
            #constructors
            #(#accessors)*
            #(#methods)*
            #run
            #update
            #(#steps)*
            #introspection
        }

        impl ::core::default::Default for #name {
            fn default() -> Self {
                ::core::unreachable!()
            }
        }

        #debug
    }
}

/// `NameOutputs` and `NameOutputViews`, when the graph declares outputs.
fn output_structs(graph: &Graph, outputs: &[FallbackOutput]) -> TokenStream {
    if outputs.is_empty() {
        return TokenStream::new();
    }
    let vis = &graph.vis;
    let lints = allowed_lints();
    let a = quote! { 'a };
    let owned_name = outputs_name(graph);
    let views_name = entry::views_name(graph);
    let owned = outputs.iter().map(|output| {
        let FallbackOutput { name, attrs, node } = output;
        let ty = owned_type(graph, *node);
        quote! { #(#attrs)* pub #name: #ty }
    });
    let views = outputs.iter().map(|output| {
        let FallbackOutput { name, attrs, node } = output;
        let ty = view_of(graph, *node, &a);
        quote! { #(#attrs)* pub #name: #ty }
    });
    let generics = views_generics(graph, outputs);
    quote! {
        #lints
        #[derive(Debug, Clone, PartialEq)]
        #vis struct #owned_name {
            #(#owned,)*
        }

        #lints
        #[derive(Debug, Clone)]
        #vis struct #views_name #generics {
            #(#views,)*
        }
    }
}

/// `<'a>` unless every output is known to be a scalar, as
/// [`entry::views_generics`].
fn views_generics(graph: &Graph, outputs: &[FallbackOutput]) -> TokenStream {
    let scalar = |node: Option<NodeId>| {
        node.and_then(|id| graph.node(id).shape.as_ref())
            .is_some_and(crate::shape::Shape::is_scalar)
    };
    if outputs.iter().all(|output| scalar(output.node)) {
        TokenStream::new()
    } else {
        quote! { <'a> }
    }
}

/// The owned type of node `id`'s value: its array (or scalar) type where
/// its shape is known, a dynamic `f32` array otherwise.
fn owned_type(graph: &Graph, id: Option<NodeId>) -> TokenStream {
    let p = private();
    id.and_then(|id| {
        let node = graph.node(id);
        node.shape
            .as_ref()
            .map(|shape| array_type(shape, node.dtype))
    })
    .unwrap_or_else(|| quote! { #p::ndarray::Array<f32, #p::ndarray::IxDyn> })
}

/// The type a workspace form returns for node `id`: a view with `lifetime`
/// (or a scalar) where its shape is known, a dynamic view otherwise.
fn view_of(graph: &Graph, id: Option<NodeId>, lifetime: &TokenStream) -> TokenStream {
    let p = private();
    match id {
        Some(id) if graph.node(id).shape.is_some() => entry::view_return(graph, id, lifetime),
        _ => quote! { #p::ndarray::ArrayView<#lifetime, f32, #p::ndarray::IxDyn> },
    }
}

/// The parameters of an entry point computing `roots` (every input when
/// `None`), as the real one takes them: views with `lifetime` and scalars,
/// each input of unknown shape generic.
fn input_params(
    graph: &Graph,
    roots: Option<Vec<NodeId>>,
    lifetime: &TokenStream,
) -> Vec<TokenStream> {
    let inputs = match roots {
        Some(roots) => entry::entry_inputs(graph, &graph.reachable(roots)),
        None => graph.inputs.clone(),
    };
    inputs
        .into_iter()
        .map(|id| {
            let ty = if graph.node(id).shape.is_some() {
                entry::input_param(graph, id, lifetime)
            } else {
                quote! { impl ::core::marker::Sized }
            };
            quote! { _: #ty }
        })
        .collect()
}

/// `new`, and for a graph with variables `zeros` and the weight-file
/// loaders and savers.
fn constructors(graph: &Graph) -> TokenStream {
    let p = private();
    let vis = &graph.vis;
    if graph.variables.is_empty() {
        return quote! {
            #vis fn new() -> Self {
                ::core::unreachable!()
            }
        };
    }
    let params = graph
        .variables
        .iter()
        .filter(|id| !graph.state.contains(id))
        .map(|&id| {
            let ty =
                variable_type(graph, id).unwrap_or_else(|| quote! { impl ::core::marker::Sized });
            quote! { _: #ty }
        });
    let path = quote! { impl ::core::convert::AsRef<::std::path::Path> };
    quote! {
        #vis fn new(#(#params),*) -> ::core::result::Result<Self, #p::Error> {
            ::core::unreachable!()
        }
        #vis fn zeros() -> Self {
            ::core::unreachable!()
        }
        #vis fn from_weights(_: #p::weights::Weights, _: bool)
            -> ::core::result::Result<Self, #p::Error> {
            ::core::unreachable!()
        }
        #vis fn from_safetensors(_: #path) -> ::core::result::Result<Self, #p::Error> {
            ::core::unreachable!()
        }
        #vis fn from_npy_dir(_: #path) -> ::core::result::Result<Self, #p::Error> {
            ::core::unreachable!()
        }
        #vis fn to_safetensors_bytes(&self) -> ::std::vec::Vec<u8> {
            ::core::unreachable!()
        }
        #vis fn save_safetensors(&self, _: #path) -> ::core::result::Result<(), #p::Error> {
            ::core::unreachable!()
        }
    }
}

/// Variable `id`'s owned type, where its shape is known.
fn variable_type(graph: &Graph, id: NodeId) -> Option<TokenStream> {
    graph
        .node(id)
        .shape
        .as_ref()
        .map(|shape| array_type(shape, DType::F32))
}

/// `w`, `w_mut` and `set_w` for variable `id`, those whose names are free.
fn accessors(
    graph: &Graph,
    syntax: &GraphSyntax,
    id: NodeId,
    names: &mut MethodNames,
) -> TokenStream {
    let p = private();
    let vis = &graph.vis;
    let name = local(graph, id);
    let mutable = format_ident!("{}_mut", name);
    let setter = format_ident!("set_{}", name);
    let shape = graph.node(id).shape.as_ref();
    let (view, view_mut, set) = match shape {
        Some(shape) if shape.is_scalar() => (quote! { f32 }, quote! { &mut f32 }, None),
        Some(shape) => {
            let view_mut = if packed(graph, syntax, id) {
                quote! { #p::kernels::packed::WeightsMut<'_> }
            } else {
                view_type(shape, DType::F32, true)
            };
            let set = array_type(shape, DType::F32);
            (view_type(shape, DType::F32, false), view_mut, Some(set))
        }
        None => (
            quote! { #p::ndarray::ArrayView<'_, f32, #p::ndarray::IxDyn> },
            quote! { #p::ndarray::ArrayViewMut<'_, f32, #p::ndarray::IxDyn> },
            Some(quote! { impl ::core::marker::Sized }),
        ),
    };
    // A scalar's setter cannot fail; an array's checks the shape.
    let setter_signature = if let Some(ty) = set {
        quote! { (&mut self, _: #ty) -> ::core::result::Result<(), #p::Error> }
    } else {
        quote! { (&mut self, _: f32) }
    };
    let read = names.claim(&name).then(|| {
        quote! {
            #vis fn #name(&self) -> #view {
                ::core::unreachable!()
            }
        }
    });
    let write = names.claim(&mutable).then(|| {
        quote! {
            #vis fn #mutable(&mut self) -> #view_mut {
                ::core::unreachable!()
            }
        }
    });
    let replace = names.claim(&setter).then(|| {
        quote! {
            #vis fn #setter #setter_signature {
                ::core::unreachable!()
            }
        }
    });
    quote! { #read #write #replace }
}

/// Whether variable `id` would keep a packed copy, as `plan::packed`
/// decides on the optimized graph: a matrix that a `matmul` applies to a
/// matrix, and that no update or training step changes. (Its mutable
/// accessor then returns the packing guard, which derefs to the view.)
fn packed(graph: &Graph, syntax: &GraphSyntax, id: NodeId) -> bool {
    let rank = |id: NodeId| graph.node(id).shape.as_ref().map(crate::shape::Shape::rank);
    let product = graph.nodes.iter().any(|node| {
        matches!(node.op, Op::Linalg(Linalg::MatMul))
            && node.operands.get(1) == Some(&id)
            && rank(node.operands[0]) == Some(2)
    });
    let updated = graph.updates.iter().any(|update| update.variable == id)
        || step_decls(syntax).any(|value| {
            value
                .and_then(|value| step_roots(graph, value))
                .is_none_or(|roots| graph.reachable(roots)[id.0])
        });
    rank(id) == Some(2) && product && !updated
}

/// `<output>_with` and `<output>`, those whose names are free.
fn output_methods(graph: &Graph, output: &FallbackOutput, names: &mut MethodNames) -> TokenStream {
    let p = private();
    let vis = &graph.vis;
    let FallbackOutput { name, attrs, node } = output;
    let a = quote! { 'a };
    let (plain, with) = names.claim_pair(name);
    let roots = node.map(|node| vec![node]);
    let plain = plain.then(|| {
        let params = input_params(graph, roots.clone(), &quote! { 'i });
        let ty = owned_type(graph, *node);
        quote! {
            #(#attrs)*
            #vis fn #name<'i>(&self, #(#params),*) -> ::core::result::Result<#ty, #p::Error> {
                ::core::unreachable!()
            }
        }
    });
    let with = with.then(|| {
        let method = format_ident!("{}_with", name);
        let workspace = entry::workspace_name(graph);
        let params = input_params(graph, roots, &a);
        let ty = view_of(graph, *node, &a);
        quote! {
            #(#attrs)*
            #vis fn #method<'a>(&'a self, _: &'a mut #workspace, #(#params),*)
                -> ::core::result::Result<#ty, #p::Error> {
                ::core::unreachable!()
            }
        }
    });
    quote! { #plain #with }
}

/// `run_with` and `run`, when the graph declares outputs.
fn run_methods(graph: &Graph, outputs: &[FallbackOutput]) -> TokenStream {
    if outputs.is_empty() {
        return TokenStream::new();
    }
    let p = private();
    let vis = &graph.vis;
    let a = quote! { 'a };
    let roots: Option<Vec<NodeId>> = outputs.iter().map(|output| output.node).collect();
    let params = input_params(graph, roots.clone(), &quote! { 'i });
    let params_a = input_params(graph, roots, &a);
    let owned = outputs_name(graph);
    let views = entry::views_name(graph);
    let generics = views_generics(graph, outputs);
    let workspace = entry::workspace_name(graph);
    quote! {
        #vis fn run_with<'a>(&'a self, _: &'a mut #workspace, #(#params_a),*)
            -> ::core::result::Result<#views #generics, #p::Error> {
            ::core::unreachable!()
        }
        #vis fn run<'i>(&self, #(#params),*) -> ::core::result::Result<#owned, #p::Error> {
            ::core::unreachable!()
        }
    }
}

/// `update_with` and `update`, when the graph declares updates: taking the
/// inputs their new values read, or every input when one had an error
/// before it became a node.
fn update_methods(graph: &Graph, syntax: &GraphSyntax) -> TokenStream {
    let declared = syntax
        .decls
        .iter()
        .filter(|decl| decl.kind == DeclKind::Assign)
        .count();
    if declared == 0 {
        return TokenStream::new();
    }
    let p = private();
    let vis = &graph.vis;
    let values: Vec<NodeId> = graph
        .updates
        .iter()
        .filter(|update| update.step.is_none())
        .map(|update| update.value)
        .collect();
    let roots = (values.len() == declared).then_some(values);
    let params = input_params(graph, roots, &quote! { 'i });
    let workspace = entry::workspace_name(graph);
    quote! {
        #vis fn update_with<'i>(&mut self, _: &mut #workspace, #(#params),*)
            -> ::core::result::Result<(), #p::Error> {
            ::core::unreachable!()
        }
        #vis fn update<'i>(&mut self, #(#params),*) -> ::core::result::Result<(), #p::Error> {
            ::core::unreachable!()
        }
    }
}

/// `DOT`, `DOT_AS_WRITTEN` and `SUMMARY`, with values (a constant is
/// evaluated where it is used, even in a crate that does not compile): no
/// text, and a summary of nothing.
fn introspection(graph: &Graph) -> TokenStream {
    let vis = &graph.vis;
    let name = graph.name.to_string();
    let s = quote! { ::staticflow::__private::summary };
    let nothing = quote! { #s::Footprint { tensors: 0, elements: 0, bytes: 0 } };
    quote! {
        #vis const DOT: &'static ::core::primitive::str = "";
        #vis const DOT_AS_WRITTEN: &'static ::core::primitive::str = "";
        #vis const SUMMARY: #s::Summary = #s::Summary {
            name: #name,
            symbols: &[],
            nodes: &[],
            parameters: #nothing,
            constants: #nothing,
            run: #s::Cost {
                flops: #s::Polynomial { terms: &[] },
                workspace: #s::Peak { candidates: &[] },
            },
            update: ::core::option::Option::None,
            optimizer_state: #nothing,
            steps: &[],
        };
    }
}

/// The value of every `step` declaration (`None` where it has none).
fn step_decls(syntax: &GraphSyntax) -> impl Iterator<Item = Option<&Expr>> {
    syntax
        .decls
        .iter()
        .filter(|decl| decl.kind == DeclKind::Step)
        .map(|decl| decl.value.as_ref())
}

/// The training steps' methods, those whose names are free. Steps whose
/// loss is not a node take every input; the others the inputs their loss
/// and learning rate read.
fn step_methods(graph: &Graph, syntax: &GraphSyntax, names: &mut MethodNames) -> Vec<TokenStream> {
    let p = private();
    let vis = &graph.vis;
    let workspace = entry::workspace_name(graph);
    syntax
        .decls
        .iter()
        .filter(|decl| decl.kind == DeclKind::Step)
        .map(|decl| {
            let returned = decl
                .value
                .as_ref()
                .map_or_else(Vec::new, |value| step_outputs(graph, value));
            let roots = decl
                .value
                .as_ref()
                .and_then(|value| step_roots(graph, value))
                .map(|mut roots| {
                    roots.extend(returned.iter().flatten());
                    roots
                });
            let params = input_params(graph, roots, &quote! { 'i });
            let a = quote! { 'a };
            let views = returned.iter().map(|&id| view_of(graph, id, &a));
            let owned = returned.iter().map(|&id| owned_type(graph, id));
            let (with_lifetime, view_ty, owned_ty) = if returned.is_empty() {
                (quote! { <'i> }, quote! { f32 }, quote! { f32 })
            } else {
                (
                    quote! { <'a, 'i> },
                    quote! { (f32, #(#views),*) },
                    quote! { (f32, #(#owned),*) },
                )
            };
            let workspace_ref = if returned.is_empty() {
                quote! { &mut #workspace }
            } else {
                quote! { &'a mut #workspace }
            };
            let method = &decl.name;
            let (plain, with) = names.claim_pair(method);
            let plain = plain.then(|| {
                quote! {
                    #vis fn #method<'i>(&mut self, #(#params),*) -> ::core::result::Result<#owned_ty, #p::Error> {
                        ::core::unreachable!()
                    }
                }
            });
            let with = with.then(|| {
                let with = format_ident!("{}_with", method);
                quote! {
                    #vis fn #with #with_lifetime(&mut self, _: #workspace_ref, #(#params),*) -> ::core::result::Result<#view_ty, #p::Error> {
                        ::core::unreachable!()
                    }
                }
            });
            quote! { #plain #with }
        })
        .collect()
}

/// The outputs a step `minimize(.., outputs = [..])` returns, each the
/// node of the graph output it names (`None` where that output is not a
/// node, or not an output).
fn step_outputs(graph: &Graph, value: &Expr) -> Vec<Option<NodeId>> {
    let Expr::Call(_, args, _) = value else {
        return Vec::new();
    };
    let Some(Expr::Array(items, _)) = args
        .iter()
        .find(|arg| arg.name.as_ref().is_some_and(|name| name == "outputs"))
        .map(|arg| &arg.value)
    else {
        return Vec::new();
    };
    items
        .iter()
        .map(|item| match item {
            Expr::Name(name) => graph
                .outputs
                .iter()
                .find(|output| output.name == *name)
                .map(|output| output.node),
            _ => None,
        })
        .collect()
}

/// The nodes a step `minimize(loss, optimizer(lr = ..), ..)` reads, when
/// its loss is a node of the graph: the loss and every name in the
/// optimizer's arguments (an input learning rate).
fn step_roots(graph: &Graph, value: &Expr) -> Option<Vec<NodeId>> {
    let Expr::Call(_, args, _) = value else {
        return None;
    };
    let node_named = |name: &Ident| {
        graph
            .outputs
            .iter()
            .find(|output| output.name == *name)
            .map(|output| output.node)
            .or_else(|| {
                (0..graph.nodes.len())
                    .map(NodeId)
                    .find(|&id| graph.node(id).name.as_ref() == Some(name))
            })
    };
    let Some(Expr::Name(loss)) = args.first().map(|arg| &arg.value) else {
        return None;
    };
    let mut roots = vec![node_named(loss)?];
    if let Some(Expr::Call(_, settings, _)) = args.get(1).map(|arg| &arg.value) {
        roots.extend(settings.iter().filter_map(|setting| match &setting.value {
            Expr::Name(name) => node_named(name),
            _ => None,
        }));
    }
    Some(roots)
}
