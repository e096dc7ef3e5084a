//! Trains two handwritten-digit classifiers from scratch with `step`s: an
//! MLP 64-128-10 and a small CNN, each written in `graph!`, where the
//! training step (the forward pass, the backward pass derived when this file
//! compiles, and Adam's update) is one generated method, `train_with`.
//!
//! The data is `tests/data/digits.csv` (scikit-learn's copy of the UCI
//! digits, see `tests/data/README.md`), compiled into the binary: 8x8 images,
//! pixels scaled from 0..16 to [0, 1], the first 1437 rows for training and
//! the last 360 for testing. Every epoch visits the training images in a new
//! order, in minibatches of 32, and moves some of them by a pixel (the test
//! images were written by other people: the shifts teach the models that a
//! digit slightly off centre is the same digit). The learning rate is an
//! input of the step, decayed from 0.003 to 0 along a cosine. The initial
//! weights, the shuffles and the shifts come from a fixed seed, so every run
//! on one machine trains the same models.
//!
//! For each model, a progress bar shows the running loss while it trains;
//! then the test accuracy is printed, the model is saved to a safetensors
//! file in the system's temporary directory, loaded back with
//! `from_safetensors`, and the loaded model is checked to compute exactly
//! what the trained one does. Last, the training loss and the test accuracy
//! of every epoch are drawn as an SVG chart.
//!
//! ```sh
//! cargo run --release --example train_digits                 # both models, a few seconds
//! cargo run --release --example train_digits -- --model mlp  # the MLP alone, under a second
//! cargo run --release --example train_digits -- --epochs 1   # a quick check, as in CI
//! cargo run --release --example train_digits -- --chart docs/images/train_digits.svg
//! ```
//!
//! Options:
//!
//! - `--model mlp|cnn|both`: the models to train (default both);
//! - `--epochs N`: the epochs each model trains (default 100 for the MLP,
//!   30 for the CNN);
//! - `--chart PATH`: where the chart goes (default `target/train_digits.svg`;
//!   the README's image is the default run's chart, written to
//!   `docs/images/train_digits.svg` by the last command above).

use std::error::Error;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::*;
use staticflow::graph;
use staticflow::ndarray::{
    s, Array, Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, Dimension, ShapeBuilder,
};

graph! {
    /// 64 pixels → 128 relu units → 10 class scores, and a training step:
    /// Adam on the mean softmax cross-entropy of the class labels, at the
    /// learning rate given to each step.
    pub struct DigitsMlp {
        input x: [n, 64];
        input labels: [n] as usize;
        input lr: [];
        var w1: [64, 128];
        var b1: [128];
        var w2: [128, 10];
        var b2: [10];
        let hidden = relu(matmul(x, w1) + b1);
        output logits = matmul(hidden, w2) + b2;
        output class = argmax(logits);
        output loss = mean(softmax_cross_entropy(logits, labels));
        step train = minimize(loss, adam(lr = lr));
    }
}

graph! {
    /// The 8x8 image through two 3x3 convolutions (16, then 32 channels),
    /// each followed by relu and a 2x2 max pool, to 2x2x32 features and 10
    /// class scores; trained as the MLP.
    pub struct DigitsCnn {
        input x: [n, 64];
        input labels: [n] as usize;
        input lr: [];
        var k1: [3, 3, 1, 16];
        var c1: [16];
        var k2: [3, 3, 16, 32];
        var c2: [32];
        var w: [128, 10];
        var b: [10];
        let images = reshape(x, [n, 8, 8, 1]);
        let a1 = relu(conv2d(images, k1, padding = same) + c1);
        let p1: [n, 4, 4, 16] = max_pool2d(a1, window = 2);
        let a2 = relu(conv2d(p1, k2, padding = same) + c2);
        let p2: [n, 2, 2, 32] = max_pool2d(a2, window = 2);
        let features = reshape(p2, [n, 128]);
        output logits = matmul(features, w) + b;
        output class = argmax(logits);
        output loss = mean(softmax_cross_entropy(logits, labels));
        step train = minimize(loss, adam(lr = lr));
    }
}

/// The data set, compiled in: a header `label,p0,...,p63`, then one image a row.
const DIGITS_CSV: &str = include_str!("../../tests/data/digits.csv");
/// The first `TRAIN_ROWS` rows train the models; the rest test them.
const TRAIN_ROWS: usize = 1437;
const PIXELS: usize = 64;
const CLASSES: usize = 10;
const BATCH: usize = 32;
/// The learning rate of the first step; it decays to 0 along a cosine.
const PEAK_LR: f32 = 0.003;
/// The fraction of training images moved by up to one pixel each way, each
/// time they are drawn.
const SHIFTED: f32 = 0.3;
/// Seeds the initial weights, the shuffles and the shifts of each model.
const SEED: u64 = 2024;
/// What scikit-learn's `MLPClassifier` (64-32-10, Adam) reaches on the same
/// split: 329 of the 360 test images (`tests/reference/sklearn_digits.py`).
const SKLEARN_ACCURACY: f64 = 329.0 / 360.0;

fn main() -> Result<(), Box<dyn Error>> {
    let options = Options::from_args(std::env::args().skip(1))?;
    let (train, test) = Digits::parse(DIGITS_CSV)?.split_at(TRAIN_ROWS);
    println!(
        "digits: {} training and {} test images of {PIXELS} pixels",
        train.len(),
        test.len()
    );

    let mut curves = Vec::new();
    if options.mlp {
        curves.push(train_and_check::<DigitsMlp>(&train, &test, options.epochs)?);
    }
    if options.cnn {
        curves.push(train_and_check::<DigitsCnn>(&train, &test, options.epochs)?);
    }

    draw_chart(&curves, &options.chart)?;
    println!(
        "\nchart of loss and accuracy per epoch: {}",
        options.chart.display()
    );
    Ok(())
}

/// What the training loop needs of a generated model.
trait Classifier: Sized {
    /// How the output and the chart name the model.
    const NAME: &'static str;
    const DEFAULT_EPOCHS: usize;
    type Workspace: Default;

    /// A model with random initial weights and a fresh optimizer.
    fn initial(rng: &mut SplitMix64) -> Result<Self, staticflow::Error>;

    /// One training step at learning rate `lr`: the loss before it.
    fn step(
        &mut self,
        workspace: &mut Self::Workspace,
        images: ArrayView2<'_, f32>,
        labels: ArrayView1<'_, usize>,
        lr: f32,
    ) -> Result<f32, staticflow::Error>;

    /// The class scores of each image.
    fn scores(&self, images: ArrayView2<'_, f32>) -> Result<Array2<f32>, staticflow::Error>;

    /// The predicted class of each image.
    fn predict(&self, images: ArrayView2<'_, f32>) -> Result<Array1<usize>, staticflow::Error>;

    fn save(&self, path: &Path) -> Result<(), staticflow::Error>;

    fn load(path: &Path) -> Result<Self, staticflow::Error>;
}

/// The methods of `Classifier` that forward to the generated ones, which
/// both graphs name alike.
macro_rules! forward_to_graph {
    ($workspace:ty) => {
        type Workspace = $workspace;

        fn step(
            &mut self,
            workspace: &mut Self::Workspace,
            images: ArrayView2<'_, f32>,
            labels: ArrayView1<'_, usize>,
            lr: f32,
        ) -> Result<f32, staticflow::Error> {
            self.train_with(workspace, images, labels, lr)
        }

        fn scores(&self, images: ArrayView2<'_, f32>) -> Result<Array2<f32>, staticflow::Error> {
            self.logits(images)
        }

        fn predict(&self, images: ArrayView2<'_, f32>) -> Result<Array1<usize>, staticflow::Error> {
            self.class(images)
        }

        fn save(&self, path: &Path) -> Result<(), staticflow::Error> {
            self.save_safetensors(path)
        }

        fn load(path: &Path) -> Result<Self, staticflow::Error> {
            Self::from_safetensors(path)
        }
    };
}

impl Classifier for DigitsMlp {
    const NAME: &'static str = "MLP 64-128-10";
    const DEFAULT_EPOCHS: usize = 100;
    forward_to_graph!(DigitsMlpWorkspace);

    fn initial(rng: &mut SplitMix64) -> Result<Self, staticflow::Error> {
        DigitsMlp::new(
            uniform(rng, (PIXELS, 128), he_limit(PIXELS)),
            Array1::zeros(128),
            uniform(rng, (128, CLASSES), glorot_limit(128, CLASSES)),
            Array1::zeros(CLASSES),
        )
    }
}

impl Classifier for DigitsCnn {
    const NAME: &'static str = "CNN 3x3x16, 3x3x32";
    const DEFAULT_EPOCHS: usize = 30;
    forward_to_graph!(DigitsCnnWorkspace);

    fn initial(rng: &mut SplitMix64) -> Result<Self, staticflow::Error> {
        // A filter's fan-in is its window times its input channels.
        DigitsCnn::new(
            uniform(rng, (3, 3, 1, 16), he_limit(9)),
            Array1::zeros(16),
            uniform(rng, (3, 3, 16, 32), he_limit(9 * 16)),
            Array1::zeros(32),
            uniform(rng, (128, CLASSES), glorot_limit(128, CLASSES)),
            Array1::zeros(CLASSES),
        )
    }
}

/// Trains a model of type `M` from its initial weights, prints its test
/// accuracy, and checks that it survives a round trip through safetensors.
fn train_and_check<M: Classifier>(
    train: &Digits,
    test: &Digits,
    epochs: Option<usize>,
) -> Result<Curve, Box<dyn Error>> {
    println!("\n{}", M::NAME);
    let mut rng = SplitMix64(SEED);
    let mut model = M::initial(&mut rng)?;
    let started = Instant::now();
    let history = train_model(
        &mut model,
        train,
        test,
        epochs.unwrap_or(M::DEFAULT_EPOCHS),
        &mut rng,
    )?;
    let seconds = started.elapsed().as_secs_f64();
    let last = history.last().ok_or("no epoch was run")?;
    let plural = if history.len() == 1 { "" } else { "s" };
    println!(
        "trained {} epoch{plural} in {seconds:.2} s: training loss {:.4}, test accuracy {}",
        history.len(),
        last.loss,
        percent(last.accuracy)
    );

    // The file holds the weights and Adam's state, so training could resume
    // from it. Equal logits imply equal predictions.
    let path = std::env::temp_dir().join(format!(
        "staticflow-train_digits-{}.safetensors",
        std::process::id()
    ));
    model.save(&path)?;
    let loaded = M::load(&path);
    std::fs::remove_file(&path)?;
    let loaded = loaded?;
    if loaded.scores(test.images.view())? != model.scores(test.images.view())? {
        return Err(format!("the {} loaded back computes other logits", M::NAME).into());
    }
    println!(
        "saved to and loaded from {}: test accuracy {}, the same logits for all {} test images",
        path.display(),
        percent(accuracy(&loaded, test)?),
        test.len()
    );
    Ok(Curve {
        name: M::NAME,
        epochs: history,
    })
}

const USAGE: &str = "the options are --model mlp|cnn|both, --epochs N and --chart PATH";

/// The command line: `--model`, `--epochs N` and `--chart PATH`.
struct Options {
    mlp: bool,
    cnn: bool,
    /// The models' own defaults when `None`.
    epochs: Option<usize>,
    chart: PathBuf,
}

impl Options {
    fn from_args(mut args: impl Iterator<Item = String>) -> Result<Self, Box<dyn Error>> {
        let mut options = Options {
            mlp: true,
            cnn: true,
            epochs: None,
            chart: PathBuf::from("target/train_digits.svg"),
        };
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--model" => {
                    (options.mlp, options.cnn) = match value()?.as_str() {
                        "mlp" => (true, false),
                        "cnn" => (false, true),
                        "both" => (true, true),
                        other => {
                            return Err(
                                format!("--model takes mlp, cnn or both, not {other}").into()
                            )
                        }
                    }
                }
                "--epochs" => {
                    let epochs = value()?
                        .parse()
                        .map_err(|e| format!("--epochs takes a whole number: {e}"))?;
                    if epochs == 0 {
                        return Err("--epochs must be at least 1".into());
                    }
                    options.epochs = Some(epochs);
                }
                "--chart" => options.chart = PathBuf::from(value()?),
                _ => return Err(format!("unknown argument `{arg}`: {USAGE}").into()),
            }
        }
        Ok(options)
    }
}

/// Images, one a row, with pixels in [0, 1], and their labels.
struct Digits {
    images: Array2<f32>,
    labels: Array1<usize>,
}

impl Digits {
    /// Parses the CSV text, naming the line of the first malformed value.
    fn parse(csv: &str) -> Result<Self, Box<dyn Error>> {
        let mut lines = csv.lines().enumerate();
        match lines.next() {
            Some((_, header)) if header.starts_with("label,p0,") => {}
            _ => return Err("digits.csv: the first line is not the header `label,p0,...`".into()),
        }
        let (mut pixels, mut labels) = (Vec::new(), Vec::new());
        for (index, line) in lines {
            let at = |what: &dyn Display| format!("digits.csv, line {}: {what}", index + 1);
            let mut fields = line.split(',');
            let label: usize = fields.next().unwrap_or("").parse().map_err(|e| at(&e))?;
            if label >= CLASSES {
                return Err(at(&format_args!("label {label} is not a digit")).into());
            }
            let before = pixels.len();
            for field in fields {
                let value: u8 = field.parse().map_err(|e| at(&e))?;
                if value > 16 {
                    return Err(at(&format_args!("pixel {value} is over 16")).into());
                }
                pixels.push(f32::from(value) / 16.0);
            }
            if pixels.len() - before != PIXELS {
                return Err(at(&format_args!(
                    "{} pixels, not {PIXELS}",
                    pixels.len() - before
                ))
                .into());
            }
            labels.push(label);
        }
        Ok(Digits {
            images: Array2::from_shape_vec((labels.len(), PIXELS), pixels)?,
            labels: Array1::from(labels),
        })
    }

    /// The first `rows` images, and the others.
    fn split_at(self, rows: usize) -> (Digits, Digits) {
        let rows = rows.min(self.len());
        let part = |range: std::ops::Range<usize>| Digits {
            images: self.images.slice(s![range.clone(), ..]).to_owned(),
            labels: self.labels.slice(s![range]).to_owned(),
        };
        (part(0..rows), part(rows..self.len()))
    }

    fn len(&self) -> usize {
        self.labels.len()
    }
}

/// What one epoch achieved.
struct Epoch {
    /// The mean over the epoch's training images (some shifted) of the
    /// loss before each step.
    loss: f32,
    /// The fraction of test images classified right after the epoch.
    accuracy: f64,
}

/// One model's epochs, for the chart.
struct Curve {
    name: &'static str,
    epochs: Vec<Epoch>,
}

/// Trains `model` for `epochs` epochs of shuffled minibatches, showing the
/// running loss on a progress bar, and measures the test accuracy after each.
fn train_model<M: Classifier>(
    model: &mut M,
    train: &Digits,
    test: &Digits,
    epochs: usize,
    rng: &mut SplitMix64,
) -> Result<Vec<Epoch>, Box<dyn Error>> {
    let steps = epochs * train.len().div_ceil(BATCH);
    let bar = ProgressBar::new(steps as u64).with_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} steps, {elapsed_precise} {msg}",
        )?
        .progress_chars("=> "),
    );

    // The workspace and the batch buffers are reused: the steps after the
    // first allocate nothing (the progress bar's message and the test after
    // each epoch do).
    let mut workspace = M::Workspace::default();
    let mut batch_images = Array2::<f32>::zeros((BATCH, PIXELS));
    let mut batch_labels = Array1::<usize>::zeros(BATCH);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut history = Vec::with_capacity(epochs);
    let mut step = 0;
    for epoch in 1..=epochs {
        bar.set_prefix(format!("epoch {epoch:>3}/{epochs}"));
        rng.shuffle(&mut order);
        let mut loss_sum = 0.0;
        let mut seen = 0;
        for batch in order.chunks(BATCH) {
            for (row, &image) in batch.iter().enumerate() {
                let (dy, dx) = if rng.unit() < SHIFTED {
                    (rng.offset(), rng.offset())
                } else {
                    (0, 0)
                };
                shift(
                    &train.images.row(image),
                    dy,
                    dx,
                    &mut batch_images.row_mut(row),
                );
                batch_labels[row] = train.labels[image];
            }
            let rows = batch.len();
            let loss = model.step(
                &mut workspace,
                batch_images.slice(s![..rows, ..]),
                batch_labels.slice(s![..rows]),
                cosine_decay(step, steps),
            )?;
            step += 1;
            loss_sum += loss * rows as f32;
            seen += rows;
            bar.set_message(format!("loss {:.4}", loss_sum / seen as f32));
            bar.inc(1);
        }
        let epoch_result = Epoch {
            loss: loss_sum / seen as f32,
            accuracy: accuracy(model, test)?,
        };
        if epoch % 10 == 0 || epoch == epochs {
            // Printed whether or not the bar is shown (it is not in CI's log).
            bar.suspend(|| {
                println!(
                    "epoch {epoch:>3}: training loss {:.4}, test accuracy {}",
                    epoch_result.loss,
                    percent(epoch_result.accuracy)
                );
            });
        }
        history.push(epoch_result);
    }
    bar.finish_and_clear();
    Ok(history)
}

/// The learning rate of step `step` (from 0) of `steps`: from `PEAK_LR`
/// down to nearly 0 along half a cosine wave.
fn cosine_decay(step: usize, steps: usize) -> f32 {
    let done = step as f32 / steps as f32;
    PEAK_LR * 0.5 * (1.0 + (std::f32::consts::PI * done).cos())
}

/// Writes `image` (8x8, row-major) moved `dy` pixels down and `dx` right
/// into `out`, filling the uncovered border with 0 (blank paper).
fn shift(image: &ArrayView1<'_, f32>, dy: isize, dx: isize, out: &mut ArrayViewMut1<'_, f32>) {
    for r in 0..8_usize {
        for c in 0..8_usize {
            let from = r.checked_add_signed(-dy).zip(c.checked_add_signed(-dx));
            out[8 * r + c] = match from {
                Some((fr, fc)) if fr < 8 && fc < 8 => image[8 * fr + fc],
                _ => 0.0,
            };
        }
    }
}

/// The fraction of `data`'s images that `model` classifies right.
fn accuracy(model: &impl Classifier, data: &Digits) -> Result<f64, Box<dyn Error>> {
    let predicted = model.predict(data.images.view())?;
    let right = predicted
        .iter()
        .zip(&data.labels)
        .filter(|(p, l)| p == l)
        .count();
    Ok(right as f64 / data.len() as f64)
}

fn percent(fraction: f64) -> String {
    format!("{:.2}%", 100.0 * fraction)
}

/// `SplitMix64` (Steele, Lea and Flood, 2014): a 64-bit state advanced by a
/// constant and scrambled; small, fast, and plenty for shuffles and weights.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1): the top 24 bits, which an `f32` holds exactly.
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u32 << 24) as f32
    }

    /// -1, 0 or 1, equally likely.
    fn offset(&mut self) -> isize {
        match self.below(3) {
            0 => -1,
            1 => 0,
            _ => 1,
        }
    }

    /// Uniform in `0..n`, by Lemire's multiply-and-shift: the high half of
    /// a 64-bit draw times `n` (the bias, under n / 2⁶⁴, is negligible).
    fn below(&mut self, n: usize) -> usize {
        let wide = u128::from(self.next_u64()) * n as u128;
        // The high half is below n, so it fits a usize.
        #[allow(clippy::cast_possible_truncation)]
        let index = (wide >> 64) as usize;
        index
    }

    /// Fisher–Yates: every order equally likely.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// An array of the given shape drawn uniformly from [-limit, limit].
fn uniform<D: Dimension>(
    rng: &mut SplitMix64,
    shape: impl ShapeBuilder<Dim = D>,
    limit: f32,
) -> Array<f32, D> {
    Array::from_shape_simple_fn(shape, || (2.0 * rng.unit() - 1.0) * limit)
}

/// He's uniform limit √(6 / `fan_in`), for a layer followed by relu.
fn he_limit(fan_in: usize) -> f32 {
    (6.0 / fan_in as f32).sqrt()
}

/// Glorot's uniform limit √(6 / (`fan_in` + `fan_out`)), for the output layer.
fn glorot_limit(fan_in: usize, fan_out: usize) -> f32 {
    (6.0 / (fan_in + fan_out) as f32).sqrt()
}

/// The models' colours in the chart, in the order they were trained.
const COLOURS: [RGBColor; 2] = [BLUE, RED];

/// Draws the training loss and the test accuracy per epoch side by side,
/// a line per model, and scikit-learn's accuracy as a dashed line.
fn draw_chart(curves: &[Curve], path: &Path) -> Result<(), Box<dyn Error>> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let root = SVGBackend::new(path, (960, 360)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(480);
    let every_epoch = || curves.iter().flat_map(|curve| &curve.epochs);
    let last_epoch = curves.iter().map(|c| c.epochs.len()).fold(2, usize::max);
    let legend = |colour: RGBColor| {
        move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2))
    };

    let top_loss = every_epoch().map(|e| e.loss).fold(0.0, f32::max);
    let mut loss_chart = ChartBuilder::on(&left)
        .caption("training loss (mean cross-entropy)", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(1..last_epoch, 0.0..top_loss * 1.05)?;
    loss_chart
        .configure_mesh()
        .x_desc("epoch")
        .max_light_lines(1)
        .y_label_formatter(&|v| format!("{v:.2}"))
        .draw()?;
    for (curve, colour) in curves.iter().zip(COLOURS) {
        loss_chart
            .draw_series(LineSeries::new(
                (1..).zip(&curve.epochs).map(|(epoch, e)| (epoch, e.loss)),
                colour.stroke_width(2),
            ))?
            .label(curve.name)
            .legend(legend(colour));
    }
    loss_chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE)
        .border_style(BLACK.mix(0.3))
        .draw()?;

    let low = every_epoch().map(|e| e.accuracy).fold(1.0, f64::min);
    let floor = (100.0 * low / 5.0).floor() * 5.0;
    let mut accuracy_chart = ChartBuilder::on(&right)
        .caption("test accuracy (%)", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(1..last_epoch, floor.min(85.0)..100.0)?;
    accuracy_chart
        .configure_mesh()
        .x_desc("epoch")
        .max_light_lines(1)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    for (curve, colour) in curves.iter().zip(COLOURS) {
        accuracy_chart
            .draw_series(LineSeries::new(
                (1..)
                    .zip(&curve.epochs)
                    .map(|(epoch, e)| (epoch, 100.0 * e.accuracy)),
                colour.stroke_width(2),
            ))?
            .label(curve.name)
            .legend(legend(colour));
    }
    let sklearn = 100.0 * SKLEARN_ACCURACY;
    accuracy_chart
        .draw_series(DashedLineSeries::new(
            [(1, sklearn), (last_epoch, sklearn)],
            6,
            4,
            BLACK.stroke_width(1),
        ))?
        .label("scikit-learn's MLPClassifier, 64-32-10")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.stroke_width(1)));
    accuracy_chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE)
        .border_style(BLACK.mix(0.3))
        .draw()?;
    root.present()?;
    Ok(())
}
