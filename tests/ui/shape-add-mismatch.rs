// [2, 3] and [3, 2] do not broadcast: the error underlines `x + y` and shows both shapes.
staticflow::graph! {
    struct Sum {
        input x: [2, 3];
        input y: [3, 2];
        output z = x + y;
    }
}

fn main() {}
