//! The API of a generated `std` graph besides its entry points: the
//! constructors, the weight-file loaders and savers, the variables'
//! accessors, and the packed copies of weight matrices.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::super::{array_type, dimension, fixed_sizes, local, private, shape_expr, view_type};
use crate::ir::{DType, Graph, NodeId};

/// The field holding variable `id`'s packed copy, when it keeps one.
pub(super) fn packed_field(graph: &Graph, id: NodeId) -> Ident {
    format_ident!("__packed_{}", local(graph, id))
}

/// Field initialisers of the packed copies, packing each variable's value
/// (a local of the variable's name, or `zeros`' zero matrix).
pub(super) fn packed_inits(
    graph: &Graph,
    plan: &crate::plan::Plan,
    zeros: bool,
) -> Vec<TokenStream> {
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

pub(super) fn constructors(graph: &Graph, plan: &crate::plan::Plan) -> TokenStream {
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
pub(super) fn loaders(graph: &Graph, plan: &crate::plan::Plan) -> TokenStream {
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

pub(super) fn default_impl(graph: &Graph) -> TokenStream {
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

pub(super) fn accessors(graph: &Graph, plan: &crate::plan::Plan, id: NodeId) -> TokenStream {
    let p = private();
    let vis = &graph.vis;
    let name = local(graph, id);
    let shape = graph.shape(id);
    let mutable = format_ident!("{}_mut", name);
    let setter = format_ident!("set_{}", name);
    let doc = match graph.doc(id) {
        Some(text) => format!(" The current value of variable `{name}`, of shape {shape}: {text}"),
        None => format!(" The current value of variable `{name}`, of shape {shape}."),
    };
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
