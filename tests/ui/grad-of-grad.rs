// A gradient of a gradient (a second derivative) is not available: `grad`
// has no gradient rule of its own.
staticflow::graph! {
    struct Curvature {
        input x: [3];
        let y = sum(x * x);
        let g = grad(y, x);
        output h = grad(sum(g * g), x);
    }
}

fn main() {}
