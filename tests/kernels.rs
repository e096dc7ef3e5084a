//! The macro's kernel table against the runtime: `__kernel_table!` imports
//! every form of every kernel each op family may emit, on the `std` and the
//! `#[no_std]` path, so a kernel the runtime lacks fails this test's build
//! (naming the path) instead of a user's. It also matches exhaustively over
//! the runtime's `scalar::Activation`, so the runtime cannot gain a fused
//! activation the macro does not know of.

staticflow::__kernel_table!();

#[test]
fn the_table_covers_both_paths_of_every_family() {
    let has = |path: &str| KERNEL_PATHS.iter().any(|p| p.ends_with(path));
    // One kernel per family and path, as the emitters name them.
    for path in [
        "kernels::unary::relu_into",
        "kernels::unary::relu_inplace",
        "kernels::elementwise::neg_into",
        "kernels::fused::map5_into",
        "kernels::fused::map5_inplace",
        "kernels::reduce::argmax_into",
        "kernels::softmax::logsumexp_into",
        "kernels::loss::mse",
        "kernels::loss::softmax_cross_entropy_indices_into",
        "kernels::linalg::dot",
        "kernels::batched::batch_matmul_shared_into",
        "kernels::packed::dense_packed_into",
        "kernels::movement::squeeze_into",
        "kernels::conv::conv2d_into",
        "kernels::conv::conv2d_fused_into",
        "kernels::nn::gather_into",
        "kernels::constant::view",
        "flat::map",
        "flat::reduce",
        "flat::softmax",
        "flat::dense",
        "flat::concat",
        "flat::pad",
        "kernels::movement::pad_into",
        "scalar::erf_slope",
        "scalar::gelu_exact",
        "scalar::hard_sigmoid",
        "kernels::unary::elu_inplace",
        "scalar::maximum",
    ] {
        assert!(has(path), "{path} is not in the kernel table");
    }
    let mut sorted = KERNEL_PATHS.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), KERNEL_PATHS.len(), "a kernel is listed twice");
}

#[test]
fn every_runtime_activation_is_known() {
    use staticflow::scalar::Activation;
    // `known_activation` is an exhaustive match: it compiles only if the
    // macro lists every activation of the runtime.
    for activation in [
        Activation::Identity,
        Activation::Relu,
        Activation::LeakyRelu(0.1),
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::GeluTanh,
        Activation::GeluExact,
        Activation::Softplus,
        Activation::Clip(0.0, 6.0),
        Activation::Silu,
        Activation::Elu(1.0),
        Activation::HardSigmoid(0.2, 0.5),
    ] {
        known_activation(activation);
    }
}
