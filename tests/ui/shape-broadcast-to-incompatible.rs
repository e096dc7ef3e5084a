// [2] cannot stretch to [3, 4].
staticflow::graph! {
    struct Widen {
        input x: [2];
        output y = broadcast_to(x, [3, 4]);
    }
}

fn main() {}
