// A longer cycle: every member is listed in order.
staticflow::graph! {
    struct Loop {
        input x: [3];
        output y = c;
        let a = x + c;
        let b = a * 2.0;
        let c = b - 1.0;
    }
}

fn main() {}
