// A variable's new value must keep its shape: the error underlines the new value.
staticflow::graph! {
    struct Step {
        input x: [2, 3];
        var total: [3];
        total = total + x;
        output y = total;
    }
}

fn main() {}
