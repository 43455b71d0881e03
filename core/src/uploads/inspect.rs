//! What an uploaded file really is: JPEG, PNG or WebP judged by its content (the magic
//! bytes pick the decoder, a full decode proves the file whole), never by a name or a
//! declared type. Pure, no I/O; run it on the blocking pool, a decode takes CPU.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

/// Largest upload: Telegram's limit for a photo.
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;
/// Telegram refuses a photo whose width and height add up to more than this
/// (`PHOTO_INVALID_DIMENSIONS`), or whose sides differ more than [`MAX_RATIO`] times.
pub const MAX_SIDES: u64 = 10_000;
pub const MAX_RATIO: u32 = 20;
/// Memory a decode may take: a photo within [`MAX_SIDES`] is at most 5000 × 5000 pixels,
/// 100 MB as RGBA; anything asking for more is not a photo Telegram takes anyway.
const MAX_DECODE_ALLOC: u64 = 128 * 1024 * 1024;

/// The image an upload holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
}

/// Why an upload is refused; the message is for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the file is empty")]
    Empty,
    #[error("the file is larger than {MAX_UPLOAD_BYTES} bytes")]
    TooLarge,
    #[error("the file is not a JPEG, PNG or WebP image")]
    NotAnImage,
    #[error("the {0} image is damaged or incomplete")]
    Damaged(&'static str),
    #[error("a photo's width and height may add up to at most {MAX_SIDES} pixels and differ at most {MAX_RATIO} times; this one is {width}×{height}")]
    Dimensions { width: u32, height: u32 },
}

/// Judges `bytes`: the image's type and size, or why it is not one Telegram can send
/// as a photo.
pub fn inspect(bytes: &[u8]) -> Result<ImageInfo, Refusal> {
    if bytes.is_empty() {
        return Err(Refusal::Empty);
    }
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(Refusal::TooLarge);
    }
    // The magic bytes only: an HTML page named .jpg, or a PNG signature on a text file,
    // goes no further than this or the decode below.
    let format = image::guess_format(bytes).map_err(|_| Refusal::NotAnImage)?;
    let content_type = match format {
        ImageFormat::Jpeg => "image/jpeg",
        ImageFormat::Png => "image/png",
        ImageFormat::WebP => "image/webp",
        _ => return Err(Refusal::NotAnImage),
    };
    let kind = &content_type["image/".len()..];
    // Decoders forgive a missing end (a JPEG decoder fills the rest in gray, a PNG one
    // stops after the pixels): the file's own end marker must be there too.
    if !ends_whole(format, bytes) {
        return Err(Refusal::Damaged(kind));
    }
    let reader = |bytes: &[u8]| {
        let mut reader = ImageReader::with_format(Cursor::new(bytes.to_vec()), format);
        let mut limits = Limits::default();
        limits.max_alloc = Some(MAX_DECODE_ALLOC);
        reader.limits(limits);
        reader
    };
    let (width, height) = reader(bytes)
        .into_dimensions()
        .map_err(|_| Refusal::Damaged(kind))?;
    let (long, short) = (width.max(height), width.min(height));
    if width == 0
        || height == 0
        || u64::from(width) + u64::from(height) > MAX_SIDES
        || long / short > MAX_RATIO
    {
        return Err(Refusal::Dimensions { width, height });
    }
    // The header alone passes a truncated file; decoding every pixel does not.
    reader(bytes).decode().map_err(|_| Refusal::Damaged(kind))?;
    Ok(ImageInfo {
        content_type,
        width,
        height,
    })
}

/// Whether the file has its format's end: a PNG its `IEND` chunk, a JPEG its EOI marker
/// last (after any zero padding), a WebP all the bytes its RIFF header announces.
fn ends_whole(format: ImageFormat, bytes: &[u8]) -> bool {
    match format {
        ImageFormat::Png => bytes
            .windows(8)
            .rev()
            .any(|window| window == b"IEND\xAE\x42\x60\x82"),
        ImageFormat::Jpeg => {
            let end = bytes.iter().rposition(|b| *b != 0).unwrap_or(0);
            end >= 1 && bytes[end - 1] == 0xFF && bytes[end] == 0xD9
        }
        ImageFormat::WebP => bytes.get(4..8).is_some_and(|size| {
            let announced = u32::from_le_bytes([size[0], size[1], size[2], size[3]]);
            u64::from(announced) + 8 <= bytes.len() as u64
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(format: ImageFormat, width: u32, height: u32) -> Vec<u8> {
        let picture = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 5) as u8, 90])
        });
        let mut out = Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(picture)
            .write_to(&mut out, format)
            .expect("encode");
        out.into_inner()
    }

    #[test]
    fn each_accepted_format_is_recognised_with_its_size() {
        for (format, content_type) in [
            (ImageFormat::Jpeg, "image/jpeg"),
            (ImageFormat::Png, "image/png"),
            (ImageFormat::WebP, "image/webp"),
        ] {
            let info = inspect(&encoded(format, 30, 20)).expect("an image");
            assert_eq!(
                (info.content_type, info.width, info.height),
                (content_type, 30, 20)
            );
        }
    }

    #[test]
    fn html_a_truncated_png_a_gif_and_a_strip_are_refused() {
        assert_eq!(inspect(b""), Err(Refusal::Empty));
        assert_eq!(
            inspect(b"<!doctype html><title>x</title>"),
            Err(Refusal::NotAnImage)
        );
        let png = encoded(ImageFormat::Png, 64, 64);
        assert_eq!(inspect(&png[..png.len() / 2]), Err(Refusal::Damaged("png")));
        assert_eq!(inspect(&png[..8]), Err(Refusal::Damaged("png")));
        assert_eq!(inspect(&png[..png.len() - 1]), Err(Refusal::Damaged("png")));
        let jpeg = encoded(ImageFormat::Jpeg, 64, 64);
        assert_eq!(
            inspect(&jpeg[..jpeg.len() - 2]),
            Err(Refusal::Damaged("jpeg"))
        );
        assert_eq!(
            inspect(&jpeg[..jpeg.len() * 3 / 4]),
            Err(Refusal::Damaged("jpeg"))
        );
        let webp = encoded(ImageFormat::WebP, 64, 64);
        assert_eq!(
            inspect(&webp[..webp.len() - 1]),
            Err(Refusal::Damaged("webp"))
        );
        assert_eq!(inspect(b"GIF89a\x01\x00\x01\x00"), Err(Refusal::NotAnImage));
        assert_eq!(
            inspect(&encoded(ImageFormat::Png, 420, 20)),
            Err(Refusal::Dimensions {
                width: 420,
                height: 20
            })
        );
        assert_eq!(
            inspect(&vec![0xFF; MAX_UPLOAD_BYTES + 1]),
            Err(Refusal::TooLarge)
        );
    }
}
