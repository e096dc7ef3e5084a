//! Phase 6, emission: the checked graph IR to Rust tokens.
//!
//! For a graph `struct Affine { input x: [n, 3]; var w: [3, 4]; output y = matmul(x, w); }`
//! the expansion is, roughly:
//!
//! ```text
//! pub struct Affine { w: Array2<f32> }
//! pub struct AffineOutputs { pub y: Array2<f32> }
//! impl Affine {
//!     pub fn new(w: Array2<f32>) -> Result<Self, Error> { /* checks w's shape */ }
//!     pub fn zeros() -> Self { .. }
//!     pub fn w(&self) -> ArrayView2<'_, f32> { .. }      // and w_mut, set_w
//!     pub fn y(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>, Error> {
//!         let mut __dims = DimBindings::new(["n"]);
//!         __dims.check_input("x", &[Dim::Symbol("n"), Dim::Fixed(3)], x.shape())?;
//!         let w = self.w.view();
//!         let y: Array2<f32> = kernels::linalg::matmul(x.view(), w.view());
//!         Ok(y)
//!     }
//!     pub fn run(&self, x: ArrayView2<'_, f32>) -> Result<AffineOutputs, Error> { .. }
//! }
//! ```
//!
//! Every entry point checks its inputs once, then runs one statement per node
//! it needs, in topological order, each binding the node's value to a local
//! unless nothing reads that local (a value the plan overwrites in place).
//! Paths are absolute (`::staticflow::__private`, `::core`), so user items
//! named `Result` or `ndarray` change nothing.

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use crate::ir::{DType, Graph, NodeId};
use crate::shape::{Dim, Shape};

pub mod bare;
mod entry;
mod node;

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
fn allowed_lints() -> TokenStream {
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
            clippy::too_many_arguments
        )]
    }
}

pub fn emit(graph: &Graph, as_written: &str) -> TokenStream {
    let Graph {
        attrs, vis, name, ..
    } = graph;
    let plan = crate::plan::plan(graph);
    let p = private();
    let lints = allowed_lints();
    let fields = graph.variables.iter().map(|&id| {
        let field = local(graph, id);
        let ty = array_type(graph.shape(id), DType::F32);
        let packed = plan.packed[id.0].then(|| {
            let packed = packed_field(graph, id);
            quote! { , #packed: #p::kernels::packed::PackedWeights }
        });
        quote! { #field: #ty #packed }
    });
    let outputs_struct = outputs_struct(graph);
    let views_struct = entry::views_struct(graph);
    let workspace_struct = entry::workspace_struct(graph, &plan);
    let workspace_constant = entry::workspace_constant(graph, &plan);
    let constructors = constructors(graph, &plan);
    let accessors = graph
        .variables
        .iter()
        .map(|&id| accessors(graph, &plan, id));
    let output_methods = graph
        .outputs
        .iter()
        .map(|output| entry::output_methods(graph, &plan, output));
    let run = entry::run_methods(graph, &plan);
    let update = entry::update_methods(graph, &plan);
    let default = default_impl(graph);
    let introspection = crate::introspect::items(graph, as_written, true);
    let statics = constant_statics(graph);
    quote! {
        #statics

        #(#attrs)*
        #lints
        #vis struct #name {
            #(#fields,)*
        }

        #outputs_struct

        #lints
        #views_struct

        #lints
        #workspace_struct

        #lints
        impl #name {
            #workspace_constant
            #constructors
            #(#accessors)*
            #(#output_methods)*
            #run
            #update
            #introspection
        }

        #default
    }
}

pub(crate) fn private() -> TokenStream {
    quote! { ::staticflow::__private }
}

/// The Rust name of a node's value: the user's name, or `__g<id>_<op>`.
pub(crate) fn local(graph: &Graph, id: NodeId) -> Ident {
    let node = graph.node(id);
    match &node.name {
        Some(name) => name.clone(),
        None => format_ident!("__g{}_{}", id.0, node.op.word()),
    }
}

/// The field holding variable `id`'s packed copy, when it keeps one.
fn packed_field(graph: &Graph, id: NodeId) -> Ident {
    format_ident!("__packed_{}", local(graph, id))
}

/// Field initialisers of the packed copies, packing each variable's value
/// (a local of the variable's name, or `zeros`' zero matrix).
fn packed_inits(graph: &Graph, plan: &crate::plan::Plan, zeros: bool) -> Vec<TokenStream> {
    let p = private();
    graph
        .variables
        .iter()
        .filter(|id| plan.packed[id.0])
        .map(|&id| {
            let field = packed_field(graph, id);
            let value = if zeros {
                let shape = shape_expr(&fixed_sizes(graph, id));
                quote! { #p::ndarray::Array2::<f32>::zeros(#shape).view() }
            } else {
                let name = local(graph, id);
                quote! { #name.view() }
            };
            quote! { #field: #p::kernels::packed::PackedWeights::new(#value) }
        })
        .collect()
}

fn dimension(rank: usize) -> TokenStream {
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
fn element(dtype: DType) -> TokenStream {
    match dtype {
        DType::F32 => quote! { f32 },
        DType::Usize => quote! { usize },
        DType::Bool => quote! { bool },
    }
}

/// The owned type of a value: a scalar, or an `Array` of its rank.
fn array_type(shape: &Shape, dtype: DType) -> TokenStream {
    let elem = element(dtype);
    if shape.is_scalar() {
        return elem;
    }
    let p = private();
    let dim = dimension(shape.rank());
    quote! { #p::ndarray::Array<#elem, #dim> }
}

fn view_type(shape: &Shape, dtype: DType, mutable: bool) -> TokenStream {
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
fn size_expr(dim: &Dim) -> TokenStream {
    match dim {
        Dim::Fixed(size) => quote! { #size },
        Dim::Symbol(symbol) => {
            let size = format_ident!("__size_{}", symbol);
            quote! { #size }
        }
    }
}

/// A literal shape as an ndarray dimension expression.
fn shape_expr(sizes: &[usize]) -> TokenStream {
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

fn fixed_sizes(graph: &Graph, id: NodeId) -> Vec<usize> {
    // Variables and constants have literal shapes: `check` rejects symbolic
    // variable dims, and constants are literals.
    graph.shape(id).as_fixed().unwrap_or_default()
}

fn outputs_struct(graph: &Graph) -> TokenStream {
    let type_of = |id: NodeId| array_type(graph.shape(id), graph.node(id).dtype);
    outputs_struct_with(
        graph,
        type_of,
        &quote! { Debug, Clone, PartialEq },
        &allowed_lints(),
    )
}

/// The struct `run` returns, one field per output of the type `type_of`
/// gives its node; shared by the std and the `#[no_std]` emitters.
fn outputs_struct_with(
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
        let shape_doc = format!(" Shape {}.", graph.shape(output.node));
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

fn outputs_name(graph: &Graph) -> Ident {
    format_ident!("{}Outputs", graph.name)
}

fn constructors(graph: &Graph, plan: &crate::plan::Plan) -> TokenStream {
    let p = private();
    let vis = &graph.vis;
    let names: Vec<Ident> = graph.variables.iter().map(|&id| local(graph, id)).collect();
    if names.is_empty() {
        return quote! {
            /// Creates the graph. It has no variables, so there is nothing to give.
            #[must_use]
            #vis fn new() -> Self {
                Self {}
            }
        };
    }
    // Optimizer state starts at zero: not a parameter.
    let given = |id: &NodeId| !graph.state.contains(id);
    let params = graph
        .variables
        .iter()
        .zip(&names)
        .filter(|(id, _)| given(id))
        .map(|(&id, name)| {
            let ty = array_type(graph.shape(id), DType::F32);
            quote! { #name: #ty }
        });
    let initial = graph.variables.iter().zip(&names).map(|(&id, name)| {
        if given(&id) {
            quote! { #name }
        } else if graph.shape(id).is_scalar() {
            quote! { #name: 0.0 }
        } else {
            let shape = shape_expr(&fixed_sizes(graph, id));
            quote! { #name: #p::ndarray::Array::zeros(#shape) }
        }
    });
    let checks = graph
        .variables
        .iter()
        .zip(&names)
        .filter(|(id, _)| given(id))
        .filter_map(|(&id, name)| {
            let shape = graph.shape(id);
            if shape.is_scalar() {
                return None;
            }
            let sizes = fixed_sizes(graph, id);
            let text = name.to_string();
            Some(quote! {
                #p::check_variable(#text, &[#(#sizes),*], #name.shape())?;
            })
        });
    let zeros = graph.variables.iter().zip(&names).map(|(&id, name)| {
        if graph.shape(id).is_scalar() {
            quote! { #name: 0.0 }
        } else {
            let shape = shape_expr(&fixed_sizes(graph, id));
            quote! { #name: #p::ndarray::Array::zeros(#shape) }
        }
    });
    let list = graph
        .variables
        .iter()
        .zip(&names)
        .filter(|(id, _)| given(id))
        .map(|(&id, name)| format!("`{name}`: {}", graph.shape(id)))
        .collect::<Vec<_>>()
        .join(", ");
    let new_doc = format!(" Creates the graph from the values of its variables ({list}).");
    let loaders = loaders(graph, plan);
    let packed = packed_inits(graph, plan, false);
    let packed_zeros = packed_inits(graph, plan, true);
    quote! {
        #[doc = #new_doc]
        ///
        /// # Errors
        /// [`Error::VariableShape`](::staticflow::Error::VariableShape) naming the first
        /// variable whose value has the wrong shape.
        #vis fn new(#(#params),*) -> ::core::result::Result<Self, #p::Error> {
            #(#checks)*
            ::core::result::Result::Ok(Self { #(#packed,)* #(#initial),* })
        }

        /// Creates the graph with every variable set to zero.
        #[must_use]
        #vis fn zeros() -> Self {
            Self { #(#packed_zeros,)* #(#zeros),* }
        }

        #loaders
    }
}

/// Constructors reading the variables from weight files, and the savers.
fn loaders(graph: &Graph, plan: &crate::plan::Plan) -> TokenStream {
    let p = private();
    let vis = &graph.vis;
    let names: Vec<Ident> = graph.variables.iter().map(|&id| local(graph, id)).collect();
    // A file may leave out the optimizer's state: it then starts at zero.
    let texts: Vec<String> = graph
        .variables
        .iter()
        .zip(&names)
        .filter(|(id, _)| !graph.state.contains(id))
        .map(|(_, name)| name.to_string())
        .collect();
    let packed = packed_inits(graph, plan, false);
    let takes = graph.variables.iter().zip(&names).map(|(&id, name)| {
        let shape = graph.shape(id);
        let dim = dimension(shape.rank());
        let sizes = fixed_sizes(graph, id);
        let text = name.to_string();
        let take = if graph.state.contains(&id) {
            quote! { weights.take_or_zeros::<#dim>(#text, &[#(#sizes),*])? }
        } else {
            quote! { weights.take::<#dim>(#text, &[#(#sizes),*])? }
        };
        if shape.is_scalar() {
            quote! { let #name: f32 = #p::ndarray::Array0::<f32>::into_scalar(#take); }
        } else {
            quote! { let #name = #take; }
        }
    });
    let views: Vec<TokenStream> = graph
        .variables
        .iter()
        .zip(&names)
        .map(|(&id, name)| {
            let text = name.to_string();
            if graph.shape(id).is_scalar() {
                quote! { (#text, #p::ndarray::aview0(&self.#name).into_dyn()) }
            } else {
                quote! { (#text, self.#name.view().into_dyn()) }
            }
        })
        .collect();
    quote! {
        /// Creates the graph from weights loaded from a file, taking each variable
        /// by its name and checking its dtype and shape.
        ///
        /// # Errors
        /// The [`Error`](::staticflow::Error) of the first variable that is missing,
        /// not `f32` or of another shape; when `strict`, also a tensor that no
        /// variable takes.
        #vis fn from_weights(mut weights: #p::weights::Weights, strict: bool)
            -> ::core::result::Result<Self, #p::Error> {
            #(#takes)*
            weights.finish(strict)?;
            ::core::result::Result::Ok(Self { #(#packed,)* #(#names),* })
        }

        /// Loads every variable from a safetensors file, strictly: every tensor of
        /// the file must be a variable of the graph. For other rules (renames,
        /// extra tensors), build the [`Weights`](::staticflow::weights::Weights) and
        /// call `from_weights`.
        ///
        /// # Errors
        /// As `from_weights`, and for a file that cannot be read or is corrupt.
        #vis fn from_safetensors(path: impl ::core::convert::AsRef<::std::path::Path>)
            -> ::core::result::Result<Self, #p::Error> {
            Self::from_weights(#p::weights::Weights::from_safetensors_file(path)?, true)
        }

        /// Loads every variable `v` from the file `v.npy` in `dir`.
        ///
        /// # Errors
        /// As `from_weights`, and for a file that is missing, unreadable or corrupt.
        #vis fn from_npy_dir(dir: impl ::core::convert::AsRef<::std::path::Path>)
            -> ::core::result::Result<Self, #p::Error> {
            let names: &[&str] = &[#(#texts),*];
            Self::from_weights(#p::weights::Weights::from_npy_dir(dir, names)?, true)
        }

        /// The variables as the bytes of a safetensors file, each under its name.
        #[must_use]
        #vis fn to_safetensors_bytes(&self) -> ::std::vec::Vec<u8> {
            #p::weights::save_safetensors(&[#(#views),*])
        }

        /// Writes the variables to a safetensors file, each under its name.
        ///
        /// # Errors
        /// [`Error::Io`](::staticflow::Error::Io) if the file cannot be written.
        #vis fn save_safetensors(&self, path: impl ::core::convert::AsRef<::std::path::Path>)
            -> ::core::result::Result<(), #p::Error> {
            #p::weights::save_safetensors_file(&[#(#views),*], path)
        }
    }
}

fn default_impl(graph: &Graph) -> TokenStream {
    let name = &graph.name;
    let body = if graph.variables.is_empty() {
        quote! { Self::new() }
    } else {
        quote! { Self::zeros() }
    };
    quote! {
        impl ::core::default::Default for #name {
            fn default() -> Self {
                #body
            }
        }
    }
}

fn accessors(graph: &Graph, plan: &crate::plan::Plan, id: NodeId) -> TokenStream {
    let p = private();
    let vis = &graph.vis;
    let name = local(graph, id);
    let shape = graph.shape(id);
    let mutable = format_ident!("{}_mut", name);
    let setter = format_ident!("set_{}", name);
    let doc = format!(" The current value of variable `{name}`, of shape {shape}.");
    let doc_mut = format!(" Mutable access to variable `{name}`; its shape cannot change.");
    let doc_set = format!(" Replaces the value of variable `{name}`, of shape {shape}.");
    if shape.is_scalar() {
        return quote! {
            #[doc = #doc]
            #[must_use]
            #vis fn #name(&self) -> f32 {
                self.#name
            }
            #[doc = #doc_mut]
            #vis fn #mutable(&mut self) -> &mut f32 {
                &mut self.#name
            }
            #[doc = #doc_set]
            #vis fn #setter(&mut self, value: f32) {
                self.#name = value;
            }
        };
    }
    let view = view_type(shape, DType::F32, false);
    let view_mut = view_type(shape, DType::F32, true);
    let ty = array_type(shape, DType::F32);
    let sizes = fixed_sizes(graph, id);
    let text = name.to_string();
    let packed = plan.packed[id.0].then(|| packed_field(graph, id));
    let mutable_access = if let Some(packed) = &packed {
        let doc_mut = format!(
            " Mutable access to variable `{name}`; its shape cannot change. It derefs to \
             the variable's view; when dropped, it packs the new value again for \
             single-row products."
        );
        quote! {
            #[doc = #doc_mut]
            #vis fn #mutable(&mut self) -> #p::kernels::packed::WeightsMut<'_> {
                #p::kernels::packed::WeightsMut::new(self.#name.view_mut(), &mut self.#packed)
            }
        }
    } else {
        quote! {
            #[doc = #doc_mut]
            #vis fn #mutable(&mut self) -> #view_mut {
                self.#name.view_mut()
            }
        }
    };
    let repack = packed.map(|packed| quote! { self.#packed.pack(self.#name.view()); });
    quote! {
        #[doc = #doc]
        #[must_use]
        #vis fn #name(&self) -> #view {
            self.#name.view()
        }
        #mutable_access
        #[doc = #doc_set]
        ///
        /// # Errors
        /// [`Error::VariableShape`](::staticflow::Error::VariableShape) if `value` has
        /// another shape; the variable is then unchanged.
        #vis fn #setter(&mut self, value: #ty) -> ::core::result::Result<(), #p::Error> {
            #p::check_variable(#text, &[#(#sizes),*], value.shape())?;
            self.#name = value;
            #repack
            ::core::result::Result::Ok(())
        }
    }
}

/// Array constants larger than this are emitted once, as a `static`, rather
/// than as a literal in every entry point that reads them.
const INLINE_CONSTANT_LIMIT: usize = 16;

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
fn constant_statics(graph: &Graph) -> TokenStream {
    let statics = (0..graph.nodes.len()).filter_map(|index| {
        let id = NodeId(index);
        let name = constant_static(graph, id)?;
        let crate::ir::Op::Constant(tensor) = &graph.node(id).op else {
            return None;
        };
        let len = tensor.values.len();
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

/// The expression passing node `id` to a kernel: a view of any rank (a
/// scalar as a rank-0 view).
fn operand(graph: &Graph, id: NodeId) -> TokenStream {
    let name = local(graph, id);
    if graph.shape(id).is_scalar() {
        let p = private();
        quote! { #p::ndarray::aview0(&#name) }
    } else {
        quote! { #name.view() }
    }
}

/// What a graph with errors expands to, beside its `compile_error!`s: the
/// struct and the signatures the user asked for, with bodies that never run,
/// so calling code sees one real error instead of a cascade of "cannot find".
/// Types come from the declared shapes, and from inferred ones where known.
/// `unlowered` are outputs whose value had an error before it became a node:
/// their methods take every input.
pub fn fallback(graph: &Graph, unlowered: &[&Ident]) -> TokenStream {
    let p = private();
    let Graph {
        attrs, vis, name, ..
    } = graph;
    let lints = allowed_lints();
    let dyn_array = quote! { #p::ndarray::Array<f32, #p::ndarray::IxDyn> };
    let workspace = entry::workspace_name(graph);
    let type_of = |id: NodeId| {
        let node = graph.node(id);
        node.shape
            .as_ref()
            .map_or(dyn_array.clone(), |shape| array_type(shape, node.dtype))
    };
    let variables: Vec<TokenStream> = graph
        .variables
        .iter()
        .map(|&id| {
            let ty = type_of(id);
            quote! { _: #ty }
        })
        .collect();
    let everything: Vec<NodeId> = graph.inputs.clone();
    let outputs = graph
        .outputs
        .iter()
        .map(|output| (&output.name, Some(output.node)))
        .chain(unlowered.iter().map(|name| (*name, None)));
    let methods = outputs.map(|(method, node)| {
        let needed = graph.reachable(node.map_or(everything.clone(), |node| vec![node]));
        let params = graph.inputs.iter().filter(|id| needed[id.0]).map(|&id| {
            let dtype = graph.node(id).dtype;
            let ty = graph
                .node(id)
                .shape
                .as_ref()
                .map_or(dyn_array.clone(), |shape| {
                    if shape.is_scalar() {
                        element(dtype)
                    } else {
                        view_type(shape, dtype, false)
                    }
                });
            quote! { _: #ty }
        });
        let ty = node.map_or(dyn_array.clone(), type_of);
        let with = format_ident!("{}_with", method);
        let params: Vec<TokenStream> = params.collect();
        quote! {
            #vis fn #method(&self, #(#params),*) -> ::core::result::Result<#ty, #p::Error> {
                ::core::unreachable!()
            }
            #vis fn #with(&self, _: &mut #workspace, #(#params),*) -> ::core::result::Result<#ty, #p::Error> {
                ::core::unreachable!()
            }
        }
    });
    let workspace_decl = quote! {
        #[derive(Debug, Clone, Default)]
        #vis struct #workspace;
    };
    quote! {
        #(#attrs)*
        #lints
        #vis struct #name;

        #lints
        #workspace_decl

        #lints
        impl #name {
            #vis fn new(#(#variables),*) -> ::core::result::Result<Self, #p::Error> {
                ::core::unreachable!()
            }
            #vis fn zeros() -> Self {
                ::core::unreachable!()
            }
            #(#methods)*
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    fn expand(tokens: proc_macro2::TokenStream) -> String {
        crate::expand::expand_checked(tokens)
            .unwrap_or_else(|e| panic!("test graph expands: {e}"))
            .to_string()
    }

    #[test]
    fn scalar_graph_is_one_let_per_node_in_order() {
        let expanded = expand(quote! {
            struct Seed {
                input a: [];
                input b: [];
                output res = (a * b) / (a + b);
            }
        });
        let body = quote! {
            -> ::core::result::Result<f32, ::staticflow::__private::Error> {
                let __g2_mul: f32 = a * b;
                let __g3_add: f32 = a + b;
                let res: f32 = __g2_mul / __g3_add;
                ::core::result::Result::Ok(res)
            }
        };
        assert!(expanded.contains(&body.to_string()), "{expanded}");
    }

    #[test]
    fn constant_graph_folds_to_its_value() {
        let expanded = expand(quote! {
            struct Seed {
                const a = 7.0;
                const b = 8.0;
                output res = (a * b) / (a + b);
            }
        });
        let body = quote! { { let res: f32 = 3.7333333f32; ::core::result::Result::Ok(res) } };
        assert!(expanded.contains(&body.to_string()), "{expanded}");
    }

    #[test]
    fn entry_point_checks_inputs_then_writes_into_the_workspace() {
        let expanded = expand(quote! {
            struct Dense {
                input x: [n, 3];
                input unused: [m];
                var w: [3, 2];
                output y = matmul(x, w);
                output other = unused * 2.0;
            }
        });
        let p = quote! { ::staticflow::__private };
        let method = quote! {
            fn y_with<'a>(&'a self, __ws: &'a mut DenseWorkspace,
                x: #p::ndarray::ArrayView<'a, f32, #p::ndarray::Ix2>)
                -> ::core::result::Result<#p::ndarray::ArrayView<'a, f32, #p::ndarray::Ix2>, #p::Error> {
                let mut __dims = #p::DimBindings::new(["n"]);
                __dims.check_input("x", &[#p::Dim::Symbol("n"), #p::Dim::Fixed(3usize)], x.shape())?;
                let __size_n: usize = __dims.size("n");
                let w = self.w.view();
                // `x` may have one row: the product has the packed copy of `w`.
                #p::kernels::packed::dense_packed_into(x.view(), w.view(), &self.__packed_w,
                    ::core::option::Option::None, #p::scalar::Activation::Identity,
                    __ws.s0.out([__size_n, 2usize]));
                let y = __ws.s0.get([__size_n, 2usize]);
                ::core::result::Result::Ok(y)
            }
        };
        assert!(expanded.contains(&method.to_string()), "{expanded}");
        let convenience = quote! {
            let mut __ws = DenseWorkspace::default();
            self.y_with(&mut __ws, x).map(|value| value.to_owned())
        };
        assert!(expanded.contains(&convenience.to_string()), "{expanded}");
        let field = quote! { w: #p::ndarray::Array<f32, #p::ndarray::Ix2>, __packed_w: #p::kernels::packed::PackedWeights };
        assert!(expanded.contains(&field.to_string()), "{expanded}");
    }

    #[test]
    fn a_product_with_an_updated_weight_reads_it_in_place() {
        let expanded = expand(quote! {
            struct Batch {
                input x: [4, 3];
                input g: [3, 2];
                var w: [3, 2];
                output y = matmul(x, w);
                w = w - g;
            }
        });
        let p = quote! { ::staticflow::__private };
        let call = quote! {
            #p::kernels::linalg::matmul_into(x.view(), w.view(), __ws.s0.out([4usize, 2usize]));
        };
        assert!(expanded.contains(&call.to_string()), "{expanded}");
        assert!(!expanded.contains("__packed"), "{expanded}");
    }

    #[test]
    fn a_value_read_for_the_last_time_is_overwritten_in_place() {
        let expanded = expand(quote! {
            struct Head {
                input x: [2, 3];
                output y = relu(softmax(x));
            }
        });
        let p = quote! { ::staticflow::__private };
        // The softmax is read only by `relu`, which overwrites it: no local
        // for it, one slot for both.
        let body = quote! {
            #p::kernels::softmax::softmax_into(x.view(), 1usize, __ws.s0.out([2usize, 3usize]));
            #p::kernels::unary::relu_inplace(__ws.s0.out([2usize, 3usize]));
            let y = __ws.s0.get([2usize, 3usize]);
            ::core::result::Result::Ok(y)
        };
        assert!(expanded.contains(&body.to_string()), "{expanded}");
        assert!(!expanded.contains("s1"), "{expanded}");
    }

    #[test]
    fn an_update_is_computed_in_its_variable() {
        let expanded = expand(quote! {
            struct Sgd {
                input g: [3];
                input lr: [];
                var w: [3];
                w = w - lr * g;
            }
        });
        let p = quote! { ::staticflow::__private };
        // `w` is read only as the buffer overwritten: no view of it, no
        // slot, no store at the end.
        let body = quote! {
            __dims.check_input("g", &[#p::Dim::Fixed(3usize)], g.shape())?;
            #p::kernels::fused::map3_inplace(self.w.view_mut(), #p::ndarray::aview0(&lr),
                g.view(), |__e0, __e1, __e2| (__e0 - (__e1 * __e2)));
            ::core::result::Result::Ok(())
        };
        assert!(expanded.contains(&body.to_string()), "{expanded}");
    }

    #[test]
    fn swapped_variables_are_copied_into_slots() {
        let expanded = expand(quote! {
            struct Swap {
                var a: [2];
                var b: [2];
                a = b;
                b = a;
            }
        });
        let body = quote! {
            let a = self.a.view();
            let b = self.b.view();
            __ws.s0.out([2usize]).assign(&b);
            let __new_a = __ws.s0.get([2usize]);
            __ws.s1.out([2usize]).assign(&a);
            let __new_b = __ws.s1.get([2usize]);
            self.a.assign(&__new_a);
            self.b.assign(&__new_b);
            ::core::result::Result::Ok(())
        };
        assert!(expanded.contains(&body.to_string()), "{expanded}");
        assert!(!expanded.contains("to_owned ()"), "{expanded}");
    }

    #[test]
    fn updates_go_in_place_to_slots_or_through_copies() {
        let expanded = expand(quote! {
            struct Train {
                input g: [3];
                input lr: [];
                var a: [3];
                var b: [3];
                var w: [3];
                b = b + w;
                w = w - lr * g;
                a = b;
            }
        });
        let p = quote! { ::staticflow::__private };
        // `a` takes `b`'s current value: `b + w` goes to a slot, and `b` is
        // copied before the stores. Nothing reads `w` after `w - lr * g`.
        let body = quote! {
            let b = self.b.view();
            let w = self.w.view();
            #p::kernels::elementwise::add_into(b.view(), w.view(), __ws.s0.out([3usize]));
            let __g5_add = __ws.s0.get([3usize]);
            #p::kernels::fused::map3_inplace(self.w.view_mut(), #p::ndarray::aview0(&lr),
                g.view(), |__e0, __e1, __e2| (__e0 - (__e1 * __e2)));
            __ws.s1.out([3usize]).assign(&b);
            let __new_a = __ws.s1.get([3usize]);
            self.b.assign(&__g5_add);
            self.a.assign(&__new_a);
            ::core::result::Result::Ok(())
        };
        assert!(expanded.contains(&body.to_string()), "{expanded}");
    }

    #[test]
    fn errors_come_with_a_fallback_item() {
        let errors = crate::expand::expand_checked(quote! {
            struct Broken { input x: [2]; output y = x + missing; }
        })
        .unwrap_err()
        .to_string();
        assert!(errors.contains("compile_error"), "{errors}");
        assert!(errors.contains("struct Broken"), "{errors}");
        assert!(errors.contains("fn y"), "{errors}");
    }
}
