//! The `std` backend: a graph on ndarray views, with workspaces,
//! run-time shape checks and typed errors.
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
//! With several outputs, those statements are written once, in the shared
//! schedule ([`schedule`], [`super::fetch`]), and the entry points call it.
//! Paths are absolute (`::staticflow::__private`, `::core`), so user items
//! named `Result` or `ndarray` change nothing. All of it goes in the graph's
//! module ([`super::scope`]).

use proc_macro2::TokenStream;
use quote::quote;

use super::fetch::Schedule;
use super::{allowed_lints, array_type, constant_statics, local, outputs_struct, private};
use crate::ir::{DType, Graph, NodeId};
use crate::plan::Plan;
use api::{accessors, constructors, default_impl, packed_field};

mod api;
mod entry;
mod fallback;
pub(crate) mod node;
mod schedule;
mod steps;

pub use fallback::fallback;

/// The items of a `std` graph: its struct, outputs struct, workspace, and
/// the `impl` with every method and `introspection`'s constants.
pub fn emit(graph: &Graph, plan: &Plan, introspection: &TokenStream) -> TokenStream {
    let Graph {
        attrs, vis, name, ..
    } = graph;
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
    let workspace_struct = entry::workspace_struct(graph, plan);
    let workspace_constant = entry::workspace_constant(graph, plan);
    let constructors = constructors(graph, plan);
    let accessors = graph.variables.iter().map(|&id| accessors(graph, plan, id));
    let schedule = Schedule::of(graph, entry::entry_inputs);
    let output_methods =
        (0..graph.outputs.len()).map(|k| entry::output_methods(graph, plan, schedule.as_ref(), k));
    let (fetched_struct, fetch_method) = schedule.as_ref().map_or_else(
        || (TokenStream::new(), TokenStream::new()),
        |schedule| schedule::fetch_items(graph, plan, schedule),
    );
    let run = entry::run_methods(graph, plan, schedule.as_ref());
    let update = steps::update_methods(graph, plan);
    let default = default_impl(graph);
    let debug = super::debug_impl(graph);
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
        #fetched_struct

        #lints
        impl #name {
            #workspace_constant
            #constructors
            #(#accessors)*
            #fetch_method
            #(#output_methods)*
            #run
            #update
            #introspection
        }

        #default

        #debug
    }
}

/// The expression passing node `id` to a kernel: a view of any rank (a
/// scalar as a rank-0 view).
pub(super) fn operand(graph: &Graph, id: NodeId) -> TokenStream {
    let name = local(graph, id);
    if graph.shape(id).is_scalar() {
        let p = private();
        quote! { #p::ndarray::aview0(&#name) }
    } else {
        quote! { #name.view() }
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
                let __ws = workspace;
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
        let body = quote! {
            { let __ws = workspace; let res: f32 = 3.7333333f32; ::core::result::Result::Ok(res) }
        };
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
        let some = quote! { ::core::option::Option::Some };
        let none = quote! { ::core::option::Option::None };
        // Two outputs share one schedule: `y_with` takes the one input `y`
        // needs (as anything that converts to a view) and asks `__fetch_with`
        // for `y` alone.
        let method = quote! {
            fn y_with<'a>(&'a self, workspace: &'a mut DenseWorkspace,
                x: impl #p::Input<'a, f32, #p::ndarray::Ix2>)
                -> ::core::result::Result<#p::ndarray::ArrayView<'a, f32, #p::ndarray::Ix2>, #p::Error> {
                let __ws = workspace;
                let x: #p::ndarray::ArrayView<'a, f32, #p::ndarray::Ix2> = #p::Input::into_view(x);
                let __fetched = self.__fetch_with(__ws, [true, false], #some(x), #none)?;
                let y = #p::fetched(__fetched.y, "y")?;
                ::core::result::Result::Ok(y)
            }
        };
        assert!(expanded.contains(&method.to_string()), "{expanded}");
        // The schedule checks the inputs it is given, then runs each node
        // the wanted outputs need, with its operands unwrapped.
        let schedule = quote! {
            let mut __need = [false; 6usize];
            __need[3usize] |= __want[0usize];
            __need[5usize] |= __want[1usize];
            let mut __dims = #p::DimBindings::new(["n", "m"]);
            if let #some(x) = x {
                __dims.check_input("x", &[#p::Dim::Symbol("n"), #p::Dim::Fixed(3usize)], x.shape())?;
            }
            if let #some(unused) = unused {
                __dims.check_input("unused", &[#p::Dim::Symbol("m")], unused.shape())?;
            }
            let __size_n: usize = __dims.size("n");
            let __size_m: usize = __dims.size("m");
            let w = self.w.view();
            let y = match (__need[3usize], x) {
                (true, #some(x)) => {
                    // `x` may have one row: the product has the packed copy of `w`.
                    #p::kernels::packed::dense_packed_into(x.view(), w.view(), &self.__packed_w,
                        #none, #p::scalar::Activation::Identity,
                        __ws.s0.out([__size_n, 2usize]));
                    let y = __ws.s0.get([__size_n, 2usize]);
                    #some(y)
                }
                _ => #none,
            };
        };
        assert!(expanded.contains(&schedule.to_string()), "{expanded}");
        let signature = quote! {
            fn y<'i>(&self, x: impl #p::Input<'i, f32, #p::ndarray::Ix2>)
                -> ::core::result::Result<#p::ndarray::Array<f32, #p::ndarray::Ix2>, #p::Error>
        };
        assert!(expanded.contains(&signature.to_string()), "{expanded}");
        let convenience = quote! {
            let x: #p::ndarray::ArrayView<'i, f32, #p::ndarray::Ix2> = #p::Input::into_view(x);
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

    #[test]
    fn docs_list_the_inputs_with_their_doc_comments_and_name_scalar_outputs_f32() {
        let expanded = expand(quote! {
            struct Scaled {
                /// The examples, one a row.
                ///   Any number of them.
                input x: [n, 3];
                input k: [];
                /// The weights.
                var w: [3];
                output total = sum(x * w) * k;
            }
        });
        for text in [
            "- `x`: [n, 3] of `f32`. The examples, one a row. Any number of them.",
            "- `k`: `f32`.",
            " Computes output `total`, a scalar returned as `f32`, and only the nodes it depends on.",
            " The current value of variable `w`, of shape [3]: The weights.",
            "total_with < 'a > (& 'a self , workspace : & 'a mut ScaledWorkspace ,",
        ] {
            assert!(expanded.contains(text), "{text} in {expanded}");
        }
        assert!(!expanded.contains("returns a view"), "{expanded}");
    }

    #[test]
    fn attributes_on_declarations_are_errors_and_a_derived_debug_is_dropped() {
        let error = crate::expand::expand_checked(quote! {
            #[derive(Clone, Debug)]
            struct Tagged {
                #[cfg(test)]
                input x: [2];
                output y = x * 2.0;
            }
        })
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default();
        for text in [
            "compile_error ! { \"[SF0109] `#[cfg]` is not supported on a graph declaration: \
             only doc comments (`///`) are, and they document the generated methods\" }",
            // The other derives are kept, and the fallback implements `Debug`.
            "# [derive (Clone)]",
            "impl :: core :: fmt :: Debug for Tagged",
        ] {
            assert!(error.contains(text), "{text} in {error}");
        }
        assert_eq!(error.matches("compile_error").count(), 1, "{error}");
        let expanded = expand(quote! {
            #[derive(Debug, Clone)]
            struct Kept {
                input x: [2];
                output y = x * 2.0;
            }
        });
        assert!(
            expanded.contains("use super :: * ; # [derive (Clone)] # [allow"),
            "{expanded}"
        );
    }

    #[test]
    fn an_input_named_workspace_moves_the_workspace_parameter_aside() {
        let expanded = expand(quote! {
            struct Named {
                input workspace: [3];
                output doubled = workspace * 2.0;
            }
        });
        for text in [
            "fn doubled_with < 'a > (& 'a self , __workspace : & 'a mut NamedWorkspace , \
             workspace : impl",
            "of shape [3], in `__workspace`, and returns a view",
        ] {
            assert!(expanded.contains(text), "{text} in {expanded}");
        }
    }
}
