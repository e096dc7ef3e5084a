//! The expansion must mean the same whatever the user's scope holds: it names
//! everything by absolute path, so these shadowing items change nothing.

#![allow(dead_code, non_camel_case_types)]

struct Result;
struct Option;
struct Ok;
struct Err;
struct Vec;
struct Self_;
struct f32_;
mod ndarray {}
mod core {}
mod std {}
mod staticflow_private {}
fn unreachable() {}

staticflow::graph! {
    pub struct Shadowed {
        input x: [n, 2];
        var w: [2, 2];
        var s: [];
        const k = [1.0, -1.0];
        let h = matmul(x, w) * k + s;
        output y = h;
        output z = s * 2.0;
        s = s + 1.0;
    }
}

#[test]
fn expansion_ignores_shadowed_names() {
    let mut g = Shadowed::zeros();
    g.set_w(::ndarray::array![[1.0, 0.0], [0.0, 1.0]]).unwrap();
    g.update().unwrap();
    let x = ::ndarray::array![[2.0, 3.0]];
    // (x·I) · [1, -1] + 1 = [2 + 1, -3 + 1].
    assert_eq!(g.y(x.view()).unwrap(), ::ndarray::array![[3.0, -2.0]]);
    assert_eq!(g.z().unwrap(), 2.0);
}
