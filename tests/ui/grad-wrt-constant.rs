// Gradients are taken with respect to inputs and variables, whose values
// can change; a constant's gradient would be of no use.
staticflow::graph! {
    struct Scaled {
        input x: [3];
        const scale = [1.0, 2.0, 3.0];
        output loss = sum(x * scale);
        output g = grad(loss, scale);
    }
}

fn main() {}
