//! Training steps: `step fit = minimize(loss, adam(lr = 1e-3), vars = [w, b]);`
//!
//! `lower` records each step ([`Step`]); the differentiate phase turns it
//! into the training form of its forward pass ([`crate::train::form`]:
//! `dropout` and `batch_norm` as in training, and their updates), whose
//! loss becomes the step's, the gradients of that loss with respect to the
//! trained variables, the optimizer's state (new variables, zero at first,
//! saved and loaded with the others) and the step's updates, all ordinary
//! IR, so the step is optimized and memory-planned with the forward pass.
//! The step's method runs the forward pass once, applies every update, and
//! returns the loss.

pub mod form;

use proc_macro2::Ident;
use quote::format_ident;

use crate::diag::{Code, Diagnostics, SpanRange};
use crate::differentiate::Builder;
use crate::ir::{DType, Graph, NodeId, Op, Update};
use crate::ops::elementwise::{Binary, Unary};
use crate::ops::signature::{attr, attributes, bind, Attrs, Default, Kind, Param, Signature};
use crate::parse::Expr;
use crate::shape::Shape;
use form::Extra;

/// One `step` declaration, lowered.
pub struct Step {
    pub name: Ident,
    /// The loss; after the differentiate phase, as the step's forward pass
    /// computes it (its training form, see [`crate::train::form`]).
    pub loss: NodeId,
    /// The user's name for the loss, for the step's documentation (a
    /// training form of the loss is a copy without one).
    pub loss_name: Option<Ident>,
    /// The learning rate: a literal's constant node or a scalar input.
    pub lr: NodeId,
    /// Where the learning rate is written, for its errors.
    pub lr_span: SpanRange,
    /// The variables to train; `None`: every variable the loss depends on.
    pub vars: Option<Vec<NodeId>>,
    /// The outputs the step also returns (indices into `Graph::outputs`),
    /// computed as their own methods compute them, from the variables
    /// before the update.
    pub outputs: Vec<usize>,
    pub optimizer: Optimizer,
    /// Scale the gradients down to this global norm when above it.
    pub clip_norm: Option<f32>,
    pub span: SpanRange,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// `w -= lr·g`, or with momentum `v = μ·v + g; w -= lr·v` (Nesterov:
    /// `w -= lr·(g + μ·v)`), `PyTorch`'s conventions; `weight_decay` adds
    /// `λ·w` to the gradient.
    Sgd {
        momentum: f32,
        nesterov: bool,
        weight_decay: f32,
    },
    /// Adam (Kingma and Ba), with bias correction; `decoupled` is `AdamW`
    /// (`w -= lr·λ·w` beside the Adam step), else `weight_decay` adds `λ·w`
    /// to the gradient.
    Adam {
        beta1: f32,
        beta2: f32,
        epsilon: f32,
        weight_decay: f32,
        decoupled: bool,
    },
}

/// Training signatures build no op: their attributes are read directly.
fn no_op(_: &Attrs) -> Op {
    Op::Input
}

const VARS: Param = Param {
    name: "vars",
    kind: Kind::Tensors,
    default: Default::Absent,
};

const OUTPUTS: Param = Param {
    name: "outputs",
    kind: Kind::Tensors,
    default: Default::Absent,
};

static MINIMIZE: Signature = Signature::new(
    "minimize",
    &[
        Param::tensor("loss"),
        Param::tensor("optimizer"),
        VARS,
        OUTPUTS,
    ],
    no_op,
);

const CLIP: Param = attr("clip_norm", Kind::Float, Default::Absent);

static OPTIMIZERS: &[Signature] = &[
    Signature::new(
        "sgd",
        &[
            Param::tensor("lr"),
            attr("momentum", Kind::Float, Default::Float(0.0)),
            attr("nesterov", Kind::Bool, Default::Bool(false)),
            attr("weight_decay", Kind::Float, Default::Float(0.0)),
            CLIP,
        ],
        no_op,
    ),
    Signature::new(
        "adam",
        &[
            Param::tensor("lr"),
            attr("beta1", Kind::Float, Default::Float(0.9)),
            attr("beta2", Kind::Float, Default::Float(0.999)),
            attr("epsilon", Kind::Float, Default::Float(1e-8)),
            attr("weight_decay", Kind::Float, Default::Float(0.0)),
            CLIP,
        ],
        no_op,
    ),
    Signature::new(
        "adamw",
        &[
            Param::tensor("lr"),
            attr("beta1", Kind::Float, Default::Float(0.9)),
            attr("beta2", Kind::Float, Default::Float(0.999)),
            attr("epsilon", Kind::Float, Default::Float(1e-8)),
            attr("weight_decay", Kind::Float, Default::Float(0.01)),
            CLIP,
        ],
        no_op,
    ),
];

/// A step declaration's value, taken apart.
pub struct Parts<'a> {
    pub loss: &'a Expr,
    pub lr: &'a Expr,
    pub vars: Option<&'a [Expr]>,
    /// `outputs = [..]`: outputs the step also returns.
    pub outputs: &'a [Expr],
    pub optimizer: Optimizer,
    pub clip_norm: Option<f32>,
}

impl Parts<'_> {
    /// Every value expression of the step, for name resolution.
    pub fn expressions(&self) -> Vec<&Expr> {
        let mut all = vec![self.loss, self.lr];
        all.extend(self.vars.into_iter().flatten());
        all.extend(self.outputs);
        all
    }
}

/// The optimizers, as an error names them.
const CHOICES: &str = "the optimizers are `sgd(lr = ..)`, `adam(lr = ..)` and `adamw(lr = ..)`";

/// Reads `minimize(loss, optimizer(..), vars = [..])`.
pub fn parts(value: &Expr) -> Result<Parts<'_>, Vec<syn::Error>> {
    let usage =
        "a step is `minimize(loss, optimizer)`, as in `step fit = minimize(loss, sgd(lr = 0.1));`";
    let Expr::Call(name, args, span) = value else {
        return Err(vec![value.span().error(Code::StepForm, usage)]);
    };
    if name != "minimize" {
        return Err(vec![
            SpanRange::single(name.span()).error(Code::StepForm, usage)
        ]);
    }
    let bound = bind(&MINIMIZE, args, *span)?;
    let vars = match bound[2] {
        None => None,
        Some(Expr::Array(items, _)) if !items.is_empty() => Some(items.as_slice()),
        Some(other) => {
            return Err(vec![other.span().error(
                Code::StepVars,
                "`vars` must be a list of variables, such as `vars = [w, b]`",
            )])
        }
    };
    let outputs = match bound[3] {
        None => &[][..],
        Some(Expr::Array(items, _)) if !items.is_empty() => items.as_slice(),
        Some(other) => {
            return Err(vec![other.span().error(
                Code::StepOutputs,
                "`outputs` must be a list of the graph's outputs, such as `outputs = [logits]`",
            )])
        }
    };
    let optimizers = "expected an optimizer: `sgd(lr = ..)`, `adam(lr = ..)` or `adamw(lr = ..)`";
    let (Some(loss), Some(optimizer)) = (bound[0], bound[1]) else {
        return Err(vec![span.error(Code::StepForm, usage)]);
    };
    let Expr::Call(kind, optimizer_args, optimizer_span) = optimizer else {
        return Err(vec![optimizer.span().error(Code::StepForm, optimizers)]);
    };
    let Some(signature) = OPTIMIZERS.iter().find(|s| kind == s.name) else {
        let text = kind.to_string();
        let message = match crate::diag::closest(&text, OPTIMIZERS.iter().map(|s| s.name)) {
            Some(near) => format!("unknown optimizer `{text}`; did you mean `{near}`? {CHOICES}"),
            None => format!("unknown optimizer `{text}`; {CHOICES}"),
        };
        return Err(vec![
            SpanRange::single(kind.span()).error(Code::UnknownOptimizer, message)
        ]);
    };
    let optimizer_bound = bind(signature, optimizer_args, *optimizer_span)?;
    let a = attributes(signature, &optimizer_bound)?;
    let Some(lr) = optimizer_bound[0] else {
        return Err(vec![optimizer_span.error(Code::StepForm, optimizers)]);
    };
    let optimizer = match signature.name {
        "sgd" => Optimizer::Sgd {
            momentum: a.float("momentum").get(),
            nesterov: a.boolean("nesterov"),
            weight_decay: a.float("weight_decay").get(),
        },
        name => Optimizer::Adam {
            beta1: a.float("beta1").get(),
            beta2: a.float("beta2").get(),
            epsilon: a.float("epsilon").get(),
            weight_decay: a.float("weight_decay").get(),
            decoupled: name == "adamw",
        },
    };
    Ok(Parts {
        loss,
        lr,
        vars,
        outputs,
        optimizer,
        clip_norm: a.float_or_absent("clip_norm"),
    })
}

/// Builds every step of the graph: gradients, optimizer state and updates.
/// Runs in the differentiate phase, on a checked graph.
pub fn build(graph: &mut Graph, diagnostics: &mut Diagnostics) {
    let mut steps = std::mem::take(&mut graph.steps);
    for (index, step) in steps.iter_mut().enumerate() {
        build_step(graph, index, step, diagnostics);
    }
    graph.steps = steps;
}

/// Builds one step: its forward pass in training form (which becomes the
/// step's loss), then the gradients, the optimizer's state and updates.
fn build_step(graph: &mut Graph, index: usize, step: &mut Step, diagnostics: &mut Diagnostics) {
    let mut states: Vec<(String, NodeId)> = Vec::new();
    let Some(forward) = form::forward(graph, index, step, &mut states, diagnostics) else {
        return;
    };
    step.loss = forward.loss;
    let Some(vars) = trained(graph, step, diagnostics) else {
        return;
    };
    if !forward_updates_are_apart(graph, step, &vars, &forward.updates, diagnostics) {
        return;
    }
    let Some(gradients) = crate::differentiate::gradients(graph, step.loss, &vars, diagnostics)
    else {
        return;
    };
    let mut b = Builder::new(graph, step.span);
    let gradients = prepare(&mut b, step, &vars, gradients);
    let updates = match step.optimizer {
        Optimizer::Sgd {
            momentum, nesterov, ..
        } => sgd(
            &mut b,
            step,
            &vars,
            &gradients,
            momentum,
            nesterov,
            &mut states,
        ),
        Optimizer::Adam { .. } => adam(&mut b, step, &vars, &gradients, &mut states),
    };
    if b.failed {
        diagnostics.push(step.span.error(
            Code::Internal,
            "internal error: the optimizer built an ill-shaped node; please report this graph",
        ));
        return;
    }
    for (name, id) in &states {
        let taken = graph
            .nodes
            .iter()
            .enumerate()
            .any(|(i, node)| i != id.0 && node.name.as_ref().is_some_and(|n| n == name));
        if taken {
            diagnostics.push(step.span.error(Code::StateName, format!(
                "step `{}` keeps optimizer state named `{name}`, which the graph already uses; rename one of them",
                step.name
            )));
        }
    }
    let extra = forward.updates.iter().map(|e| (e.variable, e.value));
    for (variable, value) in extra.chain(updates) {
        graph.updates.push(Update {
            variable,
            value,
            step: Some(index),
        });
    }
}

/// Whether the updates of the step's training forms (running statistics)
/// leave alone every variable the optimizer trains, and each other: a
/// variable takes one new value per step. Reports each clash where the op
/// making the update is called.
fn forward_updates_are_apart(
    graph: &Graph,
    step: &Step,
    vars: &[NodeId],
    updates: &[Extra],
    diagnostics: &mut Diagnostics,
) -> bool {
    let mut ok = true;
    for (position, update) in updates.iter().enumerate() {
        let name = graph
            .node(update.variable)
            .name
            .as_ref()
            .map_or_else(String::new, ToString::to_string);
        let by = update.by;
        if vars.contains(&update.variable) {
            diagnostics.push(update.span.error(Code::UpdateConflict, format!(
                "step `{}` trains `{name}`, which this `{by}` also updates in the step's forward pass; \
                 leave `{name}` out of the step's `vars`",
                step.name
            )));
            ok = false;
        } else if let Some(first) = updates[..position]
            .iter()
            .find(|earlier| earlier.variable == update.variable)
        {
            diagnostics.push(update.span.error(Code::UpdateConflict, format!(
                "step `{}` would update `{name}` twice: this `{by}` and an earlier `{}` both update it in the step's forward pass; \
                 give each its own variables",
                step.name, first.by
            )));
            ok = false;
        }
    }
    ok
}

impl Step {
    /// The variables the step trains: those `vars` names, or else every
    /// `f32` variable its loss depends on (not the optimizer's state).
    pub fn trains(&self, graph: &Graph) -> Vec<NodeId> {
        if let Some(vars) = &self.vars {
            return vars.clone();
        }
        let depends = graph.reachable([self.loss]);
        graph
            .variables
            .iter()
            .copied()
            .filter(|&v| depends[v.0] && graph.node(v).dtype == DType::F32)
            .filter(|v| !graph.state.contains(v))
            .collect()
    }
}

/// The variables `step` trains, after checking its loss and learning rate.
fn trained(graph: &Graph, step: &Step, diagnostics: &mut Diagnostics) -> Option<Vec<NodeId>> {
    let loss_shape = graph.shape(step.loss);
    if !loss_shape.is_scalar() || graph.node(step.loss).dtype != DType::F32 {
        diagnostics.push(graph.node(step.loss).span.error(Code::LossShape, format!(
            "`minimize` takes a scalar `f32` loss, but it is {loss_shape}: reduce it first, as in `mean(..)`"
        )));
        return None;
    }
    let lr = graph.node(step.lr);
    let lr_name = lr
        .name
        .as_ref()
        .map_or_else(|| "it".to_string(), |name| format!("`{name}`"));
    if lr.dtype != DType::F32 {
        diagnostics.push(step.lr_span.error(
            Code::LearningRate,
            format!(
                "the learning rate is an `f32` scalar, but {lr_name} holds {}",
                lr.dtype.name()
            ),
        ));
        return None;
    }
    if !graph.shape(step.lr).is_scalar() {
        diagnostics.push(step.lr_span.error(
            Code::LearningRate,
            format!(
                "the learning rate is an `f32` scalar, but {lr_name} is {}",
                graph.shape(step.lr)
            ),
        ));
        return None;
    }
    let vars = step.trains(graph);
    if vars.is_empty() {
        diagnostics.push(step.span.error(
            Code::NothingToTrain,
            format!(
                "step `{}` trains nothing: its loss depends on no variable",
                step.name
            ),
        ));
        return None;
    }
    Some(vars)
}

/// The gradients with weight decay added (`λ·w`, except for `AdamW`, which
/// decays the weights apart) and clipped to the global norm.
fn prepare(
    b: &mut Builder<'_>,
    step: &Step,
    vars: &[NodeId],
    mut gradients: Vec<NodeId>,
) -> Vec<NodeId> {
    let decay = match step.optimizer {
        Optimizer::Sgd { weight_decay, .. }
        | Optimizer::Adam {
            weight_decay,
            decoupled: false,
            ..
        } => weight_decay,
        Optimizer::Adam {
            decoupled: true, ..
        } => 0.0,
    };
    if decay != 0.0 {
        let lambda = b.constant(decay);
        for (g, &w) in gradients.iter_mut().zip(vars) {
            let shrink = b.mul(lambda, w);
            *g = b.add(*g, shrink);
        }
    }
    let Some(max_norm) = step.clip_norm else {
        return gradients;
    };
    // Every gradient scaled by min(1, max_norm / ‖g‖), ‖g‖ over them all.
    let mut total: Option<NodeId> = None;
    for &g in &gradients {
        let squares = b.unary(Unary::Square, g);
        let rank = b.shape(squares).rank();
        let axes: Vec<i64> = (0..rank).map(|a| i64::try_from(a).unwrap_or(0)).collect();
        let sum = if axes.is_empty() {
            squares
        } else {
            b.sum(squares, axes, false)
        };
        total = Some(match total {
            Some(total) => b.add(total, sum),
            None => sum,
        });
    }
    if let Some(total) = total {
        let norm = b.unary(Unary::Sqrt, total);
        let limit = b.constant(max_norm);
        let ratio = b.div(limit, norm);
        let one = b.constant(1.0);
        let scale = b.binary(Binary::Minimum, one, ratio);
        for g in &mut gradients {
            *g = b.mul(*g, scale);
        }
    }
    gradients
}

/// SGD's updates: `w -= lr·g`, or through a velocity.
fn sgd(
    b: &mut Builder<'_>,
    step: &Step,
    vars: &[NodeId],
    gradients: &[NodeId],
    momentum: f32,
    nesterov: bool,
    states: &mut Vec<(String, NodeId)>,
) -> Vec<(NodeId, NodeId)> {
    let mut updates = Vec::new();
    for (&w, &g) in vars.iter().zip(gradients) {
        let direction = if momentum == 0.0 {
            g
        } else {
            let shape = b.shape(w);
            let velocity = new_state(b, states, &step.name, "velocity", Some(w), shape);
            let mu = b.constant(momentum);
            let kept = b.mul(mu, velocity);
            let next = b.add(kept, g);
            updates.push((velocity, next));
            if nesterov {
                let ahead = b.mul(mu, next);
                b.add(g, ahead)
            } else {
                next
            }
        };
        let stride = b.mul(step.lr, direction);
        updates.push((w, b.sub(w, stride)));
    }
    updates
}

/// Adam's (or `AdamW`'s) updates, with the moments and the bias
/// corrections `1 − βᵗ` as state: zero before the first step, then
/// `c ← β·c + (1 − β)`.
fn adam(
    b: &mut Builder<'_>,
    step: &Step,
    vars: &[NodeId],
    gradients: &[NodeId],
    states: &mut Vec<(String, NodeId)>,
) -> Vec<(NodeId, NodeId)> {
    let Optimizer::Adam {
        beta1,
        beta2,
        epsilon,
        weight_decay,
        decoupled,
    } = step.optimizer
    else {
        return Vec::new();
    };
    let mut updates = Vec::new();
    let scalar = Shape::default();
    let c1 = new_state(b, states, &step.name, "bias1", None, scalar.clone());
    let c2 = new_state(b, states, &step.name, "bias2", None, scalar);
    let (b1, b2) = (b.constant(beta1), b.constant(beta2));
    #[allow(clippy::cast_possible_truncation)] // β's complement, rounded once.
    let (one_minus_b1, one_minus_b2) = (
        b.constant((1.0 - f64::from(beta1)) as f32),
        b.constant((1.0 - f64::from(beta2)) as f32),
    );
    let c1_kept = b.mul(b1, c1);
    let c1_next = b.add(c1_kept, one_minus_b1);
    let c2_kept = b.mul(b2, c2);
    let c2_next = b.add(c2_kept, one_minus_b2);
    updates.push((c1, c1_next));
    updates.push((c2, c2_next));
    let eps = b.constant(epsilon);
    for (&w, &g) in vars.iter().zip(gradients) {
        let shape = b.shape(w);
        let m = new_state(b, states, &step.name, "m", Some(w), shape.clone());
        let v = new_state(b, states, &step.name, "v", Some(w), shape);
        let m_kept = b.mul(b1, m);
        let m_new_part = b.mul(one_minus_b1, g);
        let m_next = b.add(m_kept, m_new_part);
        let g2 = b.unary(Unary::Square, g);
        let v_kept = b.mul(b2, v);
        let v_new_part = b.mul(one_minus_b2, g2);
        let v_next = b.add(v_kept, v_new_part);
        updates.push((m, m_next));
        updates.push((v, v_next));
        let m_hat = b.div(m_next, c1_next);
        let v_hat = b.div(v_next, c2_next);
        let root = b.unary(Unary::Sqrt, v_hat);
        let denominator = b.add(root, eps);
        let mut direction = b.div(m_hat, denominator);
        if decoupled && weight_decay != 0.0 {
            let lambda = b.constant(weight_decay);
            let shrink = b.mul(lambda, w);
            direction = b.add(direction, shrink);
        }
        let stride = b.mul(step.lr, direction);
        updates.push((w, b.sub(w, stride)));
    }
    updates
}

/// A new state variable of the step named `step` for `of` (a trained
/// variable, or `None` for per-step state), zero before the first step:
/// `<step>_<what>_<variable>`, or `<step>_<what>`.
pub fn new_state(
    b: &mut Builder<'_>,
    states: &mut Vec<(String, NodeId)>,
    step: &Ident,
    what: &str,
    of: Option<NodeId>,
    shape: Shape,
) -> NodeId {
    let owner = of
        .filter(|&of| b.graph().node(of).op == Op::Variable)
        .and_then(|of| b.graph().node(of).name.as_ref())
        .map(ToString::to_string);
    let name = match owner {
        Some(owner) => format!("{step}_{what}_{owner}"),
        None => format!("{step}_{what}"),
    };
    let id = b.variable(format_ident!("{}", name, span = step.span()), shape);
    states.push((name, id));
    id
}
