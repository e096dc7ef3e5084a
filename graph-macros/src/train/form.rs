//! The training form of a step's forward pass. Some ops compute something
//! else while a training step runs than in the outputs: `dropout` drops
//! elements, and `batch_norm` normalises with the batch's statistics and
//! updates its running averages. Before a step is differentiated, its loss
//! gets a training copy of every node that depends on such an op: each op
//! with a training form ([`Family::training_form`]) is replaced by it, and
//! every node downstream of one is copied over the replaced operands. Nodes
//! that depend on none stay shared with the outputs, so the step and the
//! outputs compute them alike (and CSE and DCE see one graph).
//!
//! This driver knows no op: each family answers for its own, through
//! [`TrainingForm`], which gives the training forms what they need from the
//! step (the dropout counter, a place for updates and state).
//!
//! [`Family::training_form`]: crate::ops::Family::training_form

use proc_macro2::Ident;

use super::{new_state, Step};
use crate::diag::{Code, Diagnostics, SpanRange};
use crate::differentiate::Builder;
use crate::ir::{Graph, NodeId};
use crate::ops::elementwise::Compare;
use crate::shape::Shape;

/// A step's forward pass in its training form.
pub struct Forward {
    /// The loss as the training forward pass computes it (the step's own
    /// loss when no op on its way has a training form).
    pub loss: NodeId,
    /// The updates the training forms add to the step (running statistics,
    /// the dropout counter), applied with the optimizer's.
    pub updates: Vec<Extra>,
}

/// An update a training form adds to its step.
pub struct Extra {
    pub variable: NodeId,
    pub value: NodeId,
    /// The op whose training form made it, as called, and where.
    pub by: &'static str,
    pub span: SpanRange,
}

/// What the training forms of one step share.
struct Session {
    step_name: Ident,
    /// The step's place in `Graph::steps`.
    index: usize,
    /// The dropout counter's two words, once a dropout needs them.
    counter: Option<[NodeId; 2]>,
    /// Dropouts given a stream so far.
    dropouts: u64,
    updates: Vec<Extra>,
    /// The step's state variables so far, by name.
    states: Vec<(String, NodeId)>,
}

/// What a family's [`training_form`](crate::ops::Family::training_form) is
/// handed: a builder for the new nodes, with the span of the node being
/// replaced, and the step's shared parts.
pub struct TrainingForm<'s, 'g> {
    pub b: Builder<'g>,
    session: &'s mut Session,
    /// The op being replaced, as called, and where.
    word: &'static str,
    span: SpanRange,
}

/// The counter's low word counts up to this, then carries into the high
/// word: every whole number below it is exact in `f32`.
const LOW_WORD: f32 = 16_777_216.0;

impl TrainingForm<'_, '_> {
    /// The step counter, as two scalar variables holding whole numbers
    /// (`count = high·2²⁴ + low`, the steps taken before this one): state of
    /// the step named `<step>_dropout_count_low` and `_high`, zero at first,
    /// saved with the other variables. Made once per step, with the update
    /// that counts the step.
    pub fn counter(&mut self) -> [NodeId; 2] {
        if let Some(counter) = self.session.counter {
            return counter;
        }
        let b = &mut self.b;
        let name = self.session.step_name.clone();
        let scalar = Shape::default();
        let states = &mut self.session.states;
        let low = new_state(b, states, &name, "dropout_count_low", None, scalar.clone());
        let high = new_state(b, states, &name, "dropout_count_high", None, scalar);
        let (zero, one, limit) = (b.constant(0.0), b.constant(1.0), b.constant(LOW_WORD));
        let next = b.add(low, one);
        let wraps = b.compare(Compare::Ge, next, limit);
        let next_low = b.select(wraps, zero, next);
        let carry = b.select(wraps, one, zero);
        let next_high = b.add(high, carry);
        self.update(low, next_low);
        self.update(high, next_high);
        let counter = [low, high];
        self.session.counter = Some(counter);
        counter
    }

    /// A stream number of its own for one dropout of the step:
    /// `step index · 2³² + the dropout's place among the step's`, so that no
    /// two dropouts of a graph draw the same mask.
    pub fn stream(&mut self) -> u64 {
        let index = u64::try_from(self.session.index).unwrap_or(u64::MAX);
        let stream = (index << 32) | self.session.dropouts;
        self.session.dropouts += 1;
        stream
    }

    /// Adds an update to the step: `variable` takes `value` when the step
    /// applies its updates.
    pub fn update(&mut self, variable: NodeId, value: NodeId) {
        self.session.updates.push(Extra {
            variable,
            value,
            by: self.word,
            span: self.span,
        });
    }
}

/// The training form of `step`'s forward pass (the `index`-th step), or
/// `None` after reporting why an op of it has none. New state variables are
/// added to `states`.
pub fn forward(
    graph: &mut Graph,
    index: usize,
    step: &Step,
    states: &mut Vec<(String, NodeId)>,
    diagnostics: &mut Diagnostics,
) -> Option<Forward> {
    let count = graph.nodes.len();
    let needed = graph.reachable([step.loss]);
    // Each node's value in the training forward pass.
    let mut value: Vec<NodeId> = (0..count).map(NodeId).collect();
    let mut session = Session {
        step_name: step.name.clone(),
        index,
        counter: None,
        dropouts: 0,
        updates: Vec::new(),
        states: std::mem::take(states),
    };
    let mut ok = true;
    for id in (0..count).map(NodeId) {
        if !needed[id.0] {
            continue;
        }
        let node = graph.node(id);
        let op = node.op.clone();
        let Some(family) = op.family() else {
            continue;
        };
        let span = node.span;
        let word = node.called.unwrap_or_else(|| op.word());
        let operands: Vec<NodeId> = node.operands.iter().map(|o| value[o.0]).collect();
        let changed = operands != node.operands;
        let mut t = TrainingForm {
            b: Builder::new(graph, span),
            session: &mut session,
            word,
            span,
        };
        match family.training_form(id, &operands, &mut t) {
            Ok(Some(training)) => value[id.0] = training,
            // Downstream of a training form: the same op over its values.
            Ok(None) if changed => value[id.0] = t.b.push(op, operands),
            Ok(None) => {}
            Err(reason) => {
                diagnostics.push(span.error(
                    Code::TrainingForm,
                    format!(
                        "step `{}` runs `{word}` in its training form, but {reason}",
                        step.name
                    ),
                ));
                ok = false;
            }
        }
        if t.b.failed {
            diagnostics.push(span.error(Code::Internal, format!(
                "internal error: the training form of `{word}` built an ill-shaped node; please report this graph"
            )));
            ok = false;
        }
    }
    *states = session.states;
    ok.then(|| Forward {
        loss: value[step.loss.0],
        updates: session.updates,
    })
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use crate::ir::{Graph, Op};
    use crate::ops::elementwise::{Elementwise, Unary};
    use crate::ops::nn::Nn;

    fn graph(tokens: proc_macro2::TokenStream) -> Graph {
        crate::expand::build_graph(tokens).unwrap_or_else(|e| panic!("test graph is valid: {e}"))
    }

    fn count(graph: &Graph, keep: impl Fn(&Op) -> bool) -> usize {
        graph.nodes.iter().filter(|node| keep(&node.op)).count()
    }

    #[test]
    fn only_what_depends_on_a_training_form_is_copied() {
        let g = graph(quote! {
            struct G {
                input x: [n, 3];
                var w: [3, 3];
                var v: [3];
                let h = relu(matmul(x, w));
                output loss = sum(matmul(dropout(h, rate = 0.5, seed = 1), v));
                step fit = minimize(loss, sgd(lr = 0.1));
            }
        });
        g.validate().unwrap();
        // The step has a loss of its own, through the dropout's training
        // form (forward, and the same mask in the backward pass).
        assert_ne!(g.steps[0].loss, g.outputs[0].node);
        let masks = count(&g, |op| {
            matches!(op, Op::Nn(Nn::DropoutTrain { stream: 0, .. }))
        });
        assert_eq!(masks, 2);
        // What comes before the dropout is shared: one `relu`.
        let relus = count(&g, |op| {
            *op == Op::Elementwise(Elementwise::Unary(Unary::Relu))
        });
        assert_eq!(relus, 1);
        // The counter and its update.
        let names: Vec<String> = g
            .state
            .iter()
            .map(|&id| g.node(id).name.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(names, ["fit_dropout_count_low", "fit_dropout_count_high"]);
        assert_eq!(
            g.updates
                .iter()
                .filter(|u| g.state.contains(&u.variable))
                .count(),
            2
        );
    }

    #[test]
    fn a_step_without_training_forms_keeps_its_loss() {
        let g = graph(quote! {
            struct G {
                input x: [n, 3];
                var w: [3];
                output loss = sum(relu(matmul(x, w)));
                output shown = dropout(x, rate = 0.5, seed = 1);
                step fit = minimize(loss, sgd(lr = 0.1));
            }
        });
        assert_eq!(g.steps[0].loss, g.outputs[0].node);
        assert!(g.state.is_empty());
        assert_eq!(
            count(&g, |op| matches!(op, Op::Nn(Nn::DropoutTrain { .. }))),
            0
        );
    }
}
