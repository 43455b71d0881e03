//! The hard corpus: receipt-QR pictures as shoppers really send them when things go
//! wrong (issue 16): tiny or frame-filling codes, faded print, bad light, shadows, blur,
//! crumpled paper, glare, e-receipt screenshots, all at JPEG quality 40–60.
//!
//! Every picture is a photo of a receipt built with [`ReceiptBuilder`] (its QR string is
//! what the picture must decode to), and every picture carries the ordinary troubles of
//! a phone photo on top of its main one: any rotation (a third of them near a quarter
//! turn), a slight slant, vignetting, lens softness, sensor noise and heavy JPEG. The
//! ranges were fixed from the issue and from what a phone camera does, before any
//! decoder was run on them; they are not tuned to a decoder. Like the first corpus,
//! everything derives from one seed through `StdRng`.

use std::f64::consts::PI;
use std::fmt;

use chrono::{NaiveDate, TimeDelta};
use image::imageops::FilterType;
use image::{GrayImage, Luma};
use promo_core::receipts::OperationType;
use qrcode::{Color, QrCode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::Homography;
use crate::receipts::{encode_jpeg, ReceiptBuilder};

/// The main trouble of a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// 2–3 px per module: the receipt photographed from afar.
    Tiny,
    /// 3–4 px per module.
    Small,
    /// The whole long receipt in the frame; the code covers 2–4 % of the picture.
    Distant,
    /// A close-up: the code fills the frame, its quiet zone partly cut off.
    FillsFrame,
    /// Faded thermal print: 20–50 grey levels between ink and paper.
    Faded,
    /// Strong vignetting and a light gradient across the frame, in dim light.
    UnevenLight,
    /// The shadow of the phone or of a finger falls across the code.
    Shadow,
    /// The hand moved: a linear smear of 0.4–1.2 modules in any direction.
    MotionBlur,
    /// Out of focus: a disk blur of 0.3–0.65 module radius.
    Defocus,
    /// Crumpled and flattened paper: a smooth warp (the print shifts with the paper's
    /// height) with a fold line and facet shading.
    Crumpled,
    /// Specular glare spots on glossy thermal paper, one of them on the code.
    Glare,
    /// A phone screenshot of an e-receipt, downscaled by Telegram and recompressed.
    Screenshot,
}

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::Tiny,
        Kind::Small,
        Kind::Distant,
        Kind::FillsFrame,
        Kind::Faded,
        Kind::UnevenLight,
        Kind::Shadow,
        Kind::MotionBlur,
        Kind::Defocus,
        Kind::Crumpled,
        Kind::Glare,
        Kind::Screenshot,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Tiny => "tiny",
            Kind::Small => "small",
            Kind::Distant => "distant",
            Kind::FillsFrame => "fills-frame",
            Kind::Faded => "faded",
            Kind::UnevenLight => "uneven-light",
            Kind::Shadow => "shadow",
            Kind::MotionBlur => "motion-blur",
            Kind::Defocus => "defocus",
            Kind::Crumpled => "crumpled",
            Kind::Glare => "glare",
            Kind::Screenshot => "screenshot",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One picture of the hard corpus and the fiscal QR text it encodes.
#[derive(Debug, Clone)]
pub struct HardImage {
    /// `<kind>-<index>`, stable for a seed.
    pub name: String,
    pub kind: Kind,
    pub qr_text: String,
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

impl HardImage {
    /// The picture as PNG, pixel for pixel what the JPEG decodes to.
    pub fn png(&self) -> Result<Vec<u8>, image::ImageError> {
        let decoded = image::load_from_memory(&self.jpeg)?;
        let mut bytes = std::io::Cursor::new(Vec::new());
        decoded.write_to(&mut bytes, image::ImageFormat::Png)?;
        Ok(bytes.into_inner())
    }
}

/// `per_kind` pictures of every [`Kind`], in a fixed order.
pub fn generate(seed: u64, per_kind: usize) -> Vec<HardImage> {
    let mut images = Vec::with_capacity(per_kind * Kind::ALL.len());
    for kind in Kind::ALL {
        for index in 0..per_kind {
            images.push(generate_one(seed, kind, index));
        }
    }
    images
}

/// One picture, reproducible on its own (its generator is seeded from all three inputs).
pub fn generate_one(seed: u64, kind: Kind, index: usize) -> HardImage {
    // Other constants than the first corpus, so that equal seeds give other receipts.
    let mut rng = StdRng::seed_from_u64(
        seed.wrapping_mul(0xA24B_AED4_963E_E407)
            ^ (kind as u64 + 1).wrapping_mul(0x9FB2_1C65_1E98_DF25)
            ^ (index as u64 + 1).wrapping_mul(0xC2B2_AE3D_27D4_EB4F),
    );
    let qr_text = receipt(&mut rng).qr_text();
    // Receipt strings are short; a failure would be a generator bug.
    let code = QrCode::new(qr_text.as_bytes())
        .unwrap_or_else(|e| panic!("{qr_text:?} does not fit a QR code: {e}"));
    let (image, quality) = if kind == Kind::Screenshot {
        screenshot(&code, &mut rng)
    } else {
        let photo = Photo::for_kind(kind, code.width() as f64, &mut rng);
        let image = photo.render(&code, &mut rng);
        (image, photo.jpeg_quality)
    };
    let (width, height) = image.dimensions();
    HardImage {
        name: format!("{}-{index:03}", kind.name()),
        kind,
        qr_text,
        jpeg: encode_jpeg(&image, quality),
        width,
        height,
    }
}

const PRODUCTS: [(&str, i64); 12] = [
    ("Молоко ПРОСТОКВАШИНО 3,2% 930мл", 10_999),
    ("Хлеб Бородинский нарез. 300г", 5_490),
    ("Чипсы Lay's сметана/лук 140г", 18_999),
    ("Кофе JACOBS Monarch раств. 95г", 39_990),
    ("Шоколад АЛЬПЕН ГОЛЬД молочн. 85г", 8_999),
    ("Пакет-майка 65х40", 899),
    ("Вода СВЯТОЙ ИСТОЧНИК негаз. 1,5л", 6_299),
    ("Сыр ЛАМБЕР 50% 230г", 32_900),
    ("Яйцо куриное С1 10шт", 11_990),
    ("Пельмени СИБИРСКАЯ КОЛЛЕКЦИЯ 700г", 44_999),
    ("Сок ДОБРЫЙ яблоко 1л", 13_499),
    ("Зубная паста COLGATE 100мл", 17_990),
];

/// A receipt with a random date, fiscal data and basket; its QR text is what the
/// picture encodes (seconds or not, 9- and 10-digit `fp`, rare refunds: spec §2).
fn receipt(rng: &mut StdRng) -> ReceiptBuilder {
    let day = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default()
        + TimeDelta::days(rng.gen_range(0..730));
    let time = day
        .and_hms_opt(
            rng.gen_range(7..23),
            rng.gen_range(0..60),
            rng.gen_range(0..60),
        )
        .unwrap_or_default();
    let fiscal_drive = format!(
        "{}{:015}",
        rng.gen_range(7..10),
        rng.gen_range(0..1_000_000_000_000_000u64)
    );
    let fp = if rng.gen_bool(0.3) {
        rng.gen_range(100_000_000..1_000_000_000u32)
    } else {
        rng.gen_range(1_000_000_000..=u32::MAX)
    };
    let mut builder = ReceiptBuilder::new()
        .fiscal(&fiscal_drive, rng.gen_range(1..200_000), fp)
        .date_time(time);
    for _ in 0..rng.gen_range(1..=6) {
        let (name, price) = PRODUCTS[rng.gen_range(0..PRODUCTS.len())];
        builder = builder.item(name, price, rng.gen_range(1..=3));
    }
    if rng.gen_bool(0.3) {
        builder = builder.weighted_item("Бананы вес", 14_990, rng.gen_range(0.4..2.5));
    }
    if rng.gen_bool(0.25) {
        builder = builder.qr_with_seconds();
    }
    if rng.gen_bool(0.03) {
        builder = builder.operation(OperationType::SaleRefund);
    }
    builder
}

/// A shadow across the picture: a half-plane or a band (a finger, a pen).
#[derive(Debug, Clone)]
struct Shadow {
    /// A point on the shadow's edge (the band's centre line) and the edge's normal.
    origin: (f64, f64),
    normal: (f64, f64),
    /// Half the band's width in pixels; `None` for a half-plane.
    half_width: Option<f64>,
    /// Fraction of the light taken away inside the shadow.
    depth: f64,
    /// Width of the penumbra in pixels.
    softness: f64,
}

impl Shadow {
    fn light(&self, x: f64, y: f64) -> f64 {
        let distance = (x - self.origin.0) * self.normal.0 + (y - self.origin.1) * self.normal.1;
        // Positive inside the shadow.
        let inside = match self.half_width {
            None => distance,
            Some(half) => half - distance.abs(),
        };
        let t = (inside / self.softness + 0.5).clamp(0.0, 1.0);
        1.0 - self.depth * t * t * (3.0 - 2.0 * t)
    }
}

/// Crumpled and flattened paper: a height field (long waves plus a fold line, in
/// module units) seen slightly off-axis, so that the print shifts with the height
/// (parallax, a few per cent of local stretch) and each facet is lit by its slope.
#[derive(Debug, Clone)]
struct Crumple {
    /// (amplitude, frequency u, frequency v, phase) of each wave of the height.
    waves: Vec<(f64, f64, f64, f64)>,
    /// Fold lines: unit normal, offset along it and the slope on either side.
    folds: Vec<(f64, f64, f64, f64)>,
    /// Shift of the print per module of height.
    parallax: (f64, f64),
    /// Brightness change per unit of slope towards the light.
    light: (f64, f64),
}

impl Crumple {
    fn random(modules: f64, rng: &mut StdRng) -> Crumple {
        // Steepest facets of 6–17°: smoothed out by hand, not balled up (the issue asks
        // for slight crumpling: at most ~9 % local stretch).
        let steepest: f64 = rng.gen_range(0.1..0.3);
        let waves = (0..4)
            .map(|_| {
                let wavelength: f64 = rng.gen_range(10.0..35.0);
                let direction: f64 = rng.gen_range(0.0..PI);
                let frequency = 2.0 * PI / wavelength;
                (
                    steepest / 4.0 / frequency * rng.gen_range(0.6..1.4),
                    frequency * direction.cos(),
                    frequency * direction.sin(),
                    rng.gen_range(0.0..2.0 * PI),
                )
            })
            .collect();
        let folds = (0..rng.gen_range(1..=2))
            .map(|_| {
                let direction: f64 = rng.gen_range(0.0..PI);
                (
                    direction.cos(),
                    direction.sin(),
                    rng.gen_range(0.0..modules) * (direction.cos() + direction.sin()),
                    rng.gen_range(0.05..0.15),
                )
            })
            .collect();
        let view: f64 = rng.gen_range(0.0..2.0 * PI);
        let off_axis = rng.gen_range(0.1..0.3);
        let sun: f64 = rng.gen_range(0.0..2.0 * PI);
        let shading = rng.gen_range(0.04..0.12) / steepest;
        Crumple {
            waves,
            folds,
            parallax: (off_axis * view.cos(), off_axis * view.sin()),
            light: (shading * sun.cos(), shading * sun.sin()),
        }
    }

    /// Height and its slope (d/du, d/dv) at a point of the paper.
    fn surface(&self, u: f64, v: f64) -> (f64, f64, f64) {
        let (mut height, mut du, mut dv) = (0.0, 0.0, 0.0);
        for &(a, fu, fv, phase) in &self.waves {
            let (sin, cos) = (fu * u + fv * v + phase).sin_cos();
            height += a * sin;
            du += a * fu * cos;
            dv += a * fv * cos;
        }
        for &(nu, nv, offset, slope) in &self.folds {
            let distance = nu * u + nv * v - offset;
            height += slope * distance.abs();
            du += slope * nu * distance.signum();
            dv += slope * nv * distance.signum();
        }
        (height, du, dv)
    }

    /// Where the print at (u, v) appears, and how bright its facet is lit.
    fn apply(&self, u: f64, v: f64) -> (f64, f64, f64) {
        let (height, du, dv) = self.surface(u, v);
        let light = 1.0 + du * self.light.0 + dv * self.light.1;
        (
            u + height * self.parallax.0,
            v + height * self.parallax.1,
            light.clamp(0.6, 1.3),
        )
    }
}

/// A slow texture of a table or cloth under the receipt, in pixel units.
fn texture(waves: &[(f64, f64, f64, f64)], x: f64, y: f64) -> f64 {
    waves
        .iter()
        .map(|&(a, fx, fy, phase)| a * (fx * x + fy * y + phase).sin())
        .sum()
}

/// A specular highlight: an elliptic spot that washes the print out towards white.
#[derive(Debug, Clone)]
struct Glare {
    centre: (f64, f64),
    /// Standard deviations along the spot's axes, in pixels, and the axis angle.
    sigma: (f64, f64),
    angle: f64,
    strength: f64,
}

impl Glare {
    fn weight(&self, x: f64, y: f64) -> f64 {
        let (sin, cos) = self.angle.sin_cos();
        let (dx, dy) = (x - self.centre.0, y - self.centre.1);
        let (a, b) = (dx * cos + dy * sin, -dx * sin + dy * cos);
        let r2 = (a / self.sigma.0).powi(2) + (b / self.sigma.1).powi(2);
        self.strength * (-r2 / 2.0).exp()
    }
}

/// A text line of the receipt: glyphs of 3×5 dots from `left`, one per 1.2 modules.
#[derive(Debug, Clone)]
struct TextLine {
    top: f64,
    left: f64,
    glyphs: Vec<u16>,
}

const GLYPH_WIDTH: f64 = 1.2;
const GLYPH_HEIGHT: f64 = 1.9;

impl TextLine {
    fn is_ink(&self, u: f64, v: f64) -> bool {
        if v < self.top || v >= self.top + GLYPH_HEIGHT || u < self.left {
            return false;
        }
        let cell = ((u - self.left) / GLYPH_WIDTH) as usize;
        let Some(&glyph) = self.glyphs.get(cell) else {
            return false;
        };
        // 3 columns in the first three quarters of the cell (the rest is letter spacing),
        // 5 rows.
        let fx = ((u - self.left) / GLYPH_WIDTH).fract() / 0.75;
        let fy = (v - self.top) / GLYPH_HEIGHT;
        if fx >= 1.0 {
            return false;
        }
        let bit = (fy * 5.0) as u16 * 3 + (fx * 3.0) as u16;
        glyph & (1 << bit) != 0
    }
}

/// Whether (u, v) is ink of one of `lines` (sorted by `top`, never overlapping).
fn is_text(lines: &[TextLine], u: f64, v: f64) -> bool {
    let after = lines.partition_point(|line| line.top <= v);
    after > 0 && lines[after - 1].is_ink(u, v)
}

fn text_lines(
    rng: &mut StdRng,
    from: f64,
    to: f64,
    left: f64,
    right: f64,
    pitch: f64,
) -> Vec<TextLine> {
    let mut lines = Vec::new();
    let mut top = from;
    while top + GLYPH_HEIGHT < to {
        let start = left + rng.gen_range(0.0..3.0);
        let count = rng.gen_range(3..(((right - start) / GLYPH_WIDTH) as usize).max(4));
        let glyphs = (0..count)
            .map(|_| {
                // A space now and then; otherwise a random dot pattern like a letter.
                if rng.gen_bool(0.15) {
                    0
                } else {
                    rng.gen_range(1u16..(1 << 15))
                }
            })
            .collect();
        lines.push(TextLine {
            top,
            left: start,
            glyphs,
        });
        top += pitch * rng.gen_range(0.9..1.3);
    }
    lines
}

/// A phone photo of a printed receipt.
#[derive(Debug, Clone)]
struct Photo {
    width: u32,
    height: u32,
    /// Image positions of the code's corners (top-left, top-right, bottom-right,
    /// bottom-left as printed).
    corners: [(f64, f64); 4],
    /// Paper extent around the code, in modules: left, right, top, bottom margins.
    paper_margins: (f64, f64, f64, f64),
    ink: f64,
    paper: f64,
    background: f64,
    /// Sensor noise, standard deviation in grey levels.
    noise: f64,
    /// Lens softness (Gaussian sigma in pixels), always present.
    lens_sigma: f64,
    /// Out-of-focus disk radius in pixels.
    defocus: f64,
    /// Motion smear length in pixels and its direction.
    motion: Option<(f64, f64)>,
    /// Light lost at the frame's corners (radial) around an off-centre point.
    vignette: f64,
    vignette_centre: (f64, f64),
    /// Linear fall-off of the light across the frame and its direction.
    gradient: f64,
    gradient_direction: f64,
    shadow: Option<Shadow>,
    crumple: Option<Crumple>,
    glares: Vec<Glare>,
    jpeg_quality: u8,
}

impl Photo {
    fn for_kind(kind: Kind, modules: f64, rng: &mut StdRng) -> Photo {
        let portrait = rng.gen_bool(0.5);
        let (width, height) = if portrait { (960, 1280) } else { (1280, 960) };
        let mut photo = Photo {
            width,
            height,
            corners: [(0.0, 0.0); 4],
            // A 58–80 mm strip around a 25–30 mm code.
            paper_margins: (
                modules * rng.gen_range(0.25..0.7),
                modules * rng.gen_range(0.25..0.7),
                rng.gen_range(25.0..80.0),
                rng.gen_range(5.0..25.0),
            ),
            ink: rng.gen_range(20.0..70.0),
            paper: rng.gen_range(175.0..235.0),
            background: rng.gen_range(30.0..200.0),
            noise: rng.gen_range(2.0..6.0),
            lens_sigma: rng.gen_range(0.25..0.6),
            defocus: 0.0,
            motion: None,
            vignette: rng.gen_range(0.1..0.35),
            vignette_centre: (rng.gen_range(0.3..0.7), rng.gen_range(0.3..0.7)),
            gradient: rng.gen_range(0.0..0.2),
            gradient_direction: rng.gen_range(0.0..2.0 * PI),
            shadow: None,
            crumple: None,
            glares: Vec::new(),
            jpeg_quality: rng.gen_range(40..=60),
        };
        let mut module = rng.gen_range(3.5..6.0);
        // A third of the shots are taken square to the receipt, possibly upside down or
        // sideways; the rest at any angle.
        let angle: f64 = if rng.gen_bool(0.35) {
            f64::from(rng.gen_range(0..4u8)) * 90.0 + rng.gen_range(-3.0..3.0)
        } else {
            rng.gen_range(0.0..360.0)
        };
        let keystone: f64 = rng.gen_range(-0.1..0.1);
        let tilt: f64 = rng.gen_range(-0.06..0.06);
        let (sin, cos) = angle.to_radians().sin_cos();
        let frame = (f64::from(width), f64::from(height));
        let short_side = frame.0.min(frame.1);
        match kind {
            Kind::Tiny => module = rng.gen_range(2.0..3.0),
            Kind::Small => module = rng.gen_range(3.0..4.0),
            Kind::Distant => {
                let share: f64 = rng.gen_range(0.02..0.04);
                module = (share * frame.0 * frame.1).sqrt() / modules;
                photo.paper_margins.2 = rng.gen_range(60.0..120.0);
            }
            Kind::FillsFrame => {
                // The turned code's bounding box spans 85–100 % of the short side.
                let extent = modules * (cos.abs() + sin.abs());
                module = rng.gen_range(0.85..1.0) * short_side / extent;
                photo.lens_sigma = module * rng.gen_range(0.03..0.08);
            }
            Kind::Faded => {
                photo.paper = rng.gen_range(165.0..225.0);
                photo.ink = photo.paper - rng.gen_range(20.0..50.0);
            }
            Kind::UnevenLight => {
                photo.vignette = rng.gen_range(0.45..0.7);
                photo.gradient = rng.gen_range(0.25..0.45);
                photo.noise = rng.gen_range(4.0..9.0);
            }
            Kind::Shadow => {}
            Kind::MotionBlur => {
                module = rng.gen_range(4.0..7.0);
                photo.motion = Some((module * rng.gen_range(0.4..1.2), rng.gen_range(0.0..PI)));
            }
            Kind::Defocus => {
                module = rng.gen_range(4.0..7.0);
                photo.defocus = module * rng.gen_range(0.3..0.65);
            }
            Kind::Crumpled => {
                module = rng.gen_range(4.0..7.0);
                photo.crumple = Some(Crumple::random(modules, rng));
            }
            Kind::Glare | Kind::Screenshot => {}
        }

        let side = module * modules;
        let half = side / 2.0;
        // The code stays in the frame (one module of room); where it lies is random.
        let reach = half * (cos.abs() + sin.abs()) * (1.0 + keystone.abs() + tilt.abs()) + module;
        let centre = |length: f64, rng: &mut StdRng| {
            if reach * 2.0 >= length {
                length / 2.0
            } else {
                rng.gen_range(reach..length - reach)
            }
        };
        let (cx, cy) = (centre(frame.0, rng), centre(frame.1, rng));
        let square = [
            (-half * (1.0 - keystone), -half * (1.0 - tilt)),
            (half * (1.0 - keystone), -half * (1.0 + tilt)),
            (half * (1.0 + keystone), half * (1.0 + tilt)),
            (-half * (1.0 + keystone), half * (1.0 - tilt)),
        ];
        for (corner, (x, y)) in photo.corners.iter_mut().zip(square) {
            *corner = (cx + x * cos - y * sin, cy + x * sin + y * cos);
        }

        // Troubles placed relative to the code need its position.
        let code_point = |rng: &mut StdRng| {
            let (u, v): (f64, f64) = (rng.gen_range(-0.5..0.5), rng.gen_range(-0.5..0.5));
            (
                cx + (u * cos - v * sin) * side,
                cy + (u * sin + v * cos) * side,
            )
        };
        match kind {
            Kind::Shadow => {
                let direction: f64 = rng.gen_range(0.0..2.0 * PI);
                photo.shadow = Some(Shadow {
                    origin: code_point(rng),
                    normal: (direction.cos(), direction.sin()),
                    half_width: rng
                        .gen_bool(0.35)
                        .then(|| side * rng.gen_range(0.15..0.4) / 2.0),
                    depth: rng.gen_range(0.35..0.65),
                    softness: rng.gen_range(1.0..12.0),
                });
            }
            Kind::Glare => {
                let spots = if rng.gen_bool(0.5) { 1 } else { 2 };
                for spot in 0..spots {
                    let centre = if spot == 0 {
                        code_point(rng)
                    } else {
                        (rng.gen_range(0.0..frame.0), rng.gen_range(0.0..frame.1))
                    };
                    let sigma = module * rng.gen_range(1.5..4.0);
                    photo.glares.push(Glare {
                        centre,
                        sigma: (sigma * rng.gen_range(1.0..2.5), sigma),
                        angle: rng.gen_range(0.0..PI),
                        strength: rng.gen_range(0.6..0.95),
                    });
                }
            }
            _ => {}
        }
        photo
    }

    fn render(&self, code: &QrCode, rng: &mut StdRng) -> GrayImage {
        let modules = code.width() as f64;
        let colors = code.to_colors();
        let to_paper = Homography::square_to_quad(&self.corners)
            .inverse()
            .unwrap_or(Homography::IDENTITY);
        let (left, right, top, bottom) = self.paper_margins;
        let mut lines = text_lines(
            rng,
            -top + 2.0,
            -3.0,
            -left + 1.0,
            modules + right - 1.0,
            3.2,
        );
        lines.extend(text_lines(
            rng,
            modules + 3.0,
            modules + bottom - 1.0,
            -left + 1.0,
            modules + right - 1.0,
            3.2,
        ));
        // A table or a hand: a slow texture so the background is not a flat grey.
        let background: Vec<(f64, f64, f64, f64)> = (0..3)
            .map(|_| {
                let direction: f64 = rng.gen_range(0.0..PI);
                let frequency = 2.0 * PI / rng.gen_range(120.0..500.0);
                (
                    rng.gen_range(2.0..7.0),
                    frequency * direction.cos(),
                    frequency * direction.sin(),
                    rng.gen_range(0.0..2.0 * PI),
                )
            })
            .collect();

        // Radiance of one point of the scene, before the light falls on it.
        let scene = |x: f64, y: f64| -> f64 {
            let (u, v) = to_paper.apply(x, y);
            let (mut u, mut v) = (u * modules, v * modules);
            let mut fold = 1.0;
            if let Some(crumple) = &self.crumple {
                (u, v, fold) = crumple.apply(u, v);
            }
            let on_paper =
                (-left..modules + right).contains(&u) && (-top..modules + bottom).contains(&v);
            if !on_paper {
                return self.background + texture(&background, x, y);
            }
            let in_code = (0.0..modules).contains(&u) && (0.0..modules).contains(&v);
            let dark = if in_code {
                colors[v as usize * code.width() + u as usize] == Color::Dark
            } else {
                is_text(&lines, u, v)
            };
            fold * if dark { self.ink } else { self.paper }
        };

        let (w, h) = (self.width as usize, self.height as usize);
        // The code's box gets up to 4×4 samples per pixel, enough for a dozen per module
        // (module edges come out grey as through a real sensor); the rest of the
        // frame, one sample.
        let (top_left, top_right) = (self.corners[0], self.corners[1]);
        let module = (top_right.0 - top_left.0).hypot(top_right.1 - top_left.1) / modules;
        let samples = (12.0 / module).ceil().clamp(2.0, 4.0) as u32;
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for (x, y) in self.corners {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
        let pad = 4.0 + (x1 - x0) / modules * 2.0;
        let inside_box = |x: usize, y: usize| {
            let (x, y) = (x as f64, y as f64);
            x >= x0 - pad && x <= x1 + pad && y >= y0 - pad && y <= y1 + pad
        };
        let mut pixels = vec![0f32; w * h];
        for y in 0..h {
            for x in 0..w {
                let value = if inside_box(x, y) {
                    let mut sum = 0.0;
                    let step = f64::from(samples);
                    for sy in 0..samples {
                        for sx in 0..samples {
                            let (dx, dy) =
                                ((f64::from(sx) + 0.5) / step, (f64::from(sy) + 0.5) / step);
                            sum += scene(x as f64 + dx, y as f64 + dy);
                        }
                    }
                    sum / (step * step)
                } else {
                    scene(x as f64 + 0.5, y as f64 + 0.5)
                };
                pixels[y * w + x] = value as f32;
            }
        }

        // Light: vignette, gradient and shadow darken; glare washes out towards white.
        let (gx, gy) = (self.gradient_direction.cos(), self.gradient_direction.sin());
        for y in 0..h {
            for x in 0..w {
                let (nx, ny) = (x as f64 / w as f64, y as f64 / h as f64);
                let (rx, ry) = (nx - self.vignette_centre.0, ny - self.vignette_centre.1);
                // Squared distance, 1 at the farthest corner from a centred point.
                let radial = (rx * rx + ry * ry) / 0.5;
                let mut light = (1.0 - self.vignette * radial).max(0.05);
                let along = ((nx - 0.5) * gx + (ny - 0.5) * gy) * std::f64::consts::SQRT_2 + 0.5;
                light *= 1.0 - self.gradient * along.clamp(0.0, 1.0);
                if let Some(shadow) = &self.shadow {
                    light *= shadow.light(x as f64, y as f64);
                }
                let mut value = f64::from(pixels[y * w + x]) * light;
                for glare in &self.glares {
                    value += (262.0 - value) * glare.weight(x as f64, y as f64);
                }
                pixels[y * w + x] = value as f32;
            }
        }

        // Optics, then the sensor.
        if let Some((length, direction)) = self.motion {
            pixels = motion_blur(&pixels, w, h, length, direction);
        }
        if self.defocus > 0.0 {
            pixels = disk_blur(&pixels, w, h, self.defocus);
        }
        gaussian_blur(&mut pixels, w, h, self.lens_sigma);
        let mut image = GrayImage::new(self.width, self.height);
        for (x, y, pixel) in image.enumerate_pixels_mut() {
            // Sum of three uniforms on [-1, 1) (σ = 1 together), cut from one 64-bit
            // draw: a cheap, bounded, bell-shaped noise.
            let bits: u64 = rng.gen();
            let uniform =
                |shift: u32| ((bits >> shift) & 0x1F_FFFF) as f64 / f64::from(1u32 << 20) - 1.0;
            let noise = (uniform(0) + uniform(21) + uniform(42)) * self.noise;
            let base = f64::from(pixels[y as usize * w + x as usize]);
            *pixel = Luma([(base + noise).round().clamp(0.0, 255.0) as u8]);
        }
        image
    }
}

/// A screenshot of an e-receipt page on a phone (light or dark theme), as Telegram
/// delivers it: downscaled to 1280 px on the long side and recompressed.
fn screenshot(code: &QrCode, rng: &mut StdRng) -> (GrayImage, u8) {
    const SCREENS: [(u32, u32, f64); 4] = [
        (1080, 2400, 2.625),
        (1170, 2532, 3.0),
        (1080, 2340, 2.75),
        (720, 1600, 2.0),
    ];
    let (w, h, ratio) = SCREENS[rng.gen_range(0..SCREENS.len())];
    let dark_theme = rng.gen_bool(0.3);
    let (page, text) = if dark_theme {
        (rng.gen_range(18.0..40.0), rng.gen_range(190.0..235.0))
    } else {
        (rng.gen_range(242.0..256.0), rng.gen_range(25.0..80.0))
    };
    let modules = code.width() as f64;
    let colors = code.to_colors();
    // The page shows the code 150–260 CSS px wide on a white card with a thin margin.
    let side = rng.gen_range(150.0..260.0) * ratio;
    let module = side / modules;
    let margin = module * rng.gen_range(1.5..4.0);
    let left = (f64::from(w) - side) / 2.0;
    let top = f64::from(h) * rng.gen_range(0.4..0.7) - side / 2.0;
    // Text of the receipt page above and below the card, in the code's module units.
    let unit = ratio * rng.gen_range(3.0..4.5);
    let lines = text_lines(
        rng,
        (ratio * 80.0) / unit,
        f64::from(h) / unit,
        16.0 * ratio / unit,
        (f64::from(w) - 16.0 * ratio) / unit,
        2.6,
    );
    let card = (
        left - margin,
        top - margin,
        left + side + margin,
        top + side + margin,
    );
    let shade = |x: f64, y: f64| -> f64 {
        if y < ratio * 24.0 {
            // Status bar.
            return if dark_theme { 0.0 } else { 235.0 };
        }
        if x >= card.0 && x < card.2 && y >= card.1 && y < card.3 {
            let (u, v) = ((x - left) / module, (y - top) / module);
            let in_code = (0.0..modules).contains(&u) && (0.0..modules).contains(&v);
            return if in_code && colors[v as usize * code.width() + u as usize] == Color::Dark {
                0.0
            } else {
                255.0
            };
        }
        if is_text(&lines, x / unit, y / unit) {
            text
        } else {
            page
        }
    };
    // The browser draws the code's image smoothly scaled: 2×2 samples per pixel.
    let image = GrayImage::from_fn(w, h, |x, y| {
        let mut sum = 0.0;
        for (dx, dy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
            sum += shade(f64::from(x) + dx, f64::from(y) + dy);
        }
        Luma([(sum / 4.0).round().clamp(0.0, 255.0) as u8])
    });
    let scale = 1280.0 / f64::from(w.max(h));
    let (tw, th) = (
        (f64::from(w) * scale).round() as u32,
        (f64::from(h) * scale).round() as u32,
    );
    let image = image::imageops::resize(&image, tw, th, FilterType::Triangle);
    (image, rng.gen_range(40..=60))
}

/// Separable Gaussian blur with edges clamped.
fn gaussian_blur(pixels: &mut [f32], w: usize, h: usize, sigma: f64) {
    if sigma <= 0.05 {
        return;
    }
    let radius = (sigma * 3.0).ceil() as isize;
    let mut kernel: Vec<f32> = (-radius..=radius)
        .map(|i| (-(i as f64).powi(2) / (2.0 * sigma * sigma)).exp() as f32)
        .collect();
    let total: f32 = kernel.iter().sum();
    kernel.iter_mut().for_each(|k| *k /= total);
    let mut line = vec![0f32; w.max(h)];
    for y in 0..h {
        let row = &pixels[y * w..(y + 1) * w];
        for (x, out) in line.iter_mut().enumerate().take(w) {
            *out = kernel
                .iter()
                .enumerate()
                .map(|(k, weight)| {
                    let at = (x as isize + k as isize - radius).clamp(0, w as isize - 1);
                    weight * row[at as usize]
                })
                .sum();
        }
        pixels[y * w..(y + 1) * w].copy_from_slice(&line[..w]);
    }
    for x in 0..w {
        for (y, out) in line.iter_mut().enumerate().take(h) {
            *out = kernel
                .iter()
                .enumerate()
                .map(|(k, weight)| {
                    let at = (y as isize + k as isize - radius).clamp(0, h as isize - 1);
                    weight * pixels[at as usize * w + x]
                })
                .sum();
        }
        for (y, value) in line.iter().enumerate().take(h) {
            pixels[y * w + x] = *value;
        }
    }
}

/// Out-of-focus blur: the mean over a disk of `radius` pixels, summed row by row from
/// prefix sums (fractional row ends interpolated), edges clamped.
fn disk_blur(pixels: &[f32], w: usize, h: usize, radius: f64) -> Vec<f32> {
    let stride = w + 1;
    let mut prefix = vec![0f64; stride * h];
    for y in 0..h {
        for x in 0..w {
            prefix[y * stride + x + 1] = prefix[y * stride + x] + f64::from(pixels[y * w + x]);
        }
    }
    // Sum of row `y` over [a, b) in continuous coordinates, clamped to the row.
    let span = |y: usize, a: f64, b: f64| -> f64 {
        let at = |t: f64| -> f64 {
            let t = t.clamp(0.0, w as f64);
            let i = (t.floor() as usize).min(w - 1);
            let f = t - i as f64;
            prefix[y * stride + i] * (1.0 - f) + prefix[y * stride + i + 1] * f
        };
        at(b) - at(a)
    };
    let reach = radius.ceil() as isize;
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let (mut sum, mut area) = (0.0, 0.0);
            for dy in -reach..=reach {
                let half = (radius * radius - (dy * dy) as f64).max(0.0).sqrt();
                if half <= 0.0 {
                    continue;
                }
                let row = (y as isize + dy).clamp(0, h as isize - 1) as usize;
                let centre = x as f64 + 0.5;
                sum += span(row, centre - half, centre + half);
                area += (centre + half).min(w as f64) - (centre - half).max(0.0);
            }
            out[y * w + x] = if area > 0.0 {
                (sum / area) as f32
            } else {
                pixels[y * w + x]
            };
        }
    }
    out
}

/// A linear smear: the mean of bilinear samples along a segment of `length` pixels.
fn motion_blur(pixels: &[f32], w: usize, h: usize, length: f64, direction: f64) -> Vec<f32> {
    let steps = length.ceil().max(1.0) as usize + 1;
    let (dx, dy) = (direction.cos(), direction.sin());
    let sample = |x: f64, y: f64| -> f32 {
        let x = x.clamp(0.0, (w - 1) as f64);
        let y = y.clamp(0.0, (h - 1) as f64);
        let (ix, iy) = (x.floor() as usize, y.floor() as usize);
        let (jx, jy) = ((ix + 1).min(w - 1), (iy + 1).min(h - 1));
        let (fx, fy) = ((x - ix as f64) as f32, (y - iy as f64) as f32);
        let top = pixels[iy * w + ix] * (1.0 - fx) + pixels[iy * w + jx] * fx;
        let bottom = pixels[jy * w + ix] * (1.0 - fx) + pixels[jy * w + jx] * fx;
        top * (1.0 - fy) + bottom * fy
    };
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut sum = 0.0;
            for step in 0..steps {
                let t = (step as f64 / (steps - 1) as f64 - 0.5) * length;
                sum += sample(x as f64 + t * dx, y as f64 + t * dy);
            }
            out[y * w + x] = sum / steps as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use promo_core::receipts::FiscalQr;

    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_hard_pictures() {
        let a = generate_one(3, Kind::Glare, 1);
        let b = generate_one(3, Kind::Glare, 1);
        assert_eq!(a.qr_text, b.qr_text);
        assert_eq!(a.jpeg, b.jpeg);
        assert_ne!(a.qr_text, generate_one(4, Kind::Glare, 1).qr_text);
    }

    #[test]
    fn every_hard_picture_encodes_a_valid_fiscal_qr_of_a_built_receipt() {
        for kind in Kind::ALL {
            let image = generate_one(1, kind, 0);
            assert!(FiscalQr::parse(&image.qr_text).is_ok(), "{}", image.qr_text);
            assert!(image.width >= 590 && image.height >= 590, "{}", image.name);
        }
    }

    #[test]
    fn a_shadow_darkens_one_side_of_its_edge_only() {
        let shadow = Shadow {
            origin: (100.0, 0.0),
            normal: (1.0, 0.0),
            half_width: None,
            depth: 0.5,
            softness: 4.0,
        };
        assert_eq!(shadow.light(50.0, 10.0), 1.0);
        assert_eq!(shadow.light(150.0, 10.0), 0.5);
        assert!((shadow.light(100.0, 10.0) - 0.75).abs() < 1e-9);
    }

    #[test]
    fn the_blurs_keep_a_flat_picture_flat() {
        let flat = vec![100f32; 40 * 30];
        for blurred in [
            disk_blur(&flat, 40, 30, 3.3),
            motion_blur(&flat, 40, 30, 6.5, 0.7),
        ] {
            assert!(blurred.iter().all(|&p| (p - 100.0).abs() < 1e-3));
        }
        let mut gaussian = flat.clone();
        gaussian_blur(&mut gaussian, 40, 30, 1.2);
        assert!(gaussian.iter().all(|&p| (p - 100.0).abs() < 1e-3));
    }
}
