//! Typed references to the runtime's kernels. Each family lists the kernels
//! its ops emit as [`Kernel`] constants; emitters build paths only from
//! them, and `staticflow::__kernel_table!` (tested in `tests/kernels.rs`)
//! imports every path of every table, so a kernel missing from
//! `graph-runtime` fails that test rather than a user's build.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

/// Where in `graph-runtime` a kernel lives.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Module {
    /// `kernels::<module>`: ndarray kernels, for `std` graphs.
    Kernels(&'static str),
    /// `flat`: slice kernels, for `#[no_std]` graphs.
    Flat,
    /// `scalar`: per-element functions, shared by both paths.
    Scalar,
}

/// The forms a `std` kernel comes in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Form {
    /// `name(args..)`, returning a value (an array, or a plain scalar).
    Value,
    /// `name_into(args.., out)`, writing into a workspace view.
    Into,
    /// `name_inplace(target, args..)`, overwriting its first operand.
    InPlace,
    /// `name_slope(x, args..)`: a per-element function's derivative.
    Slope,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Kernel {
    pub module: Module,
    pub name: &'static str,
    /// The forms the emitters use; each exists in the runtime.
    pub forms: &'static [Form],
}

impl Kernel {
    /// An ndarray kernel of `kernels::<module>`.
    pub const fn std(module: &'static str, name: &'static str, forms: &'static [Form]) -> Self {
        Kernel {
            module: Module::Kernels(module),
            name,
            forms,
        }
    }

    /// A slice kernel of `flat`.
    pub const fn flat(name: &'static str) -> Self {
        Kernel {
            module: Module::Flat,
            name,
            forms: &[Form::Value],
        }
    }

    /// A per-element function of `scalar`.
    pub const fn scalar(name: &'static str) -> Self {
        Kernel {
            module: Module::Scalar,
            name,
            forms: &[Form::Value],
        }
    }

    /// The function's name in one form.
    pub fn ident(&self, form: Form) -> Ident {
        let name = match form {
            Form::Value => self.name.to_string(),
            Form::Into => format!("{}_into", self.name),
            Form::InPlace => format!("{}_inplace", self.name),
            Form::Slope => format!("{}_slope", self.name),
        };
        Ident::new(&name, Span::call_site())
    }

    /// The absolute path of the function in one form.
    pub fn path(&self, form: Form) -> TokenStream {
        let p = crate::emit::private();
        let ident = self.ident(form);
        match self.module {
            Module::Kernels(module) => {
                let module = Ident::new(module, Span::call_site());
                quote! { #p::kernels::#module::#ident }
            }
            Module::Flat => quote! { #p::flat::#ident },
            Module::Scalar => quote! { #p::scalar::#ident },
        }
    }

    /// `path(args..)` in the value form.
    pub fn call(&self, args: &[TokenStream]) -> TokenStream {
        let path = self.path(Form::Value);
        quote! { #path(#(#args),*) }
    }
}

/// A `std` kernel call: `kernels::<module>::<kernel>[_into](<args>)`.
pub struct Call {
    pub kernel: Kernel,
    pub args: Vec<TokenStream>,
    /// The kernel checks data (indices) and returns a `Result`.
    pub fallible: bool,
}

impl Call {
    pub fn new(kernel: Kernel, args: Vec<TokenStream>) -> Self {
        Call {
            kernel,
            args,
            fallible: false,
        }
    }

    pub fn fallible(self) -> Self {
        Call {
            fallible: true,
            ..self
        }
    }
}

/// A view of a constant's literal values (leaves are no family's).
pub const CONSTANT_VIEW: Kernel = Kernel::std("constant", "view", &[Form::Value]);

/// Every kernel of every family, in table order.
pub fn all() -> Vec<Kernel> {
    let mut all = vec![CONSTANT_VIEW];
    all.extend(super::elementwise::kernels());
    all.extend_from_slice(super::reduce::KERNELS);
    all.extend_from_slice(super::loss::KERNELS);
    all.extend_from_slice(super::linalg::KERNELS);
    all.extend_from_slice(super::movement::KERNELS);
    all.extend_from_slice(super::nn::KERNELS);
    // Families share some kernels (`flat::map`): list each once.
    let mut unique: Vec<Kernel> = Vec::with_capacity(all.len());
    for kernel in all {
        if !unique.contains(&kernel) {
            unique.push(kernel);
        }
    }
    unique
}

/// The expansion of `__kernel_table!()`: an import of every form of every
/// kernel (a missing one is a compile error naming it), an exhaustive match
/// over the runtime's activations (one it has and the macro does not know
/// is a compile error too), and `KERNEL_PATHS`, the paths as text.
pub fn table() -> TokenStream {
    let mut imports = Vec::new();
    let mut paths = Vec::new();
    for kernel in all() {
        for &form in kernel.forms {
            let path = kernel.path(form);
            paths.push(path.to_string().replace(char::is_whitespace, ""));
            imports.push(quote! { #[allow(unused_imports)] use #path as _; });
        }
    }
    let activations = super::elementwise::activation_match();
    quote! {
        const _: () = { #(#imports)* };
        #activations
        /// Every kernel path the macro may emit.
        pub const KERNEL_PATHS: &[&str] = &[#(#paths),*];
    }
}
