//! Memory budgets, `#[budget(..)]`: the numbers a budget error states are
//! the real ones. Each graph here is a compile-fail case of `tests/ui/`
//! without its budget; the bytes its snapshot states must be what the
//! generated code says the graph takes.

use staticflow::graph;

/// The bytes a snapshot's budget error states the graph needs.
fn stated_need(case: &str, before: &str) -> usize {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/ui")
        .join(case);
    let text = std::fs::read_to_string(&path).unwrap();
    let at = text
        .find(before)
        .unwrap_or_else(|| panic!("no `{before}` in {case}"));
    let digits: String = text[at + before.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

// `tests/ui/budget-workspace-over.rs`.
graph! {
    struct Wide {
        input x: [8, 64];
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        output hidden = relu(matmul(x, w1) + b1);
        output logits = matmul(hidden, w2);
        output class = argmax(logits, axis = 1);
    }
}

// `tests/ui/budget-workspace-over-no-std.rs`.
graph! {
    #[no_std]
    #[weights("tests/reference/fixtures/sklearn/digits_mlp.safetensors")]
    struct BareDigits {
        input x: [4, 64];
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        let hidden = relu(matmul(x, w1) + b1);
        output logits = matmul(hidden, w2) + b2;
        output class = argmax(logits, axis = 1);
    }
}

// `tests/ui/budget-weights-over.rs`, on the std path, whose summary counts
// the baked weights (constants).
graph! {
    #[weights("tests/reference/fixtures/sklearn/digits_mlp.safetensors")]
    struct Digits {
        input x: [64];
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        output logits = matmul(relu(matmul(x, w1) + b1), w2) + b2;
    }
}

#[test]
fn the_workspace_error_states_workspace_bytes() {
    let stated = stated_need("budget-workspace-over.stderr", "`Wide` needs ");
    assert_eq!(stated, Wide::WORKSPACE_BYTES);
    // hidden [8, 32] f32, logits [8, 10] f32 and class [8] usize, one slot each.
    let usize_bytes = size_of::<usize>();
    assert_eq!(
        Wide::WORKSPACE_BYTES,
        8 * 32 * 4 + 8 * 10 * 4 + usize_bytes * 8
    );
}

#[test]
fn the_no_std_workspace_error_states_workspace_bytes() {
    let stated = stated_need("budget-workspace-over-no-std.stderr", "`Digits` needs ");
    assert_eq!(stated, BareDigits::WORKSPACE_BYTES);
    assert_eq!(stated, size_of::<BareDigitsWorkspace>());
    // Only `hidden`, [4, 32]: the outputs are computed into the arrays
    // returned.
    assert_eq!(stated, 4 * 32 * 4);
}

#[test]
fn the_weights_error_states_the_baked_bytes() {
    let stated = stated_need("budget-weights-over.stderr", "`Digits` take ");
    assert_eq!(stated, Digits::SUMMARY.constants.bytes);
    assert_eq!(stated, (64 * 32 + 32 + 32 * 10 + 10) * 4);
}

// The second graph of `tests/ui/budget-workspace-over-no-std.rs`.
graph! {
    #[no_std]
    struct Masked {
        input x: [3];
        let positive = gt(x, 0.0);
        let flipped = 0.0 - x;
        output y = select(positive, x, flipped) * 2.0;
    }
}

#[test]
fn the_no_std_workspace_error_counts_alignment_padding() {
    let stated = stated_need("budget-workspace-over-no-std.stderr", "`Masked` needs ");
    assert_eq!(stated, Masked::WORKSPACE_BYTES);
    // Two `[3]` f32 slots and a `[3]` bool slot, 27 bytes, padded to the
    // alignment of `f32`.
    assert_eq!(stated, 28);
}
