// A constant cannot be redefined by a later declaration: the error points at the second `scale`.
staticflow::graph! {
    struct Scale {
        const scale = 2.0;
        input x: [3];
        let scale = x * 3.0;
        output y = x * scale;
    }
}

fn main() {}
