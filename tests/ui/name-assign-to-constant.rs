// Constants are immutable: the error points at the assigned name.
staticflow::graph! {
    struct Scale {
        const scale = 2.0;
        input x: [3];
        scale = scale + 1.0;
        output y = x * scale;
    }
}

fn main() {}
