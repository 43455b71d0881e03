//! Reads the QR text from a shopper's receipt photo (JPEG or PNG) locally, so that
//! duplicates and junk are rejected before a paid ProverkaCheka call.
//!
//! Two readers, chosen by measurement (BENCHMARKS.md, `## receipt-verifier`): rxing
//! (a pure-Rust port of ZXing) reads most photos in a few milliseconds; rqrr, with our
//! pre-processing, reads strongly slanted codes that rxing misses. Each pass prepares
//! the picture differently for one of them.
//!
//! Longer than most files on purpose: the passes and the order they run in were chosen
//! together by measurement (see BENCHMARKS.md), and reading them in one place is what
//! keeps that order honest.

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use image::{ImageError, ImageReader, Limits};

/// Photos are downscaled to this longest side: phone photos carry far more pixels than
/// a receipt QR needs, and every pass's cost grows with the pixel count.
const MAX_SIDE: u32 = 1600;

/// Time per picture (from the start of [`decode_qr_text`], image decoding included)
/// after which no further fallback pass is started. Every pass of a Telegram-sized
/// photo together takes ~90 ms (BENCHMARKS.md, `## receipt-verifier`), so the budget
/// only cuts large or noisy pictures short, where one rqrr pass can chase speckles for
/// seconds. Giving up is cheap: the picture is then left to the caller's fallback. A
/// pass already running is not interrupted (neither reader can be stopped), so this
/// bounds how many passes run, not the worst case of a single one.
pub const DECODE_BUDGET: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("the image is empty")]
    Empty,
    #[error("the image format is not supported, JPEG or PNG expected")]
    UnsupportedFormat,
    #[error("the image could not be read: {0}")]
    Unreadable(String),
    #[error("no QR code was found in the image")]
    NoQrCode,
}

/// One way of reading the picture. Public, with [`Pipeline`], so that `decode-bench`
/// can measure what each pass reads and costs on the corpora.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// rqrr with its own adaptive threshold.
    RqrrAdaptive,
    /// rqrr on the picture halved (large, noisy) or doubled (small).
    RqrrRescaled,
    /// rqrr on our local-mean binarisation (faded print next to a darker background).
    RqrrLocal,
    /// rqrr on Otsu's global threshold (evenly lit, large modules).
    RqrrOtsu,
    /// rqrr on the local binarisation of the inverted picture (light-on-dark codes).
    RqrrInverted,
    /// rqrr on the local binarisation turned a quarter (skewed codes).
    RqrrTurned,
    /// rxing with ZXing's block-local threshold.
    RxingHybrid,
    /// rxing with ZXing's global histogram threshold (soft, blurred edges).
    RxingGlobal,
    /// rxing on the picture doubled (tiny modules).
    RxingUpscaled,
    /// rxing on the picture halved and framed with paper (a close-up: huge modules,
    /// no quiet zone).
    RxingHalved,
    /// rxing after a local contrast stretch (faded print).
    RxingStretched,
    /// rxing after a local normalisation by mean and spread (glare, shadows).
    RxingNormalised,
    /// rxing on the inverted picture (light-on-dark codes).
    RxingInverted,
}

impl Pass {
    pub const ALL: [Pass; 13] = [
        Pass::RxingHybrid,
        Pass::RxingGlobal,
        Pass::RxingUpscaled,
        Pass::RxingHalved,
        Pass::RxingStretched,
        Pass::RxingNormalised,
        Pass::RxingInverted,
        Pass::RqrrAdaptive,
        Pass::RqrrRescaled,
        Pass::RqrrLocal,
        Pass::RqrrOtsu,
        Pass::RqrrInverted,
        Pass::RqrrTurned,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Pass::RqrrAdaptive => "rqrr-adaptive",
            Pass::RqrrRescaled => "rqrr-rescaled",
            Pass::RqrrLocal => "rqrr-local",
            Pass::RqrrOtsu => "rqrr-otsu",
            Pass::RqrrInverted => "rqrr-inverted",
            Pass::RqrrTurned => "rqrr-turned",
            Pass::RxingHybrid => "rxing-hybrid",
            Pass::RxingGlobal => "rxing-global",
            Pass::RxingUpscaled => "rxing-upscaled",
            Pass::RxingHalved => "rxing-halved",
            Pass::RxingStretched => "rxing-stretched",
            Pass::RxingNormalised => "rxing-normalised",
            Pass::RxingInverted => "rxing-inverted",
        }
    }

    /// The texts of every code found; `None` when the pass does not apply to this
    /// picture (a rescale of a picture that is neither large nor small).
    fn run(self, gray: &Gray) -> Option<Vec<String>> {
        match self {
            Pass::RqrrAdaptive => Some(scan_adaptive(gray)),
            Pass::RqrrRescaled => gray.rescaled().map(|s| scan_adaptive(&s)),
            Pass::RqrrLocal => Some(scan_bitmap(&gray.locally_binarised(false))),
            Pass::RqrrOtsu => Some(scan_bitmap(&gray.binarised())),
            Pass::RqrrInverted => Some(scan_bitmap(&gray.locally_binarised(true))),
            Pass::RqrrTurned => Some(scan_bitmap(&gray.locally_binarised(false).rotated())),
            Pass::RxingHybrid => Some(rxing_scan(gray, RxingBinarizer::Hybrid)),
            Pass::RxingGlobal => Some(rxing_scan(gray, RxingBinarizer::Global)),
            Pass::RxingUpscaled => gray
                .upscaled()
                .map(|s| rxing_scan(&s, RxingBinarizer::Hybrid)),
            Pass::RxingHalved => gray
                .halved_in_frame()
                .map(|s| rxing_scan(&s, RxingBinarizer::Hybrid)),
            Pass::RxingStretched => Some(rxing_scan(&gray.stretched(), RxingBinarizer::Hybrid)),
            Pass::RxingNormalised => Some(rxing_scan(&gray.normalised(), RxingBinarizer::Hybrid)),
            Pass::RxingInverted => Some(rxing_scan(&gray.inverted(), RxingBinarizer::Hybrid)),
        }
    }
}

/// Which passes run, and in which order: kept selectable so that `decode-bench` can
/// measure each on the same pictures (BENCHMARKS.md); [`decode_qr_text`] uses
/// [`Pipeline::CHOSEN`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pipeline {
    /// rqrr with our pre-processing passes only (the decoder before issue 16).
    Rqrr,
    /// rxing (the ZXing port) only.
    Rxing,
    /// rqrr's cheap pass, then rxing, then the rest of the rqrr passes.
    RqrrFirst,
    /// rxing, then the rqrr passes.
    RxingFirst,
}

impl Pipeline {
    pub const CHOSEN: Pipeline = Pipeline::RxingFirst;
    pub const ALL: [Pipeline; 4] = [
        Pipeline::Rqrr,
        Pipeline::Rxing,
        Pipeline::RqrrFirst,
        Pipeline::RxingFirst,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Pipeline::Rqrr => "rqrr",
            Pipeline::Rxing => "rxing",
            Pipeline::RqrrFirst => "rqrr+rxing",
            Pipeline::RxingFirst => "rxing+rqrr",
        }
    }

    pub fn passes(self) -> Vec<Pass> {
        match self {
            // The decoder before issue 16. The rescale comes right after the cheap pass:
            // on noisy photos it reads the code while the bitmap passes after it can
            // spend hundreds of milliseconds each on speckles.
            Pipeline::Rqrr => vec![
                Pass::RqrrAdaptive,
                Pass::RqrrRescaled,
                Pass::RqrrLocal,
                Pass::RqrrOtsu,
                Pass::RqrrInverted,
                Pass::RqrrTurned,
            ],
            Pipeline::Rxing => vec![
                Pass::RxingHybrid,
                Pass::RxingStretched,
                Pass::RxingNormalised,
                Pass::RxingHalved,
                Pass::RxingUpscaled,
                Pass::RxingInverted,
            ],
            Pipeline::RqrrFirst => [Pass::RqrrAdaptive]
                .into_iter()
                .chain(COMBINED.into_iter().filter(|p| *p != Pass::RqrrAdaptive))
                .collect(),
            Pipeline::RxingFirst => COMBINED.to_vec(),
        }
    }
}

/// The passes of [`Pipeline::RxingFirst`], in the order that reads the most pictures
/// per millisecond (`decode-bench --passes`, BENCHMARKS.md): each pass after the first
/// is there for the pictures the ones before it miss. rxing's block threshold reads
/// nine in ten photos in ~4 ms; rqrr's rescale reads slanted and noisy ones; the
/// contrast stretch, faded print; Otsu, evenly lit slanted codes; the normalisation,
/// glare and shadows; the framed half, close-ups; the doubled picture, codes of 2–3 px
/// per module; rqrr's own threshold, a few strongly slanted codes. The inversion comes
/// last, for the rare light-on-dark code. Passes that read nothing the others miss on
/// either corpus (rqrr's local, inverted and turned bitmaps, rxing's global
/// threshold) are left out, so that an unreadable picture is given up in ~90 ms.
const COMBINED: [Pass; 9] = [
    Pass::RxingHybrid,
    Pass::RqrrRescaled,
    Pass::RxingStretched,
    Pass::RqrrOtsu,
    Pass::RxingNormalised,
    Pass::RxingHalved,
    Pass::RxingUpscaled,
    Pass::RqrrAdaptive,
    Pass::RxingInverted,
];

/// Runs one pass alone on the picture: every text it reads (for `decode-bench`).
pub fn decode_with_pass(image_bytes: &[u8], pass: Pass) -> Result<Vec<String>, DecodeError> {
    if image_bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let gray = load_gray(image_bytes)?;
    Ok(pass.run(&gray).unwrap_or_default())
}

/// Finds and decodes a QR code in the image.
///
/// When the picture holds several codes, a fiscal one (`fn=`) is preferred. The passes
/// of [`Pipeline::CHOSEN`] run, most productive per millisecond first, until one finds
/// a fiscal code or [`DECODE_BUDGET`] is spent.
pub fn decode_qr_text(image_bytes: &[u8]) -> Result<String, DecodeError> {
    decode_qr_text_within(image_bytes, DECODE_BUDGET)
}

/// [`decode_qr_text`] with the budget as a parameter: tests check that it is honoured
/// without depending on how fast the machine is, and tests of a fallback pass lift it,
/// since unoptimised debug builds are about ten times slower than the release build
/// [`DECODE_BUDGET`] is sized for.
pub fn decode_qr_text_within(image_bytes: &[u8], budget: Duration) -> Result<String, DecodeError> {
    decode_qr_text_using(image_bytes, Pipeline::CHOSEN, budget)
}

/// [`decode_qr_text_within`] with another [`Pipeline`], for measurements.
pub fn decode_qr_text_using(
    image_bytes: &[u8],
    pipeline: Pipeline,
    budget: Duration,
) -> Result<String, DecodeError> {
    let started = Instant::now();
    if image_bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let gray = load_gray(image_bytes)?;

    let mut other_text = None;
    for (index, pass) in pipeline.passes().into_iter().enumerate() {
        // The first pass always runs, however long the image took to load: a slow JPEG
        // decode of a clear 12 MP photo must not cost the shopper the local read.
        if index > 0 && started.elapsed() >= budget {
            tracing::debug!(
                passes_tried = index,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "QR decode budget spent, leaving the picture to the provider"
            );
            break;
        }
        let Some(texts) = pass.run(&gray) else {
            continue;
        };
        let fiscal = texts
            .iter()
            .find(|text| text.to_ascii_lowercase().contains("fn="));
        if let Some(fiscal) = fiscal {
            return Ok(fiscal.clone());
        }
        if other_text.is_none() {
            other_text = texts.into_iter().next();
        }
    }
    other_text.ok_or(DecodeError::NoQrCode)
}

fn load_gray(bytes: &[u8]) -> Result<Gray, DecodeError> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DecodeError::Unreadable(e.to_string()))?;
    if reader.format().is_none() {
        return Err(DecodeError::UnsupportedFormat);
    }
    // A small file can declare a huge canvas; cap what the decoder may allocate.
    let mut limits = Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| match e {
        ImageError::Unsupported(_) => DecodeError::UnsupportedFormat,
        other => DecodeError::Unreadable(other.to_string()),
    })?;

    let mut gray = image.into_luma8();
    let (w, h) = gray.dimensions();
    if w == 0 || h == 0 {
        return Err(DecodeError::Unreadable("the image has no pixels".into()));
    }
    let longest = w.max(h);
    if longest > MAX_SIDE {
        let scale = f64::from(MAX_SIDE) / f64::from(longest);
        let new_w = ((f64::from(w) * scale).round() as u32).max(1);
        let new_h = ((f64::from(h) * scale).round() as u32).max(1);
        gray = image::imageops::thumbnail(&gray, new_w, new_h);
    }
    let (w, h) = gray.dimensions();
    Ok(Gray {
        w: w as usize,
        h: h as usize,
        pixels: gray.into_raw(),
    })
}

/// A row-major 8-bit grayscale picture.
struct Gray {
    w: usize,
    h: usize,
    pixels: Vec<u8>,
}

impl Gray {
    fn histogram(&self) -> [u64; 256] {
        let mut histogram = [0u64; 256];
        for &p in &self.pixels {
            histogram[usize::from(p)] += 1;
        }
        histogram
    }

    /// Black/white against the mean of a window of about 1/16 of the picture (a dozen
    /// modules on a typical photo): a module is judged against its own neighbourhood,
    /// whatever the contrast. Flat areas (low local deviation) stay white so that sensor
    /// noise does not turn into thousands of specks. `light_on_dark` reads inverted codes.
    fn locally_binarised(&self, light_on_dark: bool) -> Bitmap {
        let (w, h) = (self.w, self.h);
        let radius = (w.max(h) / 32).max(8);
        // Integral images of values and squares, one extra row and column of zeros.
        let stride = w + 1;
        let mut sums = vec![0u64; stride * (h + 1)];
        let mut squares = vec![0u64; stride * (h + 1)];
        for y in 0..h {
            let (mut row_sum, mut row_square) = (0u64, 0u64);
            for x in 0..w {
                let p = u64::from(self.pixels[y * w + x]);
                row_sum += p;
                row_square += p * p;
                sums[(y + 1) * stride + x + 1] = sums[y * stride + x + 1] + row_sum;
                squares[(y + 1) * stride + x + 1] = squares[y * stride + x + 1] + row_square;
            }
        }
        let area = |table: &[u64], x0: usize, y0: usize, x1: usize, y1: usize| {
            table[y1 * stride + x1] + table[y0 * stride + x0]
                - table[y0 * stride + x1]
                - table[y1 * stride + x0]
        };
        let mut dark = Vec::with_capacity(w * h);
        for y in 0..h {
            let (y0, y1) = (y.saturating_sub(radius), (y + radius + 1).min(h));
            for x in 0..w {
                let (x0, x1) = (x.saturating_sub(radius), (x + radius + 1).min(w));
                let count = ((x1 - x0) * (y1 - y0)) as f64;
                let mean = area(&sums, x0, y0, x1, y1) as f64 / count;
                let variance = area(&squares, x0, y0, x1, y1) as f64 / count - mean * mean;
                let p = f64::from(self.pixels[y * w + x]);
                let ink = if light_on_dark { p > mean } else { p < mean };
                dark.push(variance > 36.0 && ink);
            }
        }
        Bitmap { w, h, dark }
    }

    /// Black/white by Otsu's global threshold (`true` = dark), for evenly lit photos
    /// where the adaptive threshold breaks up large modules.
    fn binarised(&self) -> Bitmap {
        let histogram = self.histogram();
        let total = self.pixels.len() as f64;
        let sum_all: f64 = histogram
            .iter()
            .enumerate()
            .map(|(value, &count)| value as f64 * count as f64)
            .sum();
        let (mut weight_dark, mut sum_dark) = (0.0, 0.0);
        let (mut best_threshold, mut best_variance) = (0u8, -1.0);
        for (value, &count) in histogram.iter().enumerate() {
            weight_dark += count as f64;
            if weight_dark == 0.0 {
                continue;
            }
            let weight_light = total - weight_dark;
            if weight_light == 0.0 {
                break;
            }
            sum_dark += value as f64 * count as f64;
            let mean_dark = sum_dark / weight_dark;
            let mean_light = (sum_all - sum_dark) / weight_light;
            let variance = weight_dark * weight_light * (mean_dark - mean_light).powi(2);
            if variance > best_variance {
                best_variance = variance;
                best_threshold = value as u8;
            }
        }
        Bitmap {
            w: self.w,
            h: self.h,
            dark: self.pixels.iter().map(|&p| p <= best_threshold).collect(),
        }
    }

    /// Halves a large picture (noise shrinks, modules stay big enough) or doubles a
    /// small one (tiny modules get room for the threshold window).
    fn rescaled(&self) -> Option<Gray> {
        let longest = self.w.max(self.h);
        if longest > 800 {
            let (w, h) = (self.w / 2, self.h / 2);
            let mut pixels = Vec::with_capacity(w * h);
            for y in 0..h {
                for x in 0..w {
                    let at = |dx: usize, dy: usize| {
                        u16::from(self.pixels[(2 * y + dy) * self.w + 2 * x + dx])
                    };
                    pixels.push(((at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1)) / 4) as u8);
                }
            }
            Some(Gray { w, h, pixels })
        } else if longest < 500 {
            let (w, h) = (self.w * 2, self.h * 2);
            let mut pixels = Vec::with_capacity(w * h);
            for y in 0..h {
                for x in 0..w {
                    pixels.push(self.pixels[(y / 2) * self.w + x / 2]);
                }
            }
            Some(Gray { w, h, pixels })
        } else {
            None
        }
    }
}

impl Gray {
    /// Halves a close-up and frames it with paper: ZXing's threshold blocks are 8 px,
    /// so a dark area many blocks wide loses its contrast, and a code that fills the
    /// frame has no quiet zone left around its finder patterns. The border has the
    /// brightness of the lightest tenth of the picture.
    fn halved_in_frame(&self) -> Option<Gray> {
        if self.w.min(self.h) < 600 {
            return None;
        }
        let (inner_w, inner_h) = (self.w / 2, self.h / 2);
        let border = inner_w.max(inner_h) / 16;
        let (w, h) = (inner_w + 2 * border, inner_h + 2 * border);
        let histogram = self.histogram();
        let mut seen = 0;
        let paper = (0..=255u8)
            .rev()
            .find(|&value| {
                seen += histogram[usize::from(value)];
                seen * 10 >= self.pixels.len() as u64
            })
            .unwrap_or(255);
        let mut pixels = vec![paper; w * h];
        for y in 0..inner_h {
            for x in 0..inner_w {
                let at = |dx: usize, dy: usize| {
                    u16::from(self.pixels[(2 * y + dy) * self.w + 2 * x + dx])
                };
                pixels[(y + border) * w + x + border] =
                    ((at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1) + 2) / 4) as u8;
            }
        }
        Some(Gray { w, h, pixels })
    }

    fn inverted(&self) -> Gray {
        Gray {
            w: self.w,
            h: self.h,
            pixels: self.pixels.iter().map(|&p| 255 - p).collect(),
        }
    }

    /// Local contrast stretch: each pixel's distance from the mean of its neighbourhood
    /// (about 1/40 of the picture), amplified fourfold after a 3×3 smoothing. A faded
    /// print whose ink is 20–40 grey levels below its paper stays under ZXing's minimum
    /// contrast per block (24 levels) otherwise.
    fn stretched(&self) -> Gray {
        let (w, h) = (self.w, self.h);
        let smooth = box_mean(&self.pixels, w, h, 1);
        let radius = (w.max(h) / 40).clamp(6, 120);
        let mean = box_mean(&smooth, w, h, radius);
        let pixels = smooth
            .iter()
            .zip(&mean)
            .map(|(&p, &m)| (128 + (i32::from(p) - i32::from(m)) * 4).clamp(0, 255) as u8)
            .collect();
        Gray { w, h, pixels }
    }

    /// Each pixel's distance from the mean of its neighbourhood (a few modules across)
    /// divided by the neighbourhood's spread: a washed-out finder pattern under a
    /// glare spot or the print inside a shadow gets the same contrast as the rest. The
    /// floor under the spread keeps flat paper from turning into amplified noise.
    fn normalised(&self) -> Gray {
        let (w, h) = (self.w, self.h);
        let radius = (w.max(h) / 100).clamp(6, 120);
        let values: Vec<u32> = self.pixels.iter().map(|&p| u32::from(p)).collect();
        let squares: Vec<u32> = values.iter().map(|&p| p * p).collect();
        let sums = window_sums(&values, w, h, radius);
        let square_sums = window_sums(&squares, w, h, radius);
        let (xs, ys) = (window_spans(w, radius), window_spans(h, radius));
        let pixels = (0..w * h)
            .map(|i| {
                let count = (xs[i % w] * ys[i / w]) as f32;
                let mean = sums[i] as f32 / count;
                let variance = (square_sums[i] as f32 / count - mean * mean).max(0.0);
                let p = f32::from(self.pixels[i]);
                let value = 128.0 + 64.0 * (p - mean) / (variance.sqrt() + 8.0);
                value.clamp(0.0, 255.0) as u8
            })
            .collect();
        Gray { w, h, pixels }
    }

    /// Doubles a picture whose code may be tiny, bilinearly so that module edges stay
    /// grey: ZXing's finder search needs a few pixels per module. Each new pixel sits a
    /// quarter of an old pixel from the nearest old centre, hence the 9-3-3-1 weights.
    fn upscaled(&self) -> Option<Gray> {
        if self.w.max(self.h) > 1400 {
            return None;
        }
        let (w, h) = (self.w * 2, self.h * 2);
        let mut pixels = vec![0u8; w * h];
        let at = |x: usize, y: usize| u32::from(self.pixels[y * self.w + x]);
        for y in 0..self.h {
            let (up, down) = (y.saturating_sub(1), (y + 1).min(self.h - 1));
            for x in 0..self.w {
                let (left, right) = (x.saturating_sub(1), (x + 1).min(self.w - 1));
                let centre = at(x, y) * 9;
                let mix = |nx: usize, ny: usize| {
                    ((centre + 3 * at(nx, y) + 3 * at(x, ny) + at(nx, ny) + 8) / 16) as u8
                };
                pixels[2 * y * w + 2 * x] = mix(left, up);
                pixels[2 * y * w + 2 * x + 1] = mix(right, up);
                pixels[(2 * y + 1) * w + 2 * x] = mix(left, down);
                pixels[(2 * y + 1) * w + 2 * x + 1] = mix(right, down);
            }
        }
        Some(Gray { w, h, pixels })
    }
}

/// Sum of `values` over the (2r+1)² window around every pixel, clipped at the edges:
/// column sums slide down the rows, then a running sum slides along each row, so the
/// cost does not depend on the radius. Callers keep `255² × (2r+1)²` within `u32`.
fn window_sums(values: &[u32], w: usize, h: usize, radius: usize) -> Vec<u32> {
    let mut columns = vec![0u32; w];
    for row in values.chunks_exact(w).take(radius.min(h)) {
        columns.iter_mut().zip(row).for_each(|(c, &v)| *c += v);
    }
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        if y + radius < h {
            let row = &values[(y + radius) * w..(y + radius + 1) * w];
            columns.iter_mut().zip(row).for_each(|(c, &v)| *c += v);
        }
        if y > radius {
            let row = &values[(y - radius - 1) * w..(y - radius) * w];
            columns.iter_mut().zip(row).for_each(|(c, &v)| *c -= v);
        }
        let mut sum: u32 = columns[..radius.min(w)].iter().sum();
        for x in 0..w {
            if x + radius < w {
                sum += columns[x + radius];
            }
            if x > radius {
                sum -= columns[x - radius - 1];
            }
            out.push(sum);
        }
    }
    out
}

/// How many pixels the clipped window around each coordinate spans along one axis.
fn window_spans(length: usize, radius: usize) -> Vec<u32> {
    (0..length)
        .map(|i| ((i + radius + 1).min(length) - i.saturating_sub(radius)) as u32)
        .collect()
}

/// Mean over a (2r+1)² window, clipped at the edges.
fn box_mean(pixels: &[u8], w: usize, h: usize, radius: usize) -> Vec<u8> {
    let values: Vec<u32> = pixels.iter().map(|&p| u32::from(p)).collect();
    let sums = window_sums(&values, w, h, radius);
    let (xs, ys) = (window_spans(w, radius), window_spans(h, radius));
    sums.iter()
        .enumerate()
        .map(|(i, &sum)| (sum / (xs[i % w] * ys[i / w])) as u8)
        .collect()
}

struct Bitmap {
    w: usize,
    h: usize,
    dark: Vec<bool>,
}

impl Bitmap {
    /// Quarter turn: rqrr's capstone search scans rows, so a turned skewed code can
    /// present its finder patterns more squarely.
    fn rotated(&self) -> Bitmap {
        let (w, h) = (self.h, self.w);
        let mut dark = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                dark.push(self.dark[(self.h - 1 - x) * self.w + y]);
            }
        }
        Bitmap { w, h, dark }
    }
}

fn scan_adaptive(gray: &Gray) -> Vec<String> {
    guarded(|| {
        let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(gray.w, gray.h, |x, y| {
            gray.pixels[y * gray.w + x]
        });
        decoded_texts(prepared.detect_grids().iter().map(|grid| grid.decode()))
    })
}

fn scan_bitmap(bitmap: &Bitmap) -> Vec<String> {
    guarded(|| {
        let mut prepared = rqrr::PreparedImage::prepare_from_bitmap(bitmap.w, bitmap.h, |x, y| {
            bitmap.dark[y * bitmap.w + x]
        });
        decoded_texts(prepared.detect_grids().iter().map(|grid| grid.decode()))
    })
}

#[derive(Clone, Copy)]
enum RxingBinarizer {
    /// ZXing's local threshold over 8×8 blocks: uneven light, shadows.
    Hybrid,
    /// One threshold from the histogram: soft (blurred) edges that the block
    /// threshold breaks up.
    Global,
}

/// rxing's QR reader (the zxing-cpp detector, then the classic ZXing one), every code
/// of the picture.
fn rxing_scan(gray: &Gray, binarizer: RxingBinarizer) -> Vec<String> {
    use rxing::multi::MultipleBarcodeReader;
    use rxing::{BarcodeFormat, BinaryBitmap, DecodeHints, Luma8LuminanceSource, Reader};

    guarded(|| {
        let hints = DecodeHints {
            TryHarder: Some(true),
            PossibleFormats: Some([BarcodeFormat::QR_CODE].into_iter().collect()),
            ..DecodeHints::default()
        };
        let Ok(source) =
            Luma8LuminanceSource::new(gray.pixels.clone(), gray.w as u32, gray.h as u32)
        else {
            return Vec::new();
        };
        fn read<B: rxing::Binarizer>(
            bitmap: &mut BinaryBitmap<B>,
            hints: &DecodeHints,
        ) -> Vec<String> {
            let mut texts: Vec<String> = rxing::qrcode::cpp_port::QrReader
                .decode_multiple_with_hints(bitmap, hints)
                .map(|results| results.iter().map(|r| r.getText().to_owned()).collect())
                .unwrap_or_default();
            if texts.is_empty() {
                if let Ok(result) = rxing::qrcode::QRCodeReader.decode_with_hints(bitmap, hints) {
                    texts.push(result.getText().to_owned());
                }
            }
            texts
        }
        match binarizer {
            RxingBinarizer::Hybrid => read(
                &mut BinaryBitmap::new(rxing::common::HybridBinarizer::new(source)),
                &hints,
            ),
            RxingBinarizer::Global => read(
                &mut BinaryBitmap::new(rxing::common::GlobalHistogramBinarizer::new(source)),
                &hints,
            ),
        }
    })
}

fn decoded_texts<E>(
    results: impl Iterator<Item = Result<(rqrr::MetaData, String), E>>,
) -> Vec<String> {
    let mut texts: Vec<String> = Vec::new();
    for (_, text) in results.flatten() {
        if !texts.contains(&text) {
            texts.push(text);
        }
    }
    texts
}

/// rqrr is not hardened against every adversarial picture; a panic inside it must
/// become "no QR code", never a crashed verifier.
fn guarded(scan: impl FnOnce() -> Vec<String>) -> Vec<String> {
    catch_unwind(AssertUnwindSafe(scan)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const QR: &str = "t=20240917T1801&s=1285.21&fn=7281440500751551&i=30526&fp=1168453787&n=1";

    /// White modules on black: only the inversion pass, a fallback, reads it.
    fn inverted_qr_png() -> Vec<u8> {
        let mut image = image::load_from_memory(&promo_testkit::receipts::qr_png(QR))
            .expect("PNG decodes")
            .into_luma8();
        image::imageops::invert(&mut image);
        let mut bytes = Cursor::new(Vec::new());
        image
            .write_to(&mut bytes, image::ImageFormat::Png)
            .expect("PNG encodes");
        bytes.into_inner()
    }

    #[test]
    fn window_sums_equal_a_direct_count_at_every_radius() {
        let (w, h) = (7, 5);
        let values: Vec<u32> = (0..w * h).map(|i| (i * 37 % 11) as u32).collect();
        for radius in [0, 1, 2, 6] {
            let sums = window_sums(&values, w, h, radius);
            for y in 0..h {
                for x in 0..w {
                    let mut direct = 0;
                    for yy in y.saturating_sub(radius)..(y + radius + 1).min(h) {
                        for xx in x.saturating_sub(radius)..(x + radius + 1).min(w) {
                            direct += values[yy * w + xx];
                        }
                    }
                    assert_eq!(sums[y * w + x], direct, "radius {radius} at ({x}, {y})");
                }
            }
        }
    }

    #[test]
    fn a_spent_budget_stops_the_fallback_passes_but_never_the_cheap_one() {
        let inverted = inverted_qr_png();
        assert_eq!(
            decode_qr_text_within(&inverted, Duration::ZERO),
            Err(DecodeError::NoQrCode)
        );
        assert_eq!(
            decode_qr_text_within(&inverted, Duration::MAX),
            Ok(QR.to_owned())
        );
        // A plain code is read by the cheap pass even with nothing left of the budget.
        let plain = promo_testkit::receipts::qr_png(QR);
        assert_eq!(
            decode_qr_text_within(&plain, Duration::ZERO),
            Ok(QR.to_owned())
        );
    }
}
