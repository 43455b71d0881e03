//! Personal data: phone numbers are parsed once, stored encrypted (AES-256-GCM), found
//! by a keyed hash and shown masked, so neither the database nor the logs hold them in
//! clear text.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const NONCE_LEN: usize = 12;

/// A phone number in international form, digits only (`79991234567`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("a phone number has 10 to 15 digits")]
    WrongLength,
    #[error("a phone number may contain only digits, spaces, brackets, dashes and a leading +")]
    InvalidCharacters,
}

impl Phone {
    /// Accepts `+79991234567`, `79991234567`, `8 (999) 123-45-67` and Telegram's contact
    /// form (with or without `+`). A Russian number written with a leading 8 is rewritten
    /// to 7 so that one person always gets the same hash.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let trimmed = input.trim();
        let rest = trimmed.strip_prefix('+').unwrap_or(trimmed);
        let mut digits = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '(' | ')' => {}
                _ => return Err(PhoneError::InvalidCharacters),
            }
        }
        if !(10..=15).contains(&digits.len()) {
            return Err(PhoneError::WrongLength);
        }
        if digits.len() == 11 && digits.starts_with('8') && !trimmed.starts_with('+') {
            digits.replace_range(0..1, "7");
        }
        if digits.len() == 10 && digits.starts_with('9') {
            digits.insert(0, '7');
        }
        Ok(Phone(digits))
    }

    pub fn digits(&self) -> &str {
        &self.0
    }

    /// `+79990004567`: the whole number, for the audited places that show it. Never log it.
    pub fn international(&self) -> String {
        format!("+{}", self.0)
    }

    /// `+7 *** ***-45-67`: enough for a shopper or an operator to recognise the number.
    pub fn masked(&self) -> String {
        let d = &self.0;
        let tail = &d[d.len() - 4..];
        let country = if d.len() == 11 && d.starts_with('7') {
            "7"
        } else {
            &d[..d.len().saturating_sub(10).max(1)]
        };
        format!("+{country} *** ***-{}-{}", &tail[..2], &tail[2..])
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl fmt::Display for Phone {
    /// Display is masked on purpose: formatting a phone into a log line must not leak it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// The master key for phone numbers; two sub-keys are derived from it so that the
/// search hash cannot be used to decrypt and vice versa.
#[derive(Clone)]
pub struct PhoneKey {
    encryption: [u8; 32],
    hashing: [u8; 32],
}

impl fmt::Debug for PhoneKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PhoneKey(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PiiError {
    #[error("the stored phone ciphertext is malformed or was made with another key")]
    Undecryptable,
}

/// What the database stores for one phone number.
#[derive(Debug, Clone)]
pub struct SealedPhone {
    pub ciphertext: Vec<u8>,
    pub hash: Vec<u8>,
    pub masked: String,
}

impl PhoneKey {
    pub fn new(master: [u8; 32]) -> Self {
        Self {
            encryption: derive(&master, b"promo/phone/encryption/v1"),
            hashing: derive(&master, b"promo/phone/search-hash/v1"),
        }
    }

    pub fn seal(&self, phone: &Phone) -> SealedPhone {
        SealedPhone {
            ciphertext: self.encrypt(phone),
            hash: self.hash(phone),
            masked: phone.masked(),
        }
    }

    /// Nonce || ciphertext+tag. A random 96-bit nonce per value is safe for the number of
    /// phones a promotion will ever store. No associated data: phones sealed before the
    /// prize key existed read the same.
    pub fn encrypt(&self, phone: &Phone) -> Vec<u8> {
        seal(&self.encryption, b"", phone.digits().as_bytes())
    }

    pub fn decrypt(&self, stored: &[u8]) -> Result<Phone, PiiError> {
        let plain = open(&self.encryption, b"", stored).map_err(|_| PiiError::Undecryptable)?;
        let digits = String::from_utf8(plain).map_err(|_| PiiError::Undecryptable)?;
        Phone::parse(&digits).map_err(|_| PiiError::Undecryptable)
    }

    /// Deterministic keyed hash for exact search ("find the user with this phone").
    pub fn hash(&self, phone: &Phone) -> Vec<u8> {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.hashing)
            .expect("HMAC accepts keys of any length");
        mac.update(phone.digits().as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// `PRIZE_DATA_KEY`: the raffles' own key, apart from the phones'. Two sub-keys: one
/// seals a raffle's seed from creation until its draw reveals it, one seals a winner's
/// tax-agent documents. Each sealed value is bound to its row (`context`, the AES-GCM
/// associated data), so a ciphertext copied onto another raffle or winner does not open.
#[derive(Clone)]
pub struct PrizeKey {
    seeds: [u8; 32],
    documents: [u8; 32],
}

impl fmt::Debug for PrizeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrizeKey(***)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the sealed value is malformed, was made with another key or belongs to another row")]
pub struct Unsealable;

impl PrizeKey {
    pub fn new(master: [u8; 32]) -> Self {
        Self {
            seeds: derive(&master, b"promo/raffle-seed/v1"),
            documents: derive(&master, b"promo/claim-documents/v1"),
        }
    }

    /// Seals raffle `campaign_id`'s seed.
    pub fn seal_seed(&self, campaign_id: i64, seed: &[u8; 32]) -> Vec<u8> {
        seal(
            &self.seeds,
            format!("raffle:{campaign_id}").as_bytes(),
            seed,
        )
    }

    pub fn open_seed(&self, campaign_id: i64, sealed: &[u8]) -> Result<[u8; 32], Unsealable> {
        let plain = open(
            &self.seeds,
            format!("raffle:{campaign_id}").as_bytes(),
            sealed,
        )?;
        plain.as_slice().try_into().map_err(|_| Unsealable)
    }

    /// Seals winner `winner_id`'s documents (their JSON).
    pub fn seal_documents(&self, winner_id: i64, plain: &[u8]) -> Vec<u8> {
        seal(
            &self.documents,
            format!("winner:{winner_id}").as_bytes(),
            plain,
        )
    }

    pub fn open_documents(&self, winner_id: i64, sealed: &[u8]) -> Result<Vec<u8>, Unsealable> {
        open(
            &self.documents,
            format!("winner:{winner_id}").as_bytes(),
            sealed,
        )
    }
}

/// Nonce || ciphertext+tag, with `context` authenticated alongside.
fn seal(key: &[u8; 32], context: &[u8], plain: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    let payload = aes_gcm::aead::Payload {
        msg: plain,
        aad: context,
    };
    // AES-GCM encryption only fails for plaintexts beyond 64 GiB.
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), payload)
        .unwrap_or_default();
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

fn open(key: &[u8; 32], context: &[u8], stored: &[u8]) -> Result<Vec<u8>, Unsealable> {
    if stored.len() <= NONCE_LEN {
        return Err(Unsealable);
    }
    let (nonce, sealed) = stored.split_at(NONCE_LEN);
    let cipher = Aes256Gcm::new(key.into());
    let payload = aes_gcm::aead::Payload {
        msg: sealed,
        aad: context,
    };
    cipher
        .decrypt(Nonce::from_slice(nonce), payload)
        .map_err(|_| Unsealable)
}

fn derive(master: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let mut mac =
        <HmacSha256 as Mac>::new_from_slice(master).expect("HMAC accepts keys of any length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> PhoneKey {
        PhoneKey::new([byte; 32])
    }

    #[test]
    fn a_sealed_seed_opens_only_with_its_key_and_for_its_own_raffle() {
        let key = PrizeKey::new([1; 32]);
        let seed = [9u8; 32];
        let sealed = key.seal_seed(7, &seed);
        assert_eq!(key.open_seed(7, &sealed).ok(), Some(seed));
        assert!(
            key.open_seed(8, &sealed).is_err(),
            "moved to another raffle"
        );
        assert!(PrizeKey::new([2; 32]).open_seed(7, &sealed).is_err());
        assert!(key.open_seed(7, &sealed[..10]).is_err());
        // Documents and seeds use different sub-keys.
        assert!(key.open_documents(7, &sealed).is_err());
        let documents = key.seal_documents(3, b"{}");
        assert_eq!(key.open_documents(3, &documents).ok(), Some(b"{}".to_vec()));
        assert!(!documents.windows(2).any(|w| w == b"{}"));
    }

    #[test]
    fn common_ways_of_writing_one_russian_number_parse_to_the_same_phone() {
        let forms = [
            "+79991234567",
            "79991234567",
            "89991234567",
            "+7 (999) 123-45-67",
            "9991234567",
        ];
        for form in forms {
            assert_eq!(
                Phone::parse(form).map(|p| p.digits().to_owned()),
                Ok("79991234567".to_owned()),
                "{form}"
            );
        }
    }

    #[test]
    fn phones_with_letters_or_wrong_length_are_rejected() {
        assert_eq!(
            Phone::parse("+7999abc4567"),
            Err(PhoneError::InvalidCharacters)
        );
        assert_eq!(Phone::parse("12345"), Err(PhoneError::WrongLength));
        assert_eq!(
            Phone::parse("1234567890123456"),
            Err(PhoneError::WrongLength)
        );
        assert_eq!(Phone::parse(""), Err(PhoneError::WrongLength));
    }

    #[test]
    fn masked_form_shows_only_the_last_four_digits() {
        let phone = Phone::parse("+79991234567").expect("valid");
        assert_eq!(phone.masked(), "+7 *** ***-45-67");
        assert_eq!(format!("{phone}"), "+7 *** ***-45-67");
        assert!(!format!("{phone:?}").contains("999123"));
    }

    #[test]
    fn encryption_round_trips_and_is_randomised() {
        let phone = Phone::parse("+79991234567").expect("valid");
        let k = key(1);
        let a = k.encrypt(&phone);
        let b = k.encrypt(&phone);
        assert_ne!(a, b, "two encryptions of one phone must differ");
        assert!(!a.windows(11).any(|w| w == b"79991234567"));
        assert_eq!(k.decrypt(&a).ok(), Some(phone.clone()));
        assert_eq!(k.decrypt(&b).ok(), Some(phone));
    }

    #[test]
    fn another_key_or_tampering_cannot_decrypt() {
        let phone = Phone::parse("+79991234567").expect("valid");
        let mut sealed = key(1).encrypt(&phone);
        assert!(key(2).decrypt(&sealed).is_err());
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(key(1).decrypt(&sealed).is_err());
        assert!(key(1).decrypt(&[1, 2, 3]).is_err());
    }

    #[test]
    fn the_search_hash_is_stable_per_key_and_differs_between_keys() {
        let phone = Phone::parse("89991234567").expect("valid");
        let same = Phone::parse("+7 999 123 45 67").expect("valid");
        assert_eq!(key(1).hash(&phone), key(1).hash(&same));
        assert_ne!(key(1).hash(&phone), key(2).hash(&phone));
    }
}
