//! Reading the QR text from receipt pictures: clean codes, simulated phone photos and
//! garbage bytes.

use std::io::Cursor;
use std::time::{Duration, Instant};

use image::{GrayImage, ImageFormat, Luma};
use promo_core::receipts::decode::{
    decode_qr_text, decode_qr_text_within, DecodeError, DECODE_BUDGET,
};
use promo_core::receipts::FiscalQr;
use promo_testkit::corpus::{self, hard};
use promo_testkit::receipts::{qr_jpeg, qr_photo_jpeg, qr_png, PhotoOptions, ReceiptBuilder};

/// For tests of a fallback pass: debug builds are about ten times slower than the
/// release build the time budget is sized for.
const UNLIMITED: Duration = Duration::MAX;

/// Pictures of every hard-corpus kind decoded by the test suite (the bench decodes 50
/// per kind), and the share of them that must be read: one of these 24 (`shadow-001`,
/// a hard-edged shadow band across the code) is missed.
const HARD_SAMPLE_PER_KIND: usize = 2;
const HARD_SAMPLE_MIN_PERCENT: usize = 95;

fn png_of(image: &GrayImage) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, ImageFormat::Png)
        .expect("PNG encodes");
    bytes.into_inner()
}

#[test]
fn a_built_receipt_survives_the_round_trip_through_a_png_qr() {
    let receipt = ReceiptBuilder::pyaterochka();
    let text = decode_qr_text(&qr_png(&receipt.qr_text())).expect("the QR is read");
    assert_eq!(text, receipt.qr_text());
    let qr = FiscalQr::parse(&text).expect("a fiscal QR");
    assert_eq!(qr.dedup_key(), receipt.key());
    assert_eq!(qr.sum(), receipt.total());
}

#[test]
fn a_jpeg_qr_is_read() {
    let receipt = ReceiptBuilder::new()
        .item("Чипсы Lay's 140г", 18999, 2)
        .qr_with_seconds();
    assert_eq!(
        decode_qr_text(&qr_jpeg(&receipt.qr_text())),
        Ok(receipt.qr_text())
    );
}

#[test]
fn a_simulated_phone_photo_of_a_turned_receipt_is_read() {
    let receipt = ReceiptBuilder::pyaterochka();
    let photo = qr_photo_jpeg(&receipt.qr_text(), &PhotoOptions::default());
    assert_eq!(decode_qr_text(&photo), Ok(receipt.qr_text()));
}

#[test]
fn a_faded_low_contrast_print_is_read() {
    let receipt = ReceiptBuilder::pyaterochka();
    let faded = PhotoOptions {
        ink: 150,
        paper: 185,
        noise: 4,
        angle_degrees: -4.0,
        ..PhotoOptions::default()
    };
    // Only a fallback pass reads it, which a debug build may reach after the budget.
    assert_eq!(
        decode_qr_text_within(&qr_photo_jpeg(&receipt.qr_text(), &faded), UNLIMITED),
        Ok(receipt.qr_text())
    );
}

#[test]
fn a_large_camera_image_is_downscaled_and_read() {
    let receipt = ReceiptBuilder::pyaterochka();
    let large = PhotoOptions {
        // Beyond the 1600 px cap; a 12 MP picture would only slow the debug test down.
        width: 2400,
        height: 1800,
        module_px: 11.0,
        ..PhotoOptions::default()
    };
    assert_eq!(
        decode_qr_text(&qr_photo_jpeg(&receipt.qr_text(), &large)),
        Ok(receipt.qr_text())
    );
}

#[test]
fn a_white_on_black_code_is_read_after_inversion() {
    let receipt = ReceiptBuilder::pyaterochka();
    let clean = image::load_from_memory(&qr_png(&receipt.qr_text()))
        .expect("PNG decodes")
        .into_luma8();
    let mut inverted = clean.clone();
    image::imageops::invert(&mut inverted);
    assert_eq!(
        decode_qr_text_within(&png_of(&inverted), UNLIMITED),
        Ok(receipt.qr_text())
    );
}

#[test]
fn a_fiscal_code_is_preferred_over_another_code_in_the_same_picture() {
    let receipt = ReceiptBuilder::pyaterochka();
    let advert = image::load_from_memory(&qr_png("https://5ka.ru/app"))
        .expect("PNG decodes")
        .into_luma8();
    let fiscal = image::load_from_memory(&qr_png(&receipt.qr_text()))
        .expect("PNG decodes")
        .into_luma8();
    let mut both = GrayImage::from_pixel(
        advert.width() + fiscal.width(),
        advert.height().max(fiscal.height()),
        Luma([255]),
    );
    image::imageops::overlay(&mut both, &advert, 0, 0);
    image::imageops::overlay(&mut both, &fiscal, i64::from(advert.width()), 0);
    assert_eq!(decode_qr_text(&png_of(&both)), Ok(receipt.qr_text()));
}

#[test]
fn a_non_fiscal_code_is_still_returned_for_the_caller_to_reject() {
    assert_eq!(
        decode_qr_text(&qr_png("https://example.com")),
        Ok("https://example.com".to_owned())
    );
}

#[test]
fn a_picture_without_a_code_is_reported_as_such() {
    let blank = GrayImage::from_pixel(640, 480, Luma([200]));
    assert_eq!(decode_qr_text(&png_of(&blank)), Err(DecodeError::NoQrCode));
}

#[test]
fn empty_bytes_are_rejected() {
    assert_eq!(decode_qr_text(&[]), Err(DecodeError::Empty));
}

#[test]
fn bytes_that_are_not_an_image_are_rejected() {
    assert_eq!(
        decode_qr_text(b"this is not a picture at all"),
        Err(DecodeError::UnsupportedFormat)
    );
}

#[test]
fn an_unsupported_image_format_is_rejected() {
    // A GIF header: recognised, but only JPEG and PNG are compiled in.
    assert_eq!(
        decode_qr_text(b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!"),
        Err(DecodeError::UnsupportedFormat)
    );
}

#[test]
fn truncated_and_corrupted_images_never_panic() {
    let png = qr_png("t=20240917T1801&s=1285.21&fn=7281440500751551&i=30526&fp=1168453787&n=1");
    let jpeg = qr_jpeg("t=20240917T1801&s=1285.21&fn=7281440500751551&i=30526&fp=1168453787&n=1");
    for original in [png, jpeg] {
        for cut in [8, 30, 100, original.len() / 2, original.len() - 1] {
            let _ = decode_qr_text(&original[..cut]);
        }
        let mut state = 0x2545_f491_u32;
        for _ in 0..20 {
            let mut corrupted = original.clone();
            for _ in 0..12 {
                // xorshift: a deterministic "random" byte flip.
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let at = 16 + state as usize % (corrupted.len() - 16);
                corrupted[at] ^= (state >> 24) as u8 | 1;
            }
            let _ = decode_qr_text(&corrupted);
        }
    }
}

#[test]
fn a_png_declaring_a_huge_canvas_is_refused_without_allocating_it() {
    // 1x1 grayscale PNG whose header claims 100000 x 100000 pixels.
    let mut png = png_of(&GrayImage::from_pixel(1, 1, Luma([0])));
    png[16..20].copy_from_slice(&100_000_u32.to_be_bytes());
    png[20..24].copy_from_slice(&100_000_u32.to_be_bytes());
    assert!(matches!(
        decode_qr_text(&png),
        Err(DecodeError::Unreadable(_) | DecodeError::UnsupportedFormat)
    ));
}

#[test]
fn a_large_noise_picture_gives_up_within_the_time_budget() {
    // Uniform noise at the 1600 px working size: no code, and the worst kind of picture
    // for the fallback passes, which would otherwise all run.
    let mut state = 0x9e37_79b9_u32;
    let noise = GrayImage::from_fn(1600, 1200, |_, _| {
        // xorshift: deterministic noise without a random-number crate.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        Luma([(state >> 24) as u8])
    });
    let png = png_of(&noise);
    let started = Instant::now();
    assert_eq!(decode_qr_text(&png), Err(DecodeError::NoQrCode));
    let elapsed = started.elapsed();
    // Loose on purpose (debug build, shared machine): the budget is 250 ms, and the
    // point is that the picture is abandoned rather than exactly when.
    assert!(
        elapsed < DECODE_BUDGET * 8,
        "gave up after {elapsed:?}, budget {DECODE_BUDGET:?}"
    );
}

/// Seed of the corpus samples below (the bench's default, so a miss here can be looked
/// at with `decode-bench --seed 1 --dump DIR`).
const CORPUS_SEED: u64 = 1;

/// Reads every picture on its own thread (generating a picture takes most of the time
/// in a debug build) and returns the names of those whose text did not come back.
fn misses<T: Sync>(pictures: &[T], read: impl Fn(&T) -> (String, bool) + Sync) -> Vec<String> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = pictures
            .iter()
            .map(|picture| scope.spawn(|| read(picture)))
            .collect();
        handles
            .into_iter()
            .filter_map(|handle| match handle.join() {
                Ok((_, true)) => None,
                Ok((name, false)) => Some(name),
                Err(_) => Some("a picture whose decoding panicked".to_owned()),
            })
            .collect()
    })
}

#[test]
fn nearly_every_picture_of_a_hard_corpus_sample_is_read() {
    let pictures: Vec<(hard::Kind, usize)> = hard::Kind::ALL
        .into_iter()
        .flat_map(|kind| (0..HARD_SAMPLE_PER_KIND).map(move |index| (kind, index)))
        .collect();
    let missed = misses(&pictures, |&(kind, index)| {
        let image = hard::generate_one(CORPUS_SEED, kind, index);
        let text = decode_qr_text_within(&image.jpeg, UNLIMITED);
        (image.name, text.as_deref() == Ok(image.qr_text.as_str()))
    });
    let read = pictures.len() - missed.len();
    assert!(
        read * 100 >= pictures.len() * HARD_SAMPLE_MIN_PERCENT,
        "{read}/{} read, missed {missed:?}",
        pictures.len()
    );
}

#[test]
fn every_picture_of_a_first_corpus_sample_is_read_within_the_budget() {
    let pictures: Vec<corpus::Distortion> = corpus::Distortion::ALL
        .into_iter()
        // The 12-megapixel pictures take seconds to generate in a debug build.
        .filter(|distortion| *distortion != corpus::Distortion::Large)
        .collect();
    let missed = misses(&pictures, |&distortion| {
        let image = corpus::generate_one(CORPUS_SEED, distortion, 0);
        let text = decode_qr_text(&image.jpeg);
        (image.name, text.as_deref() == Ok(image.qr_text.as_str()))
    });
    assert!(missed.is_empty(), "missed {missed:?}");
}
