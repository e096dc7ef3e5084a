//! The entry points: one method per output, `run`, `update`, each in a
//! workspace form and a convenience form.
//!
//! ```text
//! pub fn y_with<'a>(&'a self, __ws: &'a mut DenseWorkspace, x: ArrayView<'a, f32, Ix2>)
//!     -> Result<ArrayView<'a, f32, Ix2>, Error> {
//!     let mut __dims = DimBindings::new(["n"]);
//!     __dims.check_input("x", &[Dim::Symbol("n"), Dim::Fixed(3)], x.shape())?;
//!     let __size_n = __dims.size("n");
//!     let w = self.w.view();
//!     kernels::linalg::matmul_into(x.view(), w.view(), __ws.s0.out([__size_n, 2]));
//!     let y = __ws.s0.get([__size_n, 2]);
//!     Ok(y)
//! }
//! pub fn y(&self, x: ArrayView<'_, f32, Ix2>) -> Result<Array<f32, Ix2>, Error> {
//!     let mut __ws = DenseWorkspace::default();
//!     self.y_with(&mut __ws, x).map(|y| y.to_owned())
//! }
//! ```
//!
//! The workspace form allocates nothing once its workspace has served a call
//! of the same sizes; the convenience form creates a workspace per call.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::super::fetch::Schedule;
use super::super::{array_type, element, local, outputs_name, private, workspace_param};
use super::node;
use crate::ir::{Graph, NodeId, Op};
use crate::plan::Plan;
use crate::shape::Dim;

pub fn workspace_name(graph: &Graph) -> Ident {
    format_ident!("{}Workspace", graph.name)
}

pub(super) fn views_name(graph: &Graph) -> Ident {
    format_ident!("{}OutputViews", graph.name)
}

/// The views struct's generics: `<'a>`, unless every output is a scalar and
/// it holds no view.
pub(super) fn views_generics(graph: &Graph) -> TokenStream {
    if graph
        .outputs
        .iter()
        .all(|o| graph.shape(o.node).is_scalar())
    {
        TokenStream::new()
    } else {
        quote! { <'a> }
    }
}

/// The workspace struct: one slot per planned slot, and its docs.
pub fn workspace_struct(graph: &Graph, plan: &Plan) -> TokenStream {
    let p = private();
    let vis = &graph.vis;
    let name = workspace_name(graph);
    let slots = plan.slots.iter().enumerate().map(|(index, dtype)| {
        let field = format_ident!("s{}", index);
        let elem = element(*dtype);
        quote! { #field: #p::workspace::Slot<#elem> }
    });
    let doc = format!(
        " Reusable storage for the intermediate values of [`{g}`]: {count} slot{s} shared by \
         the values whose lifetimes do not overlap.\n\n Pass the same workspace to every \
         `*_with` call: once it has served a call, calls of the same or smaller sizes \
         allocate nothing.",
        g = graph.name,
        count = plan.slots.len(),
        s = if plan.slots.len() == 1 { "" } else { "s" },
    );
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, Default)]
        #vis struct #name {
            #(#slots,)*
        }
    }
}

/// `WORKSPACE_BYTES`, for graphs whose planned shapes are all literal.
pub fn workspace_constant(graph: &Graph, plan: &Plan) -> TokenStream {
    let Some(bytes) = plan.literal_bytes() else {
        return TokenStream::new();
    };
    let vis = &graph.vis;
    let doc = format!(
        " Bytes of workspace one call needs: every shape of `{}` is literal, so the \
         planned slots have a fixed size.",
        graph.name
    );
    quote! {
        #[doc = #doc]
        #vis const WORKSPACE_BYTES: usize = #bytes;
    }
}

/// The parameters, input checks and statements computing `roots`.
pub struct Body {
    pub params: Vec<TokenStream>,
    /// The statements turning each array parameter (anything ndarray
    /// converts to a view) into the view the statements read, without a
    /// copy: first in every form taking the inputs.
    pub views: Vec<TokenStream>,
    /// Whether a parameter is an array, whose type names the lifetime.
    pub borrows: bool,
    /// The parameter names, to forward them.
    pub names: Vec<Ident>,
    /// Names and shapes of the inputs taken, for docs.
    pub input_docs: Vec<String>,
    pub statements: Vec<TokenStream>,
}

impl Body {
    /// A body, without statements yet, of an entry point taking `inputs`
    /// (views with `lifetime`, and scalars).
    pub fn taking(graph: &Graph, inputs: &[NodeId], lifetime: &TokenStream) -> Body {
        let p = private();
        let mut body = Body {
            params: Vec::new(),
            views: Vec::new(),
            borrows: false,
            names: Vec::new(),
            input_docs: Vec::new(),
            statements: Vec::new(),
        };
        for &id in inputs {
            let name = local(graph, id);
            let param = input_param(graph, id, lifetime);
            body.params.push(quote! { #name: #param });
            if !graph.shape(id).is_scalar() {
                let view = input_type(graph, id, lifetime);
                body.views
                    .push(quote! { let #name: #view = #p::Input::into_view(#name); });
                body.borrows = true;
            }
            body.input_docs.push(input_doc(graph, id));
            body.names.push(name);
        }
        body
    }
}

/// The body computing `roots`, of which the caller reads `read_after`
/// through their locals once every statement has run.
pub fn body(
    graph: &Graph,
    plan: &Plan,
    roots: &[NodeId],
    read_after: &[NodeId],
    lifetime: &TokenStream,
) -> Body {
    let needed = graph.reachable(roots.iter().copied());
    let inputs = entry_inputs(graph, &needed);
    let mut body = Body::taking(graph, &inputs, lifetime);
    body.statements.extend(input_checks(graph, &inputs, false));
    let read = read_locals(graph, plan, &needed, read_after);
    for (index, node) in graph.nodes.iter().enumerate() {
        if needed[index] && node.op != Op::Input {
            body.statements
                .push(node::statement(graph, plan, NodeId(index), read[index]));
        }
    }
    body
}

/// The inputs an entry point computing the `needed` nodes takes
/// ([`Graph::inputs_taken`]).
pub(super) fn entry_inputs(graph: &Graph, needed: &[bool]) -> Vec<NodeId> {
    graph.inputs_taken(needed)
}

/// The type of input `id` as an entry point takes it: a scalar, or a view
/// with `lifetime`.
pub(super) fn input_type(graph: &Graph, id: NodeId, lifetime: &TokenStream) -> TokenStream {
    let p = private();
    let shape = graph.shape(id);
    let elem = element(graph.node(id).dtype);
    if shape.is_scalar() {
        elem
    } else {
        let dim = super::super::dimension(shape.rank());
        quote! { #p::ndarray::ArrayView<#lifetime, #elem, #dim> }
    }
}

/// The type of input `id` as a parameter of an entry point: a scalar, or
/// any `staticflow::Input` of its rank borrowed for `lifetime`
/// (`&Array2<f32>`, a view, nested arrays, a slice for rank 1).
pub(super) fn input_param(graph: &Graph, id: NodeId, lifetime: &TokenStream) -> TokenStream {
    let p = private();
    let shape = graph.shape(id);
    let elem = element(graph.node(id).dtype);
    if shape.is_scalar() {
        elem
    } else {
        let dim = super::super::dimension(shape.rank());
        quote! { impl #p::Input<#lifetime, #elem, #dim> }
    }
}

/// The line documenting input `id`: its name, shape and element type, and
/// the doc comment of its declaration.
fn input_doc(graph: &Graph, id: NodeId) -> String {
    let name = local(graph, id);
    let shape = graph.shape(id);
    let elem = element(graph.node(id).dtype);
    let kind = if shape.is_scalar() {
        format!("`{elem}`")
    } else {
        format!("{shape} of `{elem}`")
    };
    match graph.doc(id) {
        Some(doc) => format!("- `{name}`: {kind}. {doc}"),
        None => format!("- `{name}`: {kind}."),
    }
}

/// The statements checking the shapes of `inputs` against the graph and
/// binding the sizes of their symbolic dims. With `optional`, each input is
/// an `Option` and is checked when given; a symbol no given input binds has
/// size 0 and sizes no node that runs.
pub(super) fn input_checks(graph: &Graph, inputs: &[NodeId], optional: bool) -> Vec<TokenStream> {
    let p = private();
    let mut statements = Vec::new();
    let mut symbols: Vec<&str> = Vec::new();
    for &id in inputs {
        for symbol in graph.shape(id).symbols() {
            if !symbols.contains(&symbol) {
                symbols.push(symbol);
            }
        }
    }
    let checked: Vec<NodeId> = inputs
        .iter()
        .copied()
        .filter(|&id| !graph.shape(id).is_scalar())
        .collect();
    if checked.is_empty() {
        return statements;
    }
    statements.push(quote! {
        let mut __dims = #p::DimBindings::new([#(#symbols),*]);
    });
    for &id in &checked {
        let name = local(graph, id);
        let text = name.to_string();
        let dims = graph.shape(id).0.iter().map(|dim| match dim {
            Dim::Fixed(size) => quote! { #p::Dim::Fixed(#size) },
            Dim::Symbol(symbol) => quote! { #p::Dim::Symbol(#symbol) },
        });
        let check = quote! { __dims.check_input(#text, &[#(#dims),*], #name.shape())?; };
        statements.push(if optional {
            quote! { if let ::core::option::Option::Some(#name) = #name { #check } }
        } else {
            check
        });
    }
    for symbol in &symbols {
        let size = format_ident!("__size_{}", symbol);
        statements.push(quote! { let #size: usize = __dims.size(#symbol); });
    }
    statements
}

/// Per node, whether a statement of the body (or the caller, for
/// `read_after`) reads its local: a node overwriting an operand in place
/// reads that operand's buffer, not its local.
pub(super) fn read_locals(
    graph: &Graph,
    plan: &Plan,
    needed: &[bool],
    read_after: &[NodeId],
) -> Vec<bool> {
    let mut read = vec![false; graph.nodes.len()];
    for id in read_after {
        read[id.0] = true;
    }
    for (index, node) in graph.nodes.iter().enumerate() {
        if needed[index] {
            for &operand in &node.operands {
                if plan.overwrites[index] != Some(operand) {
                    read[operand.0] = true;
                }
            }
        }
    }
    read
}

/// The value of node `id` as an entry point returns it from a workspace
/// call: a view (or a scalar).
fn view_value(graph: &Graph, id: NodeId) -> TokenStream {
    // Views are `Copy`: the local itself is the view to return.
    let name = local(graph, id);
    quote! { #name }
}

/// The type an entry point's workspace form returns for node `id`.
pub(super) fn view_return(graph: &Graph, id: NodeId, lifetime: &TokenStream) -> TokenStream {
    let p = private();
    let shape = graph.shape(id);
    let dtype = graph.node(id).dtype;
    if shape.is_scalar() {
        element(dtype)
    } else {
        let elem = element(dtype);
        let dim = super::super::dimension(shape.rank());
        quote! { #p::ndarray::ArrayView<#lifetime, #elem, #dim> }
    }
}

fn owned_from_view(graph: &Graph, id: NodeId, value: &TokenStream) -> TokenStream {
    if graph.shape(id).is_scalar() {
        quote! { #value }
    } else {
        quote! { #value.to_owned() }
    }
}

pub(super) fn errors_doc(body: &Body) -> Option<TokenStream> {
    if body.input_docs.is_empty() {
        return None;
    }
    Some(quote! {
        ///
        /// # Errors
        /// [`Error::InputShape`](::staticflow::Error::InputShape) naming the first input
        /// whose shape disagrees with the graph, or whose symbolic dims disagree with
        /// those of an earlier input.
    })
}

/// The docs of the inputs: a list, one input a line with the doc comment
/// of its declaration.
pub(super) fn inputs_sentence(body: &Body) -> String {
    if body.input_docs.is_empty() {
        " It takes no inputs.".to_string()
    } else {
        let arrays = if body.borrows {
            " (arrays as `&Array`, views, or anything else ndarray turns into a view, \
             without a copy)"
        } else {
            ""
        };
        // A paragraph of its own, after the summary.
        format!("\n Inputs{arrays}:\n\n {}", body.input_docs.join("\n "))
    }
}

/// The generics of a form taking the inputs of `body` with lifetime `'i`
/// (and `others`): `<'i>` when one of them is an array.
pub(super) fn input_generics(body: &Body, others: &[TokenStream]) -> TokenStream {
    let mut lifetimes: Vec<TokenStream> = others.to_vec();
    if body.borrows {
        lifetimes.push(quote! { 'i });
    }
    if lifetimes.is_empty() {
        TokenStream::new()
    } else {
        quote! { <#(#lifetimes),*> }
    }
}

/// `<output>_with` and `<output>` for output number `k`.
pub fn output_methods(
    graph: &Graph,
    plan: &Plan,
    schedule: Option<&Schedule>,
    k: usize,
) -> TokenStream {
    let p = private();
    let vis = &graph.vis;
    let a = quote! { 'a };
    let output = &graph.outputs[k];
    let name = &output.name;
    let (body, value) = if let Some(schedule) = schedule {
        (
            super::schedule::fetch_call(graph, schedule, &[k], &a),
            quote! { #name },
        )
    } else {
        let node = output.node;
        (
            body(graph, plan, &[node], &[node], &a),
            view_value(graph, node),
        )
    };
    let with = format_ident!("{}_with", name);
    let workspace = workspace_name(graph);
    let node = output.node;
    let view_ty = view_return(graph, node, &a);
    let owned_ty = array_type(graph.shape(node), graph.node(node).dtype);
    let owned = owned_from_view(graph, node, &quote! { value });
    let attrs = &output.attrs;
    let shape = graph.shape(node);
    let elem = element(graph.node(node).dtype);
    let ws = workspace_param(graph);
    let (summary, with_summary) = if shape.is_scalar() {
        (
            format!(
                " Computes output `{name}`, a scalar returned as `{elem}`, and only the nodes \
                 it depends on."
            ),
            format!(
                " Computes output `{name}`, a scalar returned as `{elem}`, in `{ws}`: no \
                 allocation once the workspace has served a call of these sizes."
            ),
        )
    } else {
        (
            format!(
                " Computes output `{name}`, of shape {shape}, and only the nodes it depends on."
            ),
            format!(
                " Computes output `{name}`, of shape {shape}, in `{ws}`, and returns a \
                 view of it: no allocation once the workspace has served a call of these sizes."
            ),
        )
    };
    let inputs = inputs_sentence(&body);
    let errors = errors_doc(&body);
    let reuse =
        format!(" Allocates a fresh workspace on every call; reuse one with [`Self::{with}`].");
    let generics = input_generics(&body, &[]);
    let Body {
        params,
        views,
        names,
        statements,
        ..
    } = body;
    let plain_params = params.iter().map(retime);
    let plain_views = views.iter().map(retime);
    quote! {
        #(#attrs)*
        #[doc = #with_summary]
        #[doc = #inputs]
        #errors
        #vis fn #with<'a>(&'a self, #ws: &'a mut #workspace, #(#params),*)
            -> ::core::result::Result<#view_ty, #p::Error> {
            let __ws = #ws;
            #(#views)*
            #(#statements)*
            ::core::result::Result::Ok(#value)
        }

        #(#attrs)*
        #[doc = #summary]
        #[doc = #inputs]
        #[doc = ""]
        #[doc = #reuse]
        #errors
        #vis fn #name #generics(&self, #(#plain_params),*)
            -> ::core::result::Result<#owned_ty, #p::Error> {
            #(#plain_views)*
            let mut __ws = #workspace::default();
            self.#with(&mut __ws, #(#names),*).map(|value| #owned)
        }
    }
}

/// A parameter (or statement) with the lifetime `'a` replaced by `'i`, for
/// the convenience forms, whose inputs outlive no workspace. Only an `a`
/// right after a `'` is the lifetime; a user's input may well be called `a`.
fn retime(param: &TokenStream) -> TokenStream {
    let mut after_quote = false;
    param
        .clone()
        .into_iter()
        .map(|token| {
            let lifetime = after_quote;
            after_quote = matches!(&token, proc_macro2::TokenTree::Punct(p) if p.as_char() == '\'');
            match token {
                proc_macro2::TokenTree::Group(group) => {
                    let mut retimed =
                        proc_macro2::Group::new(group.delimiter(), retime(&group.stream()));
                    retimed.set_span(group.span());
                    proc_macro2::TokenTree::Group(retimed)
                }
                proc_macro2::TokenTree::Ident(ident) if lifetime && ident == "a" => {
                    proc_macro2::TokenTree::Ident(Ident::new("i", ident.span()))
                }
                other => other,
            }
        })
        .collect()
}

/// `run_with` and `run`, and the struct of views `run_with` returns.
pub fn run_methods(graph: &Graph, plan: &Plan, schedule: Option<&Schedule>) -> TokenStream {
    if graph.outputs.is_empty() {
        return TokenStream::new();
    }
    let p = private();
    let vis = &graph.vis;
    let a = quote! { 'a };
    let roots: Vec<NodeId> = graph.outputs.iter().map(|o| o.node).collect();
    let shared = schedule.is_some();
    let body = if let Some(schedule) = schedule {
        let every: Vec<usize> = (0..graph.outputs.len()).collect();
        super::schedule::fetch_call(graph, schedule, &every, &a)
    } else {
        body(graph, plan, &roots, &roots, &a)
    };
    let outputs = outputs_name(graph);
    let views = views_name(graph);
    let generics = views_generics(graph);
    let workspace = workspace_name(graph);
    let view_fields = graph.outputs.iter().map(|output| {
        let field = &output.name;
        if shared {
            quote! { #field }
        } else {
            let value = view_value(graph, output.node);
            quote! { #field: #value }
        }
    });
    let owned_fields = graph.outputs.iter().map(|output| {
        let field = &output.name;
        let value = owned_from_view(graph, output.node, &quote! { views.#field });
        quote! { #field: #value }
    });
    let inputs = inputs_sentence(&body);
    let errors = errors_doc(&body);
    let plain_generics = input_generics(&body, &[]);
    let ws = workspace_param(graph);
    let run_doc = format!(" Computes every output in one pass, each shared node once, in `{ws}`.");
    let Body {
        params,
        views: input_views,
        names,
        statements,
        ..
    } = body;
    let plain_params = params.iter().map(retime);
    let plain_views = input_views.iter().map(retime);
    quote! {
        #[doc = #run_doc]
        #[doc = #inputs]
        #errors
        #vis fn run_with<'a>(&'a self, #ws: &'a mut #workspace, #(#params),*)
            -> ::core::result::Result<#views #generics, #p::Error> {
            let __ws = #ws;
            #(#input_views)*
            #(#statements)*
            ::core::result::Result::Ok(#views { #(#view_fields),* })
        }

        /// Computes every output in one pass, each shared node once.
        #[doc = #inputs]
        ///
        /// Allocates a fresh workspace on every call; reuse one with [`Self::run_with`].
        #errors
        #vis fn run #plain_generics(&self, #(#plain_params),*)
            -> ::core::result::Result<#outputs, #p::Error> {
            #(#plain_views)*
            let mut __ws = #workspace::default();
            let views = self.run_with(&mut __ws, #(#names),*)?;
            ::core::result::Result::Ok(#outputs { #(#owned_fields),* })
        }
    }
}

/// The struct of views returned by `run_with`.
pub fn views_struct(graph: &Graph) -> TokenStream {
    if graph.outputs.is_empty() {
        return TokenStream::new();
    }
    let vis = &graph.vis;
    let name = views_name(graph);
    let generics = views_generics(graph);
    let a = quote! { 'a };
    let doc = format!(
        " Every output of [`{g}`], as views into the workspace given to [`{g}::run_with`].",
        g = graph.name
    );
    let fields = graph.outputs.iter().map(|output| {
        let field = &output.name;
        let ty = view_return(graph, output.node, &a);
        let attrs = &output.attrs;
        let shape_doc = super::super::shape_doc(graph, output.node);
        quote! {
            #(#attrs)*
            #[doc = #shape_doc]
            pub #field: #ty
        }
    });
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone)]
        #vis struct #name #generics {
            #(#fields,)*
        }
    }
}
