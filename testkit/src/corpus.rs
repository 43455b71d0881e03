//! A reproducible corpus of receipt-QR photos for the decoder benchmark and tests: real
//! fiscal QR strings (domain spec §2) on a simulated receipt, photographed turned,
//! blurred, at a slant, noisy, faded, tiny in the frame or at full phone resolution.
//!
//! Everything derives from one seed through `StdRng` (ChaCha12 in rand 0.8), so a seed
//! names the same pictures on every machine and run. The harder pictures of issue 16
//! (tiny codes, glare, shadows, crumpled paper, screenshots, JPEG 40–60) are in [`hard`].

use std::fmt;

use crate::receipts::encode_jpeg;
use chrono::{Duration as TimeDelta, NaiveDate};
use image::{GrayImage, Luma};
use qrcode::{Color, QrCode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub mod hard;

/// What was done to the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Distortion {
    /// Held straight, evenly lit: the baseline.
    Clean,
    /// Turned by any angle, upside down included.
    Rotated,
    /// Out of focus (two box-blur passes of up to half a module).
    Blurred,
    /// Photographed at a slant: keystone and side tilt.
    Perspective,
    /// High-ISO sensor noise in dim light.
    Noisy,
    /// A faded thermal print: grey ink on grey paper.
    LowContrast,
    /// The code is small in a small picture (about 3 px per module).
    Small,
    /// A 12-megapixel original, sent as a document.
    Large,
}

impl Distortion {
    pub const ALL: [Distortion; 8] = [
        Distortion::Clean,
        Distortion::Rotated,
        Distortion::Blurred,
        Distortion::Perspective,
        Distortion::Noisy,
        Distortion::LowContrast,
        Distortion::Small,
        Distortion::Large,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Distortion::Clean => "clean",
            Distortion::Rotated => "rotated",
            Distortion::Blurred => "blurred",
            Distortion::Perspective => "perspective",
            Distortion::Noisy => "noisy",
            Distortion::LowContrast => "low-contrast",
            Distortion::Small => "small",
            Distortion::Large => "large",
        }
    }
}

impl fmt::Display for Distortion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One picture of the corpus and the text its QR code holds.
#[derive(Debug, Clone)]
pub struct CorpusImage {
    /// `<distortion>-<index>`, stable for a seed.
    pub name: String,
    pub distortion: Distortion,
    pub qr_text: String,
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

impl CorpusImage {
    /// The picture as PNG, pixel for pixel what the JPEG decodes to (for viewers that
    /// show PNG only).
    pub fn png(&self) -> Result<Vec<u8>, image::ImageError> {
        let decoded = image::load_from_memory(&self.jpeg)?;
        let mut bytes = std::io::Cursor::new(Vec::new());
        decoded.write_to(&mut bytes, image::ImageFormat::Png)?;
        Ok(bytes.into_inner())
    }
}

/// `per_kind` pictures of every [`Distortion`], in a fixed order.
pub fn generate(seed: u64, per_kind: usize) -> Vec<CorpusImage> {
    let mut images = Vec::with_capacity(per_kind * Distortion::ALL.len());
    for distortion in Distortion::ALL {
        for index in 0..per_kind {
            images.push(generate_one(seed, distortion, index));
        }
    }
    images
}

/// One picture, reproducible on its own (its generator is seeded from all three inputs).
pub fn generate_one(seed: u64, distortion: Distortion, index: usize) -> CorpusImage {
    let mut rng = StdRng::seed_from_u64(
        seed ^ (distortion as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03),
    );
    let qr_text = receipt_qr_text(&mut rng);
    let scene = Scene::for_distortion(distortion, &mut rng);
    let image = scene.render(&qr_text, &mut rng);
    let (width, height) = image.dimensions();
    CorpusImage {
        name: format!("{}-{index:03}", distortion.name()),
        distortion,
        qr_text,
        jpeg: encode_jpeg(&image, scene.jpeg_quality),
        width,
        height,
    }
}

/// A QR string as registers print it, with the variations of domain spec §2.2 (seconds
/// or not, `T` or `t`, short `fp`, integer sums are rare but legal).
pub fn receipt_qr_text(rng: &mut StdRng) -> String {
    let day = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default()
        + TimeDelta::days(rng.gen_range(0..730));
    let time = day
        .and_hms_opt(
            rng.gen_range(7..23),
            rng.gen_range(0..60),
            rng.gen_range(0..60),
        )
        .unwrap_or_default();
    let t = match rng.gen_range(0..4) {
        0 => time.format("%Y%m%dT%H%M%S").to_string(),
        1 => time.format("%Y%m%dt%H%M").to_string(),
        _ => time.format("%Y%m%dT%H%M").to_string(),
    };
    let kopecks: u64 = rng.gen_range(1_000..2_500_000);
    let s = if rng.gen_bool(0.05) {
        format!("{}", kopecks / 100)
    } else {
        format!("{}.{:02}", kopecks / 100, kopecks % 100)
    };
    let fn_ = format!(
        "{}{:015}",
        rng.gen_range(7..10),
        rng.gen_range(0..1_000_000_000_000_000u64)
    );
    let i = rng.gen_range(1..200_000u32);
    let fp = if rng.gen_bool(0.3) {
        rng.gen_range(100_000_000..1_000_000_000u32)
    } else {
        rng.gen_range(1_000_000_000..=u32::MAX)
    };
    format!("t={t}&s={s}&fn={fn_}&i={i}&fp={fp}&n=1")
}

/// Where the receipt lies in the picture and how the picture was taken.
#[derive(Debug, Clone)]
struct Scene {
    width: u32,
    height: u32,
    /// Image positions of the QR's corners (top-left, top-right, bottom-right,
    /// bottom-left of the code as printed).
    corners: [(f64, f64); 4],
    ink: f64,
    paper: f64,
    background: f64,
    /// Standard deviation of the sensor noise, in grey levels.
    noise: f64,
    /// Box-blur radius in pixels (two passes, close to a Gaussian).
    blur: u32,
    /// How much darker the far corner is than the near one.
    vignette: f64,
    jpeg_quality: u8,
}

impl Scene {
    fn for_distortion(distortion: Distortion, rng: &mut StdRng) -> Scene {
        let mut scene = Scene {
            width: 1280,
            height: 960,
            corners: [(0.0, 0.0); 4],
            ink: rng.gen_range(25.0..60.0),
            paper: rng.gen_range(200.0..235.0),
            background: rng.gen_range(60.0..170.0),
            noise: rng.gen_range(2.0..6.0),
            blur: 0,
            vignette: rng.gen_range(0.0..0.2),
            jpeg_quality: rng.gen_range(75..90),
        };
        let mut module = rng.gen_range(5.0..8.0);
        let mut angle: f64 = rng.gen_range(-6.0..6.0);
        let mut keystone = 0.0;
        let mut tilt = 0.0;
        match distortion {
            Distortion::Clean => {}
            Distortion::Rotated => angle = rng.gen_range(-180.0..180.0),
            Distortion::Blurred => {
                module = rng.gen_range(6.0..9.0);
                scene.blur = rng.gen_range(1..=((module * 0.45) as u32).max(1));
            }
            Distortion::Perspective => {
                keystone = rng.gen_range(0.12..0.3) * if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
                tilt = rng.gen_range(-0.15..0.15);
                angle = rng.gen_range(-15.0..15.0);
            }
            Distortion::Noisy => scene.noise = rng.gen_range(14.0..26.0),
            Distortion::LowContrast => {
                scene.ink = rng.gen_range(100.0..135.0);
                scene.paper = rng.gen_range(185.0..215.0);
                scene.vignette = rng.gen_range(0.1..0.25);
            }
            Distortion::Small => {
                scene.width = 640;
                scene.height = 480;
                module = rng.gen_range(3.0..4.0);
            }
            Distortion::Large => {
                scene.width = 4032;
                scene.height = 3024;
                module = rng.gen_range(14.0..24.0);
                scene.noise = rng.gen_range(3.0..8.0);
            }
        }
        // 37 modules (version 5) is typical for these strings; the exact size is
        // applied when rendering, here only the on-screen extent matters.
        let side = module * 37.0;
        let margin = side * 0.9;
        let cx = rng.gen_range(margin..(f64::from(scene.width) - margin).max(margin + 1.0));
        let cy = rng.gen_range(margin..(f64::from(scene.height) - margin).max(margin + 1.0));
        let half = side / 2.0;
        // The square before the slant, then the slant: the top edge narrows (keystone)
        // and one side gets shorter (tilt), as when the phone is not parallel to the paper.
        let square = [
            (-half * (1.0 - keystone), -half * (1.0 - tilt)),
            (half * (1.0 - keystone), -half * (1.0 + tilt)),
            (half * (1.0 + keystone), half * (1.0 + tilt)),
            (-half * (1.0 + keystone), half * (1.0 - tilt)),
        ];
        let (sin, cos) = angle.to_radians().sin_cos();
        for (corner, (x, y)) in scene.corners.iter_mut().zip(square) {
            *corner = (cx + x * cos - y * sin, cy + x * sin + y * cos);
        }
        scene
    }

    fn render(&self, text: &str, rng: &mut StdRng) -> GrayImage {
        // Receipt strings are short; a failure would be a generator bug.
        let code = QrCode::new(text.as_bytes())
            .unwrap_or_else(|e| panic!("{text:?} does not fit a QR code: {e}"));
        let modules = code.width() as f64;
        let colors = code.to_colors();
        let to_paper = match Homography::square_to_quad(&self.corners).inverse() {
            Some(inverse) => inverse,
            None => Homography::IDENTITY,
        };
        // Fake printed lines above and below the code, in module units.
        let lines: Vec<(f64, f64, f64)> = (0..10)
            .map(|i| {
                let top = if i < 6 {
                    -34.0 + f64::from(i) * 5.0
                } else {
                    modules + 5.0 + f64::from(i - 6) * 4.5
                };
                let length = rng.gen_range(8.0..modules + 10.0);
                (top, -6.0, -6.0 + length)
            })
            .collect();
        let shade = |u: f64, v: f64| -> f64 {
            let on_paper =
                (-8.0..modules + 8.0).contains(&u) && (-40.0..modules + 30.0).contains(&v);
            if !on_paper {
                return self.background;
            }
            let in_code = (0.0..modules).contains(&u) && (0.0..modules).contains(&v);
            let dark = if in_code {
                colors[v as usize * code.width() + u as usize] == Color::Dark
            } else {
                lines.iter().any(|&(top, left, right)| {
                    (top..top + 1.5).contains(&v) && (left..right).contains(&u)
                }) && (u * 3.0).fract() < 0.7
            };
            if dark {
                self.ink
            } else {
                self.paper
            }
        };

        let (w, h) = (self.width as usize, self.height as usize);
        let mut pixels = vec![0f32; w * h];
        // 2×2 samples per pixel: edges come out grey like through a real lens.
        const OFFSETS: [(f64, f64); 4] = [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)];
        for y in 0..h {
            for x in 0..w {
                let mut sum = 0.0;
                for (dx, dy) in OFFSETS {
                    let (u, v) = to_paper.apply(x as f64 + dx, y as f64 + dy);
                    sum += shade(u * modules, v * modules);
                }
                pixels[y * w + x] = (sum / 4.0) as f32;
            }
        }
        for _ in 0..2 {
            box_blur(&mut pixels, w, h, self.blur as usize);
        }
        let mut image = GrayImage::new(self.width, self.height);
        for (x, y, pixel) in image.enumerate_pixels_mut() {
            let light = 1.0
                - self.vignette
                    * (f64::from(x) / self.width as f64 + f64::from(y) / self.height as f64)
                    / 2.0;
            // Sum of three uniforms: a cheap, bounded, bell-shaped noise.
            let noise = if self.noise > 0.0 {
                (rng.gen_range(-1.0..1.0) + rng.gen_range(-1.0..1.0) + rng.gen_range(-1.0..1.0))
                    * self.noise
            } else {
                0.0
            };
            let base = f64::from(pixels[y as usize * w + x as usize]);
            *pixel = Luma([(base * light + noise).clamp(0.0, 255.0) as u8]);
        }
        image
    }
}

/// A plane projective map `(x, y) → ((a x + b y + c) / (g x + h y + 1), …)`.
#[derive(Debug, Clone, Copy)]
struct Homography([f64; 9]);

impl Homography {
    const IDENTITY: Homography = Homography([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);

    /// The map of the unit square's corners (0,0), (1,0), (1,1), (0,1) onto `quad`
    /// (Heckbert, "Fundamentals of Texture Mapping", 1989).
    fn square_to_quad(quad: &[(f64, f64); 4]) -> Homography {
        let [(x0, y0), (x1, y1), (x2, y2), (x3, y3)] = *quad;
        let (dx1, dx2, dx3) = (x1 - x2, x3 - x2, x0 - x1 + x2 - x3);
        let (dy1, dy2, dy3) = (y1 - y2, y3 - y2, y0 - y1 + y2 - y3);
        let den = dx1 * dy2 - dx2 * dy1;
        let (g, h) = if den.abs() < 1e-12 {
            (0.0, 0.0)
        } else {
            ((dx3 * dy2 - dx2 * dy3) / den, (dx1 * dy3 - dx3 * dy1) / den)
        };
        Homography([
            x1 - x0 + g * x1,
            x3 - x0 + h * x3,
            x0,
            y1 - y0 + g * y1,
            y3 - y0 + h * y3,
            y0,
            g,
            h,
            1.0,
        ])
    }

    fn inverse(&self) -> Option<Homography> {
        let [a, b, c, d, e, f, g, h, i] = self.0;
        let m = [
            e * i - f * h,
            c * h - b * i,
            b * f - c * e,
            f * g - d * i,
            a * i - c * g,
            c * d - a * f,
            d * h - e * g,
            b * g - a * h,
            a * e - b * d,
        ];
        let det = a * m[0] + b * m[3] + c * m[6];
        if det.abs() < 1e-12 {
            return None;
        }
        Some(Homography(m.map(|v| v / det)))
    }

    fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let [a, b, c, d, e, f, g, h, i] = self.0;
        let w = g * x + h * y + i;
        ((a * x + b * y + c) / w, (d * x + e * y + f) / w)
    }
}

/// Mean over a (2r+1)² window, rows then columns, edges clamped.
fn box_blur(pixels: &mut [f32], w: usize, h: usize, radius: usize) {
    if radius == 0 || w == 0 || h == 0 {
        return;
    }
    let mut line = Vec::with_capacity(w.max(h));
    let blur_line = |line: &mut Vec<f32>, get: &dyn Fn(usize) -> f32, n: usize| {
        line.clear();
        let window = (2 * radius + 1) as f32;
        let at = |i: isize| get(i.clamp(0, n as isize - 1) as usize);
        let mut sum: f32 = (-(radius as isize)..=radius as isize).map(at).sum();
        for i in 0..n as isize {
            line.push(sum / window);
            sum += at(i + radius as isize + 1) - at(i - radius as isize);
        }
    };
    for y in 0..h {
        let row: Vec<f32> = pixels[y * w..(y + 1) * w].to_vec();
        blur_line(&mut line, &|x| row[x], w);
        pixels[y * w..(y + 1) * w].copy_from_slice(&line);
    }
    for x in 0..w {
        let column: Vec<f32> = (0..h).map(|y| pixels[y * w + x]).collect();
        blur_line(&mut line, &|y| column[y], h);
        for (y, value) in line.iter().enumerate() {
            pixels[y * w + x] = *value;
        }
    }
}

#[cfg(test)]
mod tests {
    use promo_core::receipts::FiscalQr;

    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_pictures() {
        let a = generate_one(7, Distortion::Small, 3);
        let b = generate_one(7, Distortion::Small, 3);
        assert_eq!(a.qr_text, b.qr_text);
        assert_eq!(a.jpeg, b.jpeg);
        let c = generate_one(8, Distortion::Small, 3);
        assert_ne!(a.qr_text, c.qr_text);
    }

    #[test]
    fn every_generated_string_is_a_valid_fiscal_qr() {
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..500 {
            let text = receipt_qr_text(&mut rng);
            assert!(FiscalQr::parse(&text).is_ok(), "{text}");
        }
    }

    #[test]
    fn the_unit_square_maps_onto_the_quad_and_back() {
        let quad = [(100.0, 80.0), (300.0, 95.0), (320.0, 260.0), (90.0, 240.0)];
        let forward = Homography::square_to_quad(&quad);
        for ((u, v), expected) in [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
            .into_iter()
            .zip(quad)
        {
            let (x, y) = forward.apply(u, v);
            assert!((x - expected.0).abs() < 1e-9 && (y - expected.1).abs() < 1e-9);
            let back = forward.inverse().map(|inverse| inverse.apply(x, y));
            let (bu, bv) = back.unwrap_or((f64::NAN, f64::NAN));
            assert!((bu - u).abs() < 1e-9 && (bv - v).abs() < 1e-9);
        }
    }

    #[test]
    fn clean_and_distorted_pictures_decode_to_their_text() {
        for distortion in [
            Distortion::Clean,
            Distortion::Rotated,
            Distortion::Perspective,
        ] {
            let image = generate_one(42, distortion, 0);
            let decoded = promo_core::receipts::decode_qr_text(&image.jpeg);
            assert_eq!(
                decoded.as_deref(),
                Ok(image.qr_text.as_str()),
                "{}",
                image.name
            );
        }
    }
}
