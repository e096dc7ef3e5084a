//! Phase 8, emission: the optimized, planned graph as Rust items. Two
//! backends, sibling modules: [`hosted`] emits `std` graphs on ndarray views,
//! [`bare`] emits `#[no_std]` graphs on fixed-size arrays and slices. What
//! both need (names, types, literals, the outputs struct, large constants)
//! is here; each op's kernel call comes from its family (`crate::ops`).

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use crate::ir::{DType, Graph, NodeId};
use crate::shape::{Dim, Shape};

pub mod bare;
mod fallback;
mod fetch;
pub mod hosted;
pub mod scope;

/// Lints the generated code can trigger in the user's crate, allowed on the
/// generated items only:
/// - `dead_code`: every graph gets a full API; a user calls a subset of it.
/// - `non_snake_case`: locals carry the user's names, often math names (`W`).
/// - `clippy::many_single_char_names`, `clippy::similar_names`: likewise
///   (`x`, `w`, `b`; `w1`, `w2`).
/// - `clippy::unused_self`: an output that reads no variable still is a method.
/// - `clippy::unnecessary_wraps`: an entry point whose inputs are all scalars
///   cannot fail, but keeps the same signature as every other.
/// - `clippy::unreadable_literal`, `clippy::excessive_precision`: constants are
///   printed as the exact `f32` the user's literal rounds to.
/// - `clippy::too_many_arguments`: one parameter per input or variable.
pub(crate) fn allowed_lints() -> TokenStream {
    quote! {
        #[allow(
            dead_code,
            non_snake_case,
            clippy::many_single_char_names,
            clippy::similar_names,
            clippy::unused_self,
            clippy::unnecessary_wraps,
            clippy::unreadable_literal,
            clippy::excessive_precision,
            clippy::too_many_arguments,
            // `Outputs { y: y }`: rustc reads the two `y`s as the user's
            // tokens when an imported graph spans them at its attribute.
            clippy::redundant_field_names,
            // Constants from a model file, such as GELU's 1.4142135 (√2).
            clippy::approx_constant
        )]
    }
}

pub(crate) fn private() -> TokenStream {
    quote! { ::staticflow::__private }
}

/// The name of the workspace parameter of the `_with` forms: `workspace`,
/// or `__workspace` when an input takes that name.
pub(crate) fn workspace_param(graph: &Graph) -> Ident {
    let taken = graph.inputs.iter().any(|&id| {
        graph
            .node(id)
            .name
            .as_ref()
            .is_some_and(|n| n == "workspace")
    });
    if taken {
        format_ident!("__workspace")
    } else {
        format_ident!("workspace")
    }
}

/// The Rust name of a node's value: the user's name, or `__g<id>_<op>`.
pub(crate) fn local(graph: &Graph, id: NodeId) -> Ident {
    let node = graph.node(id);
    match &node.name {
        Some(name) => name.clone(),
        None => format_ident!("__g{}_{}", id.0, node.op.word()),
    }
}

pub(crate) fn dimension(rank: usize) -> TokenStream {
    let p = private();
    match rank {
        0 => quote! { #p::ndarray::Ix0 },
        1 => quote! { #p::ndarray::Ix1 },
        2 => quote! { #p::ndarray::Ix2 },
        3 => quote! { #p::ndarray::Ix3 },
        4 => quote! { #p::ndarray::Ix4 },
        5 => quote! { #p::ndarray::Ix5 },
        6 => quote! { #p::ndarray::Ix6 },
        _ => quote! { #p::ndarray::IxDyn },
    }
}

/// The Rust element type of a dtype.
pub(crate) fn element(dtype: DType) -> TokenStream {
    match dtype {
        DType::F32 => quote! { f32 },
        DType::Usize => quote! { usize },
        DType::Bool => quote! { bool },
    }
}

/// The owned type of a value: a scalar, or an `Array` of its rank.
pub(crate) fn array_type(shape: &Shape, dtype: DType) -> TokenStream {
    let elem = element(dtype);
    if shape.is_scalar() {
        return elem;
    }
    let p = private();
    let dim = dimension(shape.rank());
    quote! { #p::ndarray::Array<#elem, #dim> }
}

pub(crate) fn view_type(shape: &Shape, dtype: DType, mutable: bool) -> TokenStream {
    let p = private();
    let elem = element(dtype);
    let dim = dimension(shape.rank());
    if mutable {
        quote! { #p::ndarray::ArrayViewMut<'_, #elem, #dim> }
    } else {
        quote! { #p::ndarray::ArrayView<'_, #elem, #dim> }
    }
}

/// A dim's size at run time: a literal, or the size the call bound to a
/// symbol.
pub(crate) fn size_expr(dim: &Dim) -> TokenStream {
    match dim {
        Dim::Fixed(size) => quote! { #size },
        Dim::Symbol(symbol) => {
            let size = format_ident!("__size_{}", symbol);
            quote! { #size }
        }
    }
}

/// A literal shape as an ndarray dimension expression.
pub(crate) fn shape_expr(sizes: &[usize]) -> TokenStream {
    let p = private();
    if sizes.len() > 6 {
        quote! { #p::ndarray::IxDyn(&[#(#sizes),*]) }
    } else {
        quote! { [#(#sizes),*] }
    }
}

pub(crate) fn f32_literal(value: f32) -> TokenStream {
    let magnitude = Literal::f32_suffixed(value.abs());
    if value.is_sign_negative() {
        quote! { -#magnitude }
    } else {
        quote! { #magnitude }
    }
}

pub(crate) fn fixed_sizes(graph: &Graph, id: NodeId) -> Vec<usize> {
    // Variables and constants have literal shapes: `check` rejects symbolic
    // variable dims, and constants are literals.
    graph.shape(id).as_fixed().unwrap_or_default()
}

/// `Debug` for the graph's struct, on `core` alone: its name and each
/// variable's name and shape, never the values (or the packed copies).
/// `lower` takes `Debug` out of the user's derives, where it would clash.
pub(crate) fn debug_impl(graph: &Graph) -> TokenStream {
    let name = &graph.name;
    let text = name.to_string();
    let fields = graph.variables.iter().map(|&id| {
        let field = syn::ext::IdentExt::unraw(&local(graph, id)).to_string();
        let sizes = fixed_sizes(graph, id);
        let shape = if sizes.is_empty() {
            quote! { [0usize; 0] }
        } else {
            quote! { [#(#sizes),*] }
        };
        quote! { .field(#field, &#shape) }
    });
    quote! {
        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#text) #(#fields)* .finish()
            }
        }
    }
}

pub(crate) fn outputs_struct(graph: &Graph) -> TokenStream {
    let type_of = |id: NodeId| array_type(graph.shape(id), graph.node(id).dtype);
    outputs_struct_with(
        graph,
        type_of,
        &quote! { Debug, Clone, PartialEq },
        &allowed_lints(),
    )
}

/// The doc of a field holding node `id`'s value: its shape, or that it is
/// a scalar.
pub(crate) fn shape_doc(graph: &Graph, id: NodeId) -> String {
    let shape = graph.shape(id);
    if shape.is_scalar() {
        format!(" A scalar, `{}`.", element(graph.node(id).dtype))
    } else {
        format!(" Shape {shape}.")
    }
}

/// The struct `run` returns, one field per output of the type `type_of`
/// gives its node; shared by the std and the `#[no_std]` emitters.
pub(crate) fn outputs_struct_with(
    graph: &Graph,
    type_of: impl Fn(NodeId) -> TokenStream,
    derives: &TokenStream,
    lints: &TokenStream,
) -> TokenStream {
    if graph.outputs.is_empty() {
        return TokenStream::new();
    }
    let vis = &graph.vis;
    let name = outputs_name(graph);
    let doc = format!(
        " Every output of [`{}`], as computed by [`{}::run`].",
        graph.name, graph.name
    );
    let fields = graph.outputs.iter().map(|output| {
        let field = &output.name;
        let ty = type_of(output.node);
        let attrs = &output.attrs;
        let shape_doc = shape_doc(graph, output.node);
        quote! {
            #(#attrs)*
            #[doc = #shape_doc]
            pub #field: #ty
        }
    });
    quote! {
        #[doc = #doc]
        #[derive(#derives)]
        #lints
        #vis struct #name {
            #(#fields,)*
        }
    }
}

pub(crate) fn outputs_name(graph: &Graph) -> Ident {
    format_ident!("{}Outputs", graph.name)
}

/// Array constants larger than this are emitted once, as a `static`, rather
/// than as a literal in every entry point that reads them.
const INLINE_CONSTANT_LIMIT: usize = 16;

/// Constants of more values than this are emitted as bytes
/// (`flat::Baked`), smaller ones as literals a reader can check.
const BYTES_CONSTANT_FROM: usize = 256;

/// The `&[f32]` of a large constant's data, if node `id` is one: its
/// `static`, as an array or as bytes (`constant_statics`).
pub(crate) fn constant_data(graph: &Graph, id: NodeId) -> Option<TokenStream> {
    let name = constant_static(graph, id)?;
    let crate::ir::Op::Constant(tensor) = &graph.node(id).op else {
        return None;
    };
    Some(if tensor.values.len() > BYTES_CONSTANT_FROM {
        quote! { #name.values() }
    } else {
        quote! { &#name }
    })
}

/// The `static` holding a large constant's data, if node `id` is one.
fn constant_static(graph: &Graph, id: NodeId) -> Option<Ident> {
    let large = match &graph.node(id).op {
        crate::ir::Op::Constant(tensor) => tensor.values.len() > INLINE_CONSTANT_LIMIT,
        crate::ir::Op::Input
        | crate::ir::Op::Variable
        | crate::ir::Op::Elementwise(_)
        | crate::ir::Op::Reduction(_)
        | crate::ir::Op::Loss(_)
        | crate::ir::Op::Linalg(_)
        | crate::ir::Op::Movement(_)
        | crate::ir::Op::Nn(_)
        | crate::ir::Op::Autodiff(_) => false,
    };
    large.then(|| {
        format_ident!(
            "__{}_{}",
            graph.name.to_string().to_uppercase(),
            local(graph, id)
                .to_string()
                .trim_start_matches('_')
                .to_uppercase()
        )
    })
}

/// The `static`s of large constants (baked weights among them), and the
/// dependency on the weight file they came from.
///
/// ```text
/// static __MLP_W1: [f32; 2048] = [0.0132f32, ...];
/// const _: &[u8] = include_bytes!("/path/to/weights.safetensors");
/// ```
pub(crate) fn constant_statics(graph: &Graph) -> TokenStream {
    let statics = (0..graph.nodes.len()).filter_map(|index| {
        let id = NodeId(index);
        let name = constant_static(graph, id)?;
        let crate::ir::Op::Constant(tensor) = &graph.node(id).op else {
            return None;
        };
        let len = tensor.values.len();
        if len > BYTES_CONSTANT_FROM {
            // One byte string per byte order, viewed as `f32`s: rustc reads
            // it far faster than as many float literals.
            let little: Vec<u8> = tensor.values.iter().flat_map(|v| v.to_le_bytes()).collect();
            let big: Vec<u8> = tensor.values.iter().flat_map(|v| v.to_be_bytes()).collect();
            let bytes = little.len();
            let (little, big) = (Literal::byte_string(&little), Literal::byte_string(&big));
            let p = private();
            return Some(quote! {
                #[cfg(target_endian = "little")]
                #[allow(non_upper_case_globals)]
                static #name: #p::flat::Baked<#bytes> = #p::flat::Baked(*#little);
                #[cfg(target_endian = "big")]
                #[allow(non_upper_case_globals)]
                static #name: #p::flat::Baked<#bytes> = #p::flat::Baked(*#big);
            });
        }
        let values = tensor.values.iter().map(|&v| f32_literal(v));
        Some(quote! {
            #[allow(non_upper_case_globals, clippy::unreadable_literal, clippy::excessive_precision)]
            static #name: [f32; #len] = [#(#values),*];
        })
    });
    // Reading the file here makes cargo rebuild the crate when it changes.
    let dependency = graph.baked_from.as_ref().map(|path| {
        quote! { const _: &[u8] = ::core::include_bytes!(#path); }
    });
    quote! { #(#statics)* #dependency }
}

/// The nodes a step (or `update`) computes, in both backends: the new
/// values that change, and the loss; and those it reads after its
/// statements (the values stored at the end).
pub(crate) fn step_roots(
    stores: &[(&crate::ir::Update, crate::plan::Store)],
    loss: Option<NodeId>,
) -> (Vec<NodeId>, Vec<NodeId>) {
    let pick = |keep: &dyn Fn(crate::plan::Store) -> bool| -> Vec<NodeId> {
        stores
            .iter()
            .filter(|(_, store)| keep(*store))
            .map(|(update, _)| update.value)
            .chain(loss)
            .collect()
    };
    (
        pick(&|store| store != crate::plan::Store::Unchanged),
        pick(&|store| {
            matches!(
                store,
                crate::plan::Store::Assign | crate::plan::Store::Snapshot(_)
            )
        }),
    )
}
