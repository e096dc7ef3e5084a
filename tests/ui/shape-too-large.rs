// No array can hold 2^32 · 2^32 f32 values: the error points at the product.
staticflow::graph! {
    struct Huge {
        input x: [4294967296, 1];
        input z: [1, 4294967296];
        output y = x * z;
    }
}

fn main() {}
