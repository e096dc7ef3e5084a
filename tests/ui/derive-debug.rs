// Every graph implements `Debug` (its name and its variables' shapes), so a
// derived one would clash: it is reported, and the other derives are kept.
staticflow::graph! {
    #[derive(Debug)]
    struct Dense {
        input x: [n, 3];
        var w: [3, 2];
        output y = matmul(x, w);
    }
}

fn main() {
    // The graph still prints, through the implementation the fallback keeps.
    let _ = format!("{:?}", Dense::zeros());
}
