// Adam keeps its first moment of `w` in `train_m_w`: a name already taken.
staticflow::graph! {
    struct Fit {
        input x: [n, 3];
        input y: [n];
        var w: [3];
        output loss = mean(square(matmul(x, w) - y));
        output train_m_w = x * 2.0;
        step train = minimize(loss, adam(lr = 0.01));
    }
}

fn main() {}
