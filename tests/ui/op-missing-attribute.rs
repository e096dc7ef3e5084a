// `pow` needs its exponent: the error underlines the call and shows the signature.
staticflow::graph! {
    struct Power {
        input x: [3];
        output y = pow(x);
    }
}

fn main() {}
