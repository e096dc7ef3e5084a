// A binding cannot use itself: the error points at the `h` on the right.
staticflow::graph! {
    struct Loop {
        input x: [3];
        let h = h + x;
        output y = h;
    }
}

fn main() {}
