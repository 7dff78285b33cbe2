//! How phone numbers are kept where they must not appear in clear: do-not-call lists and
//! the decision ledger (and its exports). A number is hashed in its E.164 form with
//! HMAC-SHA256 under a key of the deployment.
//!
//! Why keyed: E.164 numbers are few (about 10^10 in the whole NANP), so a plain SHA-256 of
//! one is undone by hashing every candidate, which takes minutes on a GPU; an export of
//! plain hashes would be an export of numbers. With a secret key the hashes say nothing to
//! whoever lacks it, and equal numbers still hash equally, which is all a list lookup or an
//! audit join needs.
//!
//! Why the key lives in the database (table `number_hash_key`, made at random by the
//! migration, never changed): every daemon and every CLI of a deployment must hash alike,
//! or a do-not-call entry silently stops matching, and a key that could differ between two
//! config files is exactly that risk. The key protects what leaves the database: exports,
//! copies of the lists, the ledger. It does not protect against a copy of the whole
//! database, which holds the clear numbers of queued requests anyway. It cannot be rotated:
//! the lists hold no clear numbers to hash again.
//!
//! SQL computes the same hash with the function `number_hash(text)`; [`NumberHasher`] is the
//! Rust side, for bulk imports, from the pads the table keeps. Pure.

use sha2::{Digest, Sha256};

use crate::queue::PhoneNumber;

/// SHA-256's block size, the length of the HMAC pads.
pub const PAD_LEN: usize = 64;

/// A number's hash.
pub type NumberHash = [u8; 32];

/// HMAC-SHA256 under the deployment's key, from its inner and outer pads (key XOR 0x36 and
/// key XOR 0x5c).
#[derive(Clone)]
pub struct NumberHasher {
    inner: [u8; PAD_LEN],
    outer: [u8; PAD_LEN],
}

impl std::fmt::Debug for NumberHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NumberHasher(..)")
    }
}

impl NumberHasher {
    /// The hasher of the stored pads; `None` unless both are [`PAD_LEN`] bytes.
    pub fn from_pads(inner: &[u8], outer: &[u8]) -> Option<Self> {
        Some(Self {
            inner: inner.try_into().ok()?,
            outer: outer.try_into().ok()?,
        })
    }

    /// The hash of `number`.
    pub fn hash(&self, number: &PhoneNumber) -> NumberHash {
        let inner = Sha256::new()
            .chain_update(self.inner)
            .chain_update(number.as_str().as_bytes())
            .finalize();
        Sha256::new()
            .chain_update(self.outer)
            .chain_update(inner)
            .finalize()
            .into()
    }
}

#[cfg(test)]
mod tests {
    use hmac::{Hmac, Mac};

    use super::*;

    #[test]
    fn the_pads_give_hmac_sha256_of_the_key() {
        let key: Vec<u8> = (0..PAD_LEN as u8).map(|i| i.wrapping_mul(37)).collect();
        let inner: Vec<u8> = key.iter().map(|b| b ^ 0x36).collect();
        let outer: Vec<u8> = key.iter().map(|b| b ^ 0x5c).collect();
        let hasher = NumberHasher::from_pads(&inner, &outer).unwrap();
        let number = PhoneNumber::parse("+14155550123").unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(b"+14155550123");
        assert_eq!(
            hasher.hash(&number),
            <[u8; 32]>::from(mac.finalize().into_bytes())
        );
        let other = PhoneNumber::parse("+14155550124").unwrap();
        assert_ne!(hasher.hash(&number), hasher.hash(&other));
    }

    #[test]
    fn pads_of_the_wrong_length_are_refused() {
        assert!(NumberHasher::from_pads(&[0; 63], &[0; 64]).is_none());
        assert!(NumberHasher::from_pads(&[0; 64], &[0; 65]).is_none());
    }
}
