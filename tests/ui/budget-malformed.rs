// Every mistake in a budget is reported at once, each where it is: a unit
// that is not one, a key the attribute does not have, a weights budget on a
// graph without baked weights, and a budget that is not a literal.
staticflow::graph! {
    #[budget(workspace = "64 kb", stack = "1 KiB", weights = 4096)]
    struct Scale {
        input x: [3];
        output y = x * 2.0;
    }
}

staticflow::graph! {
    #[budget(workspace = SIZE)]
    struct Shift {
        input x: [3];
        output y = x + 1.0;
    }
}

fn main() {}
