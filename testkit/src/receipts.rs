//! Realistic receipts for tests, benches and sandbox mode: the FNS JSON, its matching
//! QR string, and QR pictures (clean PNG/JPEG or a simulated phone photo).

use std::io::Cursor;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta, Timelike};
use image::{codecs::jpeg::JpegEncoder, GrayImage, ImageFormat, Luma};
use promo_core::receipts::{FiscalKey, FiscalQr, Kopecks, OperationType};
use qrcode::{Color, QrCode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// VAT rate of a line (FFD tag 1199 codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vat {
    Twenty,
    Ten,
    Zero,
    None,
}

impl Vat {
    fn code(self) -> i64 {
        match self {
            Vat::Twenty => 1,
            Vat::Ten => 2,
            Vat::Zero => 5,
            Vat::None => 6,
        }
    }

    /// The VAT amount included in a line total, as legacy receipts print it per line.
    fn included_in(self, sum: Kopecks) -> Kopecks {
        let amount =
            |rate: f64| Kopecks::new((sum.get() as f64 * rate / (100.0 + rate)).round() as i64);
        match self {
            Vat::Twenty => amount(20.0),
            Vat::Ten => amount(10.0),
            Vat::Zero | Vat::None => Kopecks::ZERO,
        }
    }
}

/// `itemsQuantityMeasure` (FFD tag 2108) values used by the builders.
pub mod measure {
    pub const PIECES: i64 = 0;
    pub const GRAMS: i64 = 10;
    pub const KILOGRAMS: i64 = 11;
    pub const LITRES: i64 = 41;
}

/// One receipt line.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiptItem {
    pub name: String,
    pub price: Kopecks,
    pub quantity: f64,
    pub measure: i64,
    pub vat: Vat,
    pub gtin: Option<String>,
}

impl ReceiptItem {
    /// One piece at `price_kopecks`, VAT 20 %.
    pub fn new(name: &str, price_kopecks: i64) -> Self {
        ReceiptItem {
            name: name.to_owned(),
            price: Kopecks::new(price_kopecks),
            quantity: 1.0,
            measure: measure::PIECES,
            vat: Vat::Twenty,
            gtin: None,
        }
    }

    pub fn quantity(mut self, quantity: f64) -> Self {
        self.quantity = quantity;
        self
    }

    pub fn measure(mut self, measure: i64) -> Self {
        self.measure = measure;
        self
    }

    pub fn vat(mut self, vat: Vat) -> Self {
        self.vat = vat;
        self
    }

    /// Adds `productCodeNew.ean13` (FFD 1.2 receipts only).
    pub fn gtin(mut self, gtin: &str) -> Self {
        self.gtin = Some(gtin.to_owned());
        self
    }

    /// `price × quantity`, rounded to the kopeck like a register does.
    pub fn sum(&self) -> Kopecks {
        Kopecks::new((self.price.get() as f64 * self.quantity).round() as i64)
    }
}

/// Builds a receipt as the tax service stores it and the QR string printed on it.
///
/// Each builder gets a random fiscal document number and fiscal sign, so receipts
/// from different tests never collide on the dedup key; use [`ReceiptBuilder::fiscal`]
/// for fixed values.
#[derive(Debug, Clone)]
pub struct ReceiptBuilder {
    seller_name: String,
    seller_inn: String,
    retail_place: String,
    address: String,
    region: String,
    kkt_reg_id: String,
    date_time: NaiveDateTime,
    qr_with_seconds: bool,
    operation: OperationType,
    fiscal_drive_number: String,
    fiscal_document_number: u32,
    fiscal_sign: u32,
    shift_number: u32,
    request_number: u32,
    operator: String,
    items: Vec<ReceiptItem>,
    legacy: bool,
}

impl Default for ReceiptBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ReceiptBuilder {
    /// A Pyaterochka sale in Khabarovsk on 2024-09-17 18:01, without items.
    pub fn new() -> Self {
        let mut rng = rand::thread_rng();
        ReceiptBuilder {
            seller_name: "ООО \"Агроторг\"".into(),
            seller_inn: "7825706086".into(),
            retail_place: "37S0 26151-Пятерочка".into(),
            address: "680038, 27 - Хабаровский край, г.о. город Хабаровск, г Хабаровск,, ул Серышева, Дом 22".into(),
            region: "27".into(),
            kkt_reg_id: "0007795807005569".into(),
            date_time: NaiveDate::from_ymd_opt(2024, 9, 17)
                .and_then(|d| d.and_hms_opt(18, 1, 0))
                .unwrap_or_default(),
            qr_with_seconds: false,
            operation: OperationType::Sale,
            fiscal_drive_number: "7281440500751551".into(),
            fiscal_document_number: rng.gen_range(1..=999_999),
            // 9- and 10-digit signs both occur in reality.
            fiscal_sign: rng.gen_range(100_000_000..=u32::MAX),
            shift_number: rng.gen_range(1..=400),
            request_number: rng.gen_range(1..=300),
            operator: "Блинкова Римма Cергеевна, Продавец-каccир".into(),
            items: Vec::new(),
            legacy: false,
        }
    }

    /// The two lines of the captured answer in domain spec 3.1 (weighed pumpkin and
    /// milk with a GTIN), total 327.37.
    pub fn pyaterochka() -> Self {
        Self::new()
            .push_item(
                ReceiptItem::new("*Тыква                       1кг", 9999)
                    .quantity(2.474)
                    .measure(measure::KILOGRAMS)
                    .vat(Vat::Ten),
            )
            .push_item(
                ReceiptItem::new("ЧЕБАРКУЛЬ Мол.ОТБ.3,8% м/у 1л", 7999)
                    .vat(Vat::Ten)
                    .gtin("4607036340658"),
            )
    }

    pub fn seller(mut self, name: &str, inn: &str) -> Self {
        self.seller_name = name.to_owned();
        self.seller_inn = inn.to_owned();
        self
    }

    pub fn retail_place(mut self, retail_place: &str) -> Self {
        self.retail_place = retail_place.to_owned();
        self
    }

    pub fn address(mut self, address: &str) -> Self {
        self.address = address.to_owned();
        self
    }

    /// The register's local time. The QR prints it without seconds unless
    /// [`ReceiptBuilder::qr_with_seconds`] is set.
    pub fn date_time(mut self, date_time: NaiveDateTime) -> Self {
        self.date_time = date_time;
        self
    }

    pub fn qr_with_seconds(mut self) -> Self {
        self.qr_with_seconds = true;
        self
    }

    pub fn operation(mut self, operation: OperationType) -> Self {
        self.operation = operation;
        self
    }

    /// Fixed `fn`, `i` (fd) and `fp` instead of random ones.
    pub fn fiscal(mut self, fiscal_drive_number: &str, fd: u32, fp: u32) -> Self {
        self.fiscal_drive_number = fiscal_drive_number.to_owned();
        self.fiscal_document_number = fd;
        self.fiscal_sign = fp;
        self
    }

    /// A line of `quantity` pieces (VAT 20 %).
    pub fn item(self, name: &str, price_kopecks: i64, quantity: u32) -> Self {
        self.push_item(ReceiptItem::new(name, price_kopecks).quantity(f64::from(quantity)))
    }

    /// A weighed line: `price_kopecks` per kilogram (VAT 10 %).
    pub fn weighted_item(self, name: &str, price_kopecks: i64, kilograms: f64) -> Self {
        self.push_item(
            ReceiptItem::new(name, price_kopecks)
                .quantity(kilograms)
                .measure(measure::KILOGRAMS)
                .vat(Vat::Ten),
        )
    }

    pub fn push_item(mut self, item: ReceiptItem) -> Self {
        self.items.push(item);
        self
    }

    /// The shape of FFD 1.0/1.05 receipts (2018 sample): per-line `nds18`/`nds10`
    /// amounts, no `itemsQuantityMeasure`, `receiptCode`/`taxationType` names.
    pub fn legacy(mut self) -> Self {
        self.legacy = true;
        self
    }

    /// Sum of the lines.
    pub fn total(&self) -> Kopecks {
        self.items.iter().map(ReceiptItem::sum).sum()
    }

    pub fn key(&self) -> FiscalKey {
        FiscalKey {
            fiscal_drive_number: self.fiscal_drive_number.parse().unwrap_or_default(),
            fiscal_document_number: self.fiscal_document_number,
            fiscal_sign: self.fiscal_sign,
        }
    }

    /// The QR string as a register prints it (`t` without seconds unless asked).
    pub fn qr_text(&self) -> String {
        let time = if self.qr_with_seconds {
            self.date_time.format("%Y%m%dT%H%M%S")
        } else {
            self.date_time.format("%Y%m%dT%H%M")
        };
        format!(
            "t={time}&s={}&fn={}&i={}&fp={}&n={}",
            self.total(),
            self.fiscal_drive_number,
            self.fiscal_document_number,
            self.fiscal_sign,
            self.operation.code()
        )
    }

    /// The parsed QR. Panics when the receipt cannot have a valid QR (no items, bad
    /// fiscal drive number): a broken test fixture.
    pub fn fiscal_qr(&self) -> FiscalQr {
        let text = self.qr_text();
        FiscalQr::parse(&text).unwrap_or_else(|e| panic!("builder QR {text:?} is invalid: {e}"))
    }

    /// `data.json` as ProverkaCheka returns it.
    pub fn fns_json(&self) -> Value {
        // Registers print minutes only; the stored time then has zero seconds.
        let date_time = if self.qr_with_seconds {
            self.date_time
        } else {
            self.date_time.with_second(0).unwrap_or(self.date_time)
        };
        let total = self.total();
        let vat_total = |rate: Vat| -> i64 {
            self.items
                .iter()
                .filter(|item| item.vat == rate)
                .map(|item| item.vat.included_in(item.sum()).get())
                .sum()
        };
        let mut receipt = json!({
            "user": self.seller_name,
            "userInn": format!("{:<12}", self.seller_inn),
            "retailPlaceAddress": self.address,
            "kktRegId": format!("{:<20}", self.kkt_reg_id),
            "dateTime": date_time.format("%Y-%m-%dT%H:%M:%S").to_string(),
            "operationType": self.operation.code(),
            "totalSum": total.get(),
            "cashTotalSum": 0,
            "ecashTotalSum": total.get(),
            "fiscalDriveNumber": self.fiscal_drive_number,
            "fiscalDocumentNumber": self.fiscal_document_number,
            "fiscalSign": self.fiscal_sign,
            "shiftNumber": self.shift_number,
            "requestNumber": self.request_number,
            "operator": self.operator,
            "items": self.items.iter().map(|item| self.item_json(item)).collect::<Vec<_>>(),
        });
        let extra = if self.legacy {
            json!({
                "receiptCode": 3,
                "taxationType": 1,
                "properties": [{ "key": "Код", "value": "6024" }],
            })
        } else {
            // Moscow time with a `Z` suffix, as captured: not UTC (spec 3.3).
            let receive_date = date_time - TimeDelta::hours(7) + TimeDelta::seconds(24);
            json!({
                "code": 3,
                "fiscalDocumentFormatVer": 4,
                "retailPlace": self.retail_place,
                "region": self.region,
                "numberKkt": "00105726645591",
                "appliedTaxationType": 1,
                "prepaidSum": 0,
                "creditSum": 0,
                "provisionSum": 0,
                "messageFiscalSign": 9.29725062962095e18,
                "operatorInn": "272210689013",
                "properties": { "propertyName": "X5", "propertyValue": "37S0;POS02-BO-37S0;" },
                "metadata": {
                    "id": 5_478_769_089_017_910_528_i64,
                    "ofdId": "ofd22",
                    "subtype": "receipt",
                    "address": "680038,Россия,Хабаровский край,г.о. город Хабаровск,г Хабаровск,ул Серышева,Дом 22",
                    "receiveDate": receive_date.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                },
                "redefine_mask": 0,
            })
        };
        if let (Some(receipt), Value::Object(extra)) = (receipt.as_object_mut(), extra) {
            receipt.extend(extra);
            for (name, rate) in [("nds18", Vat::Twenty), ("nds10", Vat::Ten)] {
                let amount = vat_total(rate);
                if amount > 0 {
                    receipt.insert(name.into(), json!(amount));
                }
            }
        }
        receipt
    }

    fn item_json(&self, item: &ReceiptItem) -> Value {
        // Registers write whole quantities as integers (`1`, not `1.0`).
        let quantity = if item.quantity.fract() == 0.0 {
            json!(item.quantity as i64)
        } else {
            json!(item.quantity)
        };
        let sum = item.sum();
        if self.legacy {
            let mut line = json!({
                "name": item.name,
                "price": item.price.get(),
                "quantity": quantity,
                "sum": sum.get(),
            });
            let vat_field = match item.vat {
                Vat::Twenty => Some("nds18"),
                Vat::Ten => Some("nds10"),
                Vat::Zero => Some("nds0"),
                Vat::None => Some("ndsNo"),
            };
            if let (Some(line), Some(field)) = (line.as_object_mut(), vat_field) {
                line.insert(field.into(), json!(item.vat.included_in(sum).get()));
            }
            return line;
        }
        let mut line = json!({
            "name": item.name,
            "price": item.price.get(),
            "quantity": quantity,
            "sum": sum.get(),
            "nds": item.vat.code(),
            "paymentType": 4,
            "productType": 1,
            "itemsQuantityMeasure": item.measure,
        });
        if let (Some(line), Some(gtin)) = (line.as_object_mut(), &item.gtin) {
            line.insert(
                "productCodeNew".into(),
                json!({ "ean13": { "gtin": gtin, "sernum": "", "productIdType": 3, "rawProductCode": gtin } }),
            );
        }
        line
    }
}

/// A clean QR picture (8 px modules, 4-module quiet zone) as PNG.
pub fn qr_png(text: &str) -> Vec<u8> {
    encode(&render_qr(text, 8), ImageFormat::Png)
}

/// The same picture as a JPEG (quality 85), as Telegram recompresses photos.
pub fn qr_jpeg(text: &str) -> Vec<u8> {
    encode(&render_qr(text, 8), ImageFormat::Jpeg)
}

/// How [`qr_photo_jpeg`] fakes a phone photo of a receipt.
#[derive(Debug, Clone)]
pub struct PhotoOptions {
    pub width: u32,
    pub height: u32,
    /// Module size in pixels on the photo.
    pub module_px: f64,
    /// Rotation of the receipt in the picture.
    pub angle_degrees: f64,
    /// Ink and paper brightness (low contrast = faded thermal print).
    pub ink: u8,
    pub paper: u8,
    /// Table/background brightness around the receipt.
    pub background: u8,
    /// Amplitude of the per-pixel sensor noise.
    pub noise: u8,
    pub jpeg_quality: u8,
    /// Seed of the noise and of the fake text lines, for reproducible pictures.
    pub seed: u64,
}

impl Default for PhotoOptions {
    /// A Telegram-sized photo (1280×960) of a slightly turned, evenly lit receipt.
    fn default() -> Self {
        PhotoOptions {
            width: 1280,
            height: 960,
            module_px: 6.0,
            angle_degrees: 7.0,
            ink: 45,
            paper: 215,
            background: 120,
            noise: 14,
            jpeg_quality: 80,
            seed: 42,
        }
    }
}

/// A simulated phone photo of a receipt whose QR encodes `text`: the paper strip is
/// turned, has printed "text lines" above and below the code, uneven light and noise.
pub fn qr_photo_jpeg(text: &str, options: &PhotoOptions) -> Vec<u8> {
    let code = QrCode::new(text.as_bytes())
        .unwrap_or_else(|e| panic!("{text:?} does not fit a QR code: {e}"));
    let modules = code.width() as i64;
    let colors = code.to_colors();
    let mut rng = StdRng::seed_from_u64(options.seed);

    // Receipt layout in module units, origin at the QR's top-left module.
    let paper_left = -8.0;
    let paper_right = modules as f64 + 8.0;
    let paper_top = -40.0;
    let paper_bottom = modules as f64 + 30.0;
    let text_lines: Vec<(f64, f64, f64)> = (0..12)
        .map(|i| {
            let top = if i < 7 {
                paper_top + 3.0 + f64::from(i) * 5.0
            } else {
                modules as f64 + 6.0 + f64::from(i - 7) * 4.5
            };
            let length = rng.gen_range(8.0..(paper_right - paper_left - 4.0));
            (top, paper_left + 2.0, paper_left + 2.0 + length)
        })
        .collect();

    let (sin, cos) = options.angle_degrees.to_radians().sin_cos();
    let (cx, cy) = (
        f64::from(options.width) / 2.0,
        f64::from(options.height) / 2.0,
    );
    let half = modules as f64 / 2.0;
    let mut image = GrayImage::new(options.width, options.height);
    for (x, y, pixel) in image.enumerate_pixels_mut() {
        // Inverse rotation: which point of the receipt lands on this pixel.
        let (dx, dy) = (f64::from(x) - cx, f64::from(y) - cy);
        let u = (dx * cos + dy * sin) / options.module_px + half;
        let v = (-dx * sin + dy * cos) / options.module_px + half;
        let on_paper =
            (paper_left..paper_right).contains(&u) && (paper_top..paper_bottom).contains(&v);
        let base = if !on_paper {
            f64::from(options.background)
        } else {
            let in_code = (0.0..modules as f64).contains(&u) && (0.0..modules as f64).contains(&v);
            let dark = if in_code {
                colors[(v as i64 * modules + u as i64) as usize] == Color::Dark
            } else {
                text_lines.iter().any(|&(top, left, right)| {
                    (top..top + 1.6).contains(&v) && (left..right).contains(&u)
                }) && (u * 3.0).fract() < 0.7
            };
            f64::from(if dark { options.ink } else { options.paper })
        };
        // A light falling off towards one corner, as under a desk lamp.
        let light = 1.0
            - 0.18
                * (f64::from(x) / f64::from(options.width)
                    + f64::from(y) / f64::from(options.height))
                / 2.0;
        let noise = if options.noise == 0 {
            0.0
        } else {
            f64::from(rng.gen_range(-i16::from(options.noise)..=i16::from(options.noise)))
        };
        *pixel = Luma([(base * light + noise).clamp(0.0, 255.0) as u8]);
    }
    encode_jpeg(&image, options.jpeg_quality)
}

fn render_qr(text: &str, module_px: u32) -> GrayImage {
    let code = QrCode::new(text.as_bytes())
        .unwrap_or_else(|e| panic!("{text:?} does not fit a QR code: {e}"));
    code.render::<Luma<u8>>()
        .quiet_zone(true)
        .module_dimensions(module_px, module_px)
        .build()
}

fn encode(image: &GrayImage, format: ImageFormat) -> Vec<u8> {
    if format == ImageFormat::Jpeg {
        return encode_jpeg(image, 85);
    }
    let mut bytes = Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, format)
        .unwrap_or_else(|e| panic!("encoding a {format:?} failed: {e}"));
    bytes.into_inner()
}

pub(crate) fn encode_jpeg(image: &GrayImage, quality: u8) -> Vec<u8> {
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(image)
        .unwrap_or_else(|e| panic!("encoding a JPEG failed: {e}"));
    bytes
}

#[cfg(test)]
mod tests {
    use promo_core::receipts::{FnsReceipt, Kopecks};

    use super::*;

    #[test]
    fn the_pyaterochka_preset_reproduces_the_captured_lines() {
        let receipt = ReceiptBuilder::pyaterochka();
        assert_eq!(receipt.total(), Kopecks::new(24_738 + 7_999));
        let json = receipt.fns_json();
        assert_eq!(json["items"][0]["sum"], json!(24_738));
        assert_eq!(json["items"][0]["quantity"], json!(2.474));
        assert_eq!(json["items"][0]["itemsQuantityMeasure"], json!(11));
        assert_eq!(json["items"][1]["quantity"], json!(1));
        assert_eq!(
            json["items"][1]["productCodeNew"]["ean13"]["gtin"],
            json!("4607036340658")
        );
        assert_eq!(json["dateTime"], json!("2024-09-17T18:01:00"));
        assert_eq!(
            json["metadata"]["receiveDate"],
            json!("2024-09-17T11:01:24Z")
        );
    }

    #[test]
    fn identifiers_are_space_padded_as_in_real_answers() {
        let json = ReceiptBuilder::pyaterochka().fns_json();
        assert_eq!(json["userInn"], json!("7825706086  "));
        assert_eq!(json["kktRegId"], json!("0007795807005569    "));
    }

    #[test]
    fn the_qr_total_is_the_sum_of_the_lines() {
        let receipt = ReceiptBuilder::new()
            .item("Чипсы", 18_999, 2)
            .weighted_item("Бананы", 8_990, 1.215);
        let qr = receipt.fiscal_qr();
        assert_eq!(qr.sum(), Kopecks::new(37_998 + 10_923));
        assert_eq!(qr.dedup_key(), receipt.key());
    }

    #[test]
    fn both_shapes_are_read_back_and_match_their_qr() {
        for receipt in [
            ReceiptBuilder::pyaterochka(),
            ReceiptBuilder::pyaterochka().legacy(),
            ReceiptBuilder::pyaterochka().qr_with_seconds(),
        ] {
            let parsed = FnsReceipt::from_json(receipt.fns_json()).expect("readable");
            assert_eq!(parsed.validate_against(&receipt.fiscal_qr()), Ok(()));
        }
    }

    #[test]
    fn the_legacy_shape_has_per_line_vat_amounts_and_no_measure() {
        let json = ReceiptBuilder::new()
            .item("Шоколад", 4_999, 1)
            .weighted_item("Тыква", 9_999, 2.474)
            .legacy()
            .fns_json();
        assert_eq!(json["items"][0]["nds18"], json!(833));
        assert_eq!(json["items"][1]["nds10"], json!(2249));
        assert_eq!(json["nds18"], json!(833));
        assert!(json["items"][0].get("itemsQuantityMeasure").is_none());
        assert!(json["items"][0].get("nds").is_none());
        assert_eq!(json["receiptCode"], json!(3));
        assert!(json.get("fiscalDocumentFormatVer").is_none());
    }

    #[test]
    fn builders_get_distinct_fiscal_keys() {
        assert_ne!(ReceiptBuilder::new().key(), ReceiptBuilder::new().key());
    }
}
