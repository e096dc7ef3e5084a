// A step's value is a call of `minimize` with the loss and an optimizer,
// not the optimizer alone.
staticflow::graph! {
    struct Fit {
        input x: [n, 3];
        var w: [3];
        output loss = mean(matmul(x, w));
        step train = sgd(lr = 0.1);
    }
}

fn main() {}
