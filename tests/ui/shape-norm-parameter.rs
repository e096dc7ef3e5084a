// layer_norm needs one gamma per feature: [64], not [32].
staticflow::graph! {
    struct Normalise {
        input x: [n, 64];
        var gamma: [32];
        var beta: [64];
        output y = layer_norm(x, gamma, beta);
    }
}

fn main() {}
