// Ops and parameters under their TensorFlow, numpy and PyTorch names: each
// error names ours.
staticflow::graph! {
    struct Foreign {
        input x: [n, 3];
        var w: [3, 2];
        var v: [3];
        output a = reduce_sum(x, axis = 1);
        output b = reduce_mean(x);
        output c = matvec(x, v);
        output d = dense(x, w);
        output e = transpose(x, perm = [1, 0]);
        output f = softmax(x, dim = 0);
        output g = sum(x, keepdims = true);
    }
}

fn main() {}
