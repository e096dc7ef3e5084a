// Names starting with `__` are the expansion's own: the error points at the name.
staticflow::graph! {
    struct Reserved {
        input x: [3];
        let __g1_mul = x * 2.0;
        output y = __g1_mul + 1.0;
    }
}

fn main() {}
