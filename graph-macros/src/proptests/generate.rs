//! Random valid graphs, as source text, each with the shape and element type
//! that the language reference (`docs/LANGUAGE.md`) gives every output.
//!
//! The generator keeps its own small model of shapes, written from the
//! reference and not from `shape.rs`, so the properties compare two
//! independent readings of the rules. Each op is generated only with
//! operands its rule accepts: an operand of a required shape is taken from
//! the values declared so far or declared on demand (a fresh input, variable
//! or constant). Declarations are shuffled at the end, since the language
//! sorts them by their dependencies.

use super::choices::Choices;

mod model;
mod ops;

use model::{broadcast, Dim, Precedence, Shape, Type, Value};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Input,
    Var,
    Const,
    Let,
    Output,
    Update,
}

pub struct Declaration {
    pub kind: Kind,
    pub name: String,
    pub text: String,
    pub shape: Shape,
    pub ty: Type,
}

/// A generated graph: its source, and its declarations in source order.
pub struct Generated {
    pub source: String,
    pub declarations: Vec<Declaration>,
}

impl Generated {
    /// The names of the declarations of one kind, in source order.
    pub fn names(&self, kind: Kind) -> Vec<&str> {
        self.declarations
            .iter()
            .filter(|decl| decl.kind == kind)
            .map(|decl| decl.name.as_str())
            .collect()
    }

    /// Every output as (name, shape, element type), in source order.
    pub fn outputs(&self) -> Vec<(String, String, &'static str)> {
        self.declarations
            .iter()
            .filter(|decl| decl.kind == Kind::Output)
            .map(|decl| (decl.name.clone(), decl.shape.to_string(), decl.ty.name()))
            .collect()
    }
}

/// Generates one valid graph from `choices`.
pub fn graph(choices: &mut Choices) -> Generated {
    Generator {
        choices,
        declarations: Vec::new(),
        counter: 0,
        budget: 0,
    }
    .build()
}

const SYMBOLS: [&str; 2] = ["n", "m"];

/// Number literals as a user may write them: value, text.
const NUMBERS: [(f32, &str); 11] = [
    (2.0, "2.0"),
    (3.0, "3"),
    (0.5, "0.5"),
    (-1.5, "-1.5"),
    (1e-3, "1e-3"),
    (2.5, "2.5f32"),
    (0.0, "0.0"),
    (-0.0, "-0.0"),
    (100.0, "100"),
    (1000.0, "1_000.0"),
    (0.25, "0.25"),
];

struct Generator<'c> {
    choices: &'c mut Choices,
    /// Every declaration so far, each after those it uses.
    declarations: Vec<Declaration>,
    counter: usize,
    /// Ops the current declaration's value may still add.
    budget: usize,
}

impl Generator<'_> {
    fn build(mut self) -> Generated {
        for _ in 0..self.choices.between(1, 3) {
            let shape = self.shape(3, true);
            let ty = if shape.rank() <= 2 && self.choices.chance(15) {
                Type::Usize
            } else {
                Type::F32
            };
            self.input(shape, ty);
        }
        for _ in 0..self.choices.below(3) {
            let shape = self.shape(3, false);
            self.variable(&shape);
        }
        for _ in 0..self.choices.below(3) {
            let sizes: Vec<usize> = (0..self.choices.below(3))
                .map(|_| self.choices.between(1, 3))
                .collect();
            self.constant(&sizes);
        }
        let values = self.choices.between(1, 8);
        for index in 0..values {
            self.budget = self.choices.between(1, 6);
            let value = self.top_level();
            let kind = if index + 1 == values || self.choices.chance(40) {
                Kind::Output
            } else {
                Kind::Let
            };
            self.bind(kind, &value);
        }
        self.updates();
        self.finish()
    }

    fn finish(mut self) -> Generated {
        let mut declarations = std::mem::take(&mut self.declarations);
        self.choices.shuffle(&mut declarations);
        let docs = if self.choices.chance(30) {
            "/// A generated graph.\n#[doc = \"More docs.\"]\n"
        } else {
            ""
        };
        let vis = self.choices.pick(&["", "pub ", "pub(crate) "]);
        let name = self.choices.pick(&["G", "Generated", "Net"]);
        let mut source = format!("{docs}{vis}struct {name} {{\n");
        for declaration in &declarations {
            source.push_str("    ");
            source.push_str(&declaration.text);
            source.push('\n');
        }
        source.push_str("}\n");
        Generated {
            source,
            declarations,
        }
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}{}", self.counter)
    }

    fn declare(&mut self, kind: Kind, name: String, text: String, shape: Shape, ty: Type) {
        self.declarations.push(Declaration {
            kind,
            name,
            text,
            shape,
            ty,
        });
    }

    fn dim(&mut self, symbolic: bool) -> Dim {
        let dim = match self.choices.below(10) {
            0..=3 => Dim::Fixed(1 + self.choices.below(4)),
            4 => Dim::Symbol(SYMBOLS[0]),
            5 => Dim::Symbol(SYMBOLS[1]),
            6 => Dim::Fixed(0),
            7 => Dim::Fixed(self.choices.between(5, 8)),
            _ => Dim::Fixed(1),
        };
        match dim {
            Dim::Symbol(_) if !symbolic => Dim::Fixed(2),
            dim => dim,
        }
    }

    fn shape(&mut self, max_rank: usize, symbolic: bool) -> Shape {
        let rank = self.choices.below(max_rank + 1);
        Shape((0..rank).map(|_| self.dim(symbolic)).collect())
    }

    fn input(&mut self, shape: Shape, ty: Type) -> Value {
        let name = self.fresh("x");
        let suffix = match ty {
            Type::Usize => " as usize",
            _ if self.choices.chance(10) => " as f32",
            _ => "",
        };
        let text = format!("input {name}: {shape}{suffix};");
        self.declare(Kind::Input, name.clone(), text, shape.clone(), ty);
        Value::atom(name, shape, ty)
    }

    /// A variable of `shape`, whose symbols (variables have none) become 2.
    fn variable(&mut self, shape: &Shape) -> Value {
        let shape = Shape(
            shape
                .0
                .iter()
                .map(|dim| match dim {
                    Dim::Symbol(_) => Dim::Fixed(2),
                    fixed @ Dim::Fixed(_) => fixed.clone(),
                })
                .collect(),
        );
        let name = self.fresh("w");
        let text = format!("var {name}: {shape};");
        self.declare(Kind::Var, name.clone(), text, shape.clone(), Type::F32);
        Value::atom(name, shape, Type::F32)
    }

    /// A constant of the given sizes, none of them 0: an array literal has
    /// at least one element.
    fn constant(&mut self, sizes: &[usize]) -> Value {
        let shape = Shape(sizes.iter().map(|&size| Dim::Fixed(size)).collect());
        let name = self.fresh("c");
        let literal = self.literal(sizes);
        let text = if self.choices.chance(40) {
            format!("const {name}: {shape} = {literal};")
        } else {
            format!("const {name} = {literal};")
        };
        self.declare(Kind::Const, name.clone(), text, shape.clone(), Type::F32);
        Value::atom(name, shape, Type::F32)
    }

    /// A number or nested array literal of the given sizes.
    fn literal(&mut self, sizes: &[usize]) -> String {
        match sizes.split_first() {
            None => self.choices.pick(&NUMBERS).1.to_string(),
            Some((&size, rest)) => {
                let items: Vec<String> = (0..size).map(|_| self.literal(rest)).collect();
                format!("[{}]", items.join(", "))
            }
        }
    }

    fn number(&mut self) -> Value {
        let (value, text) = *self.choices.pick(&NUMBERS);
        Value {
            text: text.to_string(),
            shape: Shape::default(),
            ty: Type::F32,
            precedence: if value.is_sign_negative() {
                Precedence::Prefix
            } else {
                Precedence::Atom
            },
        }
    }

    /// A declared value of type `ty` whose shape passes `accept`, if any.
    fn existing(&mut self, ty: Type, accept: impl Fn(&Shape) -> bool) -> Option<Value> {
        let candidates: Vec<Value> = self
            .declarations
            .iter()
            .filter(|decl| decl.kind != Kind::Update && decl.ty == ty && accept(&decl.shape))
            .map(|decl| Value::atom(decl.name.clone(), decl.shape.clone(), ty))
            .collect();
        if candidates.is_empty() {
            None
        } else {
            Some(self.choices.pick(&candidates).clone())
        }
    }

    /// An `f32` value with no ops: a name, a number or an array literal.
    fn leaf(&mut self) -> Value {
        match self.choices.below(6) {
            1 => self.number(),
            2 => {
                let sizes: Vec<usize> = (0..self.choices.between(1, 2))
                    .map(|_| self.choices.between(1, 3))
                    .collect();
                let text = self.literal(&sizes);
                let shape = Shape(sizes.into_iter().map(Dim::Fixed).collect());
                Value::atom(text, shape, Type::F32)
            }
            3 => {
                let shape = self.shape(3, true);
                self.input(shape, Type::F32)
            }
            _ => {
                if let Some(value) = self.existing(Type::F32, |_| true) {
                    value
                } else {
                    let shape = self.shape(3, true);
                    self.input(shape, Type::F32)
                }
            }
        }
    }

    /// An `f32` value of exactly `shape`.
    fn operand(&mut self, shape: &Shape) -> Value {
        let fixed = shape.fixed();
        let small_literal = fixed
            .as_ref()
            .filter(|sizes| sizes.iter().all(|&s| s > 0) && sizes.iter().product::<usize>() <= 12);
        match self.choices.below(6) {
            1 if fixed.is_some() => self.variable(shape),
            2 if small_literal.is_some() => {
                let sizes = small_literal.cloned().unwrap_or_default();
                let text = self.literal(&sizes);
                if sizes.is_empty() {
                    self.number()
                } else {
                    Value::atom(text, shape.clone(), Type::F32)
                }
            }
            3 if small_literal.is_some() => {
                let sizes = small_literal.cloned().unwrap_or_default();
                self.constant(&sizes)
            }
            4 if self.budget > 0 => {
                self.budget -= 1;
                let inner = self.operand(shape);
                self.unary(&inner)
            }
            5 => self.input(shape.clone(), Type::F32),
            _ => match self.existing(Type::F32, |s| s == shape) {
                Some(value) => value,
                None => self.input(shape.clone(), Type::F32),
            },
        }
    }

    /// An `f32` value that broadcasts into `shape`: the result of a binary
    /// op between the two has exactly `shape`.
    fn broadcasting_into(&mut self, shape: &Shape) -> Value {
        if self.choices.chance(25) {
            return self.number();
        }
        let keep = self.choices.below(shape.rank() + 1);
        let suffix: Vec<Dim> = shape.0[shape.rank() - keep..]
            .iter()
            .map(|dim| {
                if self.choices.chance(30) {
                    Dim::Fixed(1)
                } else {
                    dim.clone()
                }
            })
            .collect();
        self.operand(&Shape(suffix))
    }

    /// A shape that broadcasts with `shape` and may stretch it: its 1s may
    /// face other sizes, and it may add leading axes.
    fn stretching(&mut self, shape: &Shape) -> Shape {
        let mut dims: Vec<Dim> = shape
            .0
            .iter()
            .map(|dim| match dim {
                Dim::Fixed(1) if self.choices.chance(60) => self.dim(true),
                _ if self.choices.chance(20) => Dim::Fixed(1),
                other => other.clone(),
            })
            .collect();
        for _ in 0..self.choices.below(2) {
            dims.insert(0, self.dim(true));
        }
        Shape(dims)
    }

    /// The value of a `let` or `output`: usually `f32`, sometimes a `bool`
    /// mask or `usize` indices, sometimes just another name.
    fn top_level(&mut self) -> Value {
        match self.choices.below(20) {
            1 => self.comparison(),
            2 => self.argmax(),
            3 => self.leaf(),
            _ => self.expression(),
        }
    }

    /// Declares `value` under a fresh name, maybe with its shape written.
    fn bind(&mut self, kind: Kind, value: &Value) {
        let (keyword, prefix) = if kind == Kind::Output {
            ("output", "y")
        } else {
            ("let", "h")
        };
        let name = self.fresh(prefix);
        let annotation = if self.choices.chance(30) {
            format!(": {}", value.shape)
        } else {
            String::new()
        };
        let docs = if kind == Kind::Output && self.choices.chance(20) {
            format!("/// The value `{name}`.\n    ")
        } else {
            String::new()
        };
        let text = format!("{docs}{keyword} {name}{annotation} = {};", value.text);
        self.declare(kind, name, text, value.shape.clone(), value.ty);
    }

    /// Updates of some variables, each to a value of the variable's shape.
    fn updates(&mut self) {
        let variables: Vec<(String, Shape)> = self
            .declarations
            .iter()
            .filter(|decl| decl.kind == Kind::Var)
            .map(|decl| (decl.name.clone(), decl.shape.clone()))
            .collect();
        for (name, shape) in &variables {
            if !self.choices.chance(40) {
                continue;
            }
            self.budget = self.choices.between(0, 3);
            let current = Value::atom(name.clone(), shape.clone(), Type::F32);
            let value = match self.choices.below(3) {
                0 => {
                    let other = self.broadcasting_into(shape);
                    self.arithmetic(&current, &other)
                }
                1 => self.unary(&current),
                _ => self.operand(shape),
            };
            let text = format!("{name} = {};", value.text);
            self.declare(Kind::Update, name.clone(), text, shape.clone(), Type::F32);
        }
    }
}
