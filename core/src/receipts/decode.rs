//! Reads the QR text from a shopper's receipt photo (JPEG or PNG) locally, so that
//! duplicates and junk are rejected before a paid ProverkaCheka call.

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use image::{ImageError, ImageReader, Limits};

/// Photos are downscaled to this longest side: phone photos carry far more pixels than
/// a receipt QR needs, and rqrr's cost grows with the pixel count.
const MAX_SIDE: u32 = 1600;

/// Time per picture (from the start of [`decode_qr_text`], image decoding included)
/// after which no further fallback pass is started. Readable photos are decoded in
/// 5–90 ms (BENCHMARKS.md, `## receipt-verifier`); past this point the remaining passes
/// rarely find anything, while on a noisy photo one of them can make rqrr chase
/// speckles for seconds. Giving up is cheap: the upload then goes to ProverkaCheka as
/// `qrfile`. A pass already running is not interrupted (rqrr cannot be stopped), so
/// this bounds how many passes run, not the worst case of a single one.
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

/// One way of reading the picture; `None` when it does not apply to this picture.
type Attempt = fn(&Gray) -> Option<Vec<String>>;

/// Finds and decodes a QR code in the image.
///
/// When the picture holds several codes, a fiscal one (`fn=`) is preferred. The cheap
/// pass (rqrr's own adaptive threshold) handles most photos; only when it finds nothing
/// fiscal are the fallbacks tried, cheapest and most productive first, until one finds
/// a fiscal code or [`DECODE_BUDGET`] is spent: a rescale (a quarter of the pixels for
/// large pictures, and halving averages sensor noise away), a local-mean binarisation
/// (faded prints next to a darker background, where rqrr's fixed 5 % margin fails),
/// Otsu's global threshold, inversion (light-on-dark codes) and a 90° rotation.
pub fn decode_qr_text(image_bytes: &[u8]) -> Result<String, DecodeError> {
    decode_qr_text_within(image_bytes, DECODE_BUDGET)
}

/// [`decode_qr_text`] with the budget as a parameter: tests check that it is honoured
/// without depending on how fast the machine is, and tests of a fallback pass lift it,
/// since unoptimised debug builds are about ten times slower than the release build
/// [`DECODE_BUDGET`] is sized for.
pub fn decode_qr_text_within(image_bytes: &[u8], budget: Duration) -> Result<String, DecodeError> {
    let started = Instant::now();
    if image_bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let gray = load_gray(image_bytes)?;

    // The rescale comes right after the cheap pass: it is the cheapest fallback, and on
    // noisy photos it is the one that reads the code while the bitmap passes below can
    // spend hundreds of milliseconds each on speckles (noisy-033 and noisy-048 of seed 1
    // are read only by it).
    let attempts: [Attempt; 6] = [
        |g| Some(scan_adaptive(g)),
        |g| g.rescaled().map(|s| scan_adaptive(&s)),
        |g| Some(scan_bitmap(&g.locally_binarised(false))),
        |g| Some(scan_bitmap(&g.binarised())),
        |g| Some(scan_bitmap(&g.locally_binarised(true))),
        |g| Some(scan_bitmap(&g.locally_binarised(false).rotated())),
    ];
    let mut other_text = None;
    for (index, attempt) in attempts.into_iter().enumerate() {
        // The cheap pass always runs, however long the image took to load: a slow JPEG
        // decode of a clear 12 MP photo must not cost the shopper the local read.
        if index > 0 && started.elapsed() >= budget {
            tracing::debug!(
                passes_tried = index,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "QR decode budget spent, leaving the picture to the provider"
            );
            break;
        }
        let Some(texts) = attempt(&gray) else {
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
