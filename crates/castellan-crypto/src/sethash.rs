//! A multiset hash for signed vault manifests: the sum, on the Ristretto group, of one point per
//! element (each element hashed to the group with SHA-512). Adding and removing an element are
//! O(1), so a client can keep the hash of a large vault up to date with each change, and the
//! order of elements does not matter. Finding two different sets with the same sum is as hard as
//! the discrete logarithm problem in the group (an elliptic-curve multiset hash).

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::traits::Identity;
use sha2::Sha512;

use crate::{CryptoError, Result};

const ELEMENT_LABEL: &[u8] = b"castellan/v1/sethash-element";

/// The hash of a multiset of byte strings.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SetHash(RistrettoPoint);

impl std::fmt::Debug for SetHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SetHash({})", hex::encode(self.to_bytes()))
    }
}

impl Default for SetHash {
    fn default() -> Self {
        Self::empty()
    }
}

/// One element's point, kept so it can be removed later without recomputing it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SetElement([u8; 32]);

impl SetElement {
    /// Hashes an element's bytes to the group.
    pub fn of(bytes: &[u8]) -> Self {
        let mut input = Vec::with_capacity(ELEMENT_LABEL.len() + bytes.len());
        input.extend_from_slice(ELEMENT_LABEL);
        input.extend_from_slice(bytes);
        SetElement(
            RistrettoPoint::hash_from_bytes::<Sha512>(&input)
                .compress()
                .to_bytes(),
        )
    }
    /// The compressed point.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }
    /// Parses a compressed point, refusing anything that is not a group element.
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let arr: [u8; 32] = b
            .try_into()
            .map_err(|_| CryptoError::Malformed("set element must be 32 bytes"))?;
        CompressedRistretto(arr)
            .decompress()
            .ok_or(CryptoError::Malformed("set element is not a group element"))?;
        Ok(SetElement(arr))
    }
    fn point(&self) -> Result<RistrettoPoint> {
        CompressedRistretto(self.0)
            .decompress()
            .ok_or(CryptoError::Malformed("set element is not a group element"))
    }
}

impl SetHash {
    /// The hash of the empty set.
    pub fn empty() -> Self {
        SetHash(RistrettoPoint::identity())
    }
    /// Adds one element.
    pub fn add(&mut self, e: &SetElement) -> Result<()> {
        self.0 += e.point()?;
        Ok(())
    }
    /// Removes one element (which must have been added).
    pub fn remove(&mut self, e: &SetElement) -> Result<()> {
        self.0 -= e.point()?;
        Ok(())
    }
    /// The 32-byte encoding, as signed in a manifest.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.compress().to_bytes()
    }
    /// Parses the 32-byte encoding.
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let arr: [u8; 32] = b
            .try_into()
            .map_err(|_| CryptoError::Malformed("set hash must be 32 bytes"))?;
        Ok(SetHash(CompressedRistretto(arr).decompress().ok_or(
            CryptoError::Malformed("set hash is not a group element"),
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_independent_incremental_and_sensitive_to_every_change() {
        let els: Vec<SetElement> = (0..50u32)
            .map(|i| SetElement::of(&i.to_be_bytes()))
            .collect();
        let mut a = SetHash::empty();
        for e in &els {
            a.add(e).unwrap();
        }
        let mut b = SetHash::empty();
        for e in els.iter().rev() {
            b.add(e).unwrap();
        }
        assert_eq!(a, b, "order does not matter");
        // Removing and re-adding is the identity; a missing, duplicated or changed element is not.
        let mut c = a;
        c.remove(&els[7]).unwrap();
        assert_ne!(a, c, "a dropped element changes the hash");
        c.add(&els[7]).unwrap();
        assert_eq!(a, c);
        let mut d = a;
        d.add(&els[7]).unwrap();
        assert_ne!(a, d, "a duplicated element changes the hash");
        let mut e = a;
        e.remove(&els[3]).unwrap();
        e.add(&SetElement::of(b"changed")).unwrap();
        assert_ne!(a, e);
        assert_eq!(SetHash::from_bytes(&a.to_bytes()).unwrap(), a);
        assert_eq!(SetHash::empty().to_bytes(), SetHash::default().to_bytes());
        assert!(SetHash::from_bytes(&[0xff; 32]).is_err());
        assert!(SetElement::from_bytes(&[1; 31]).is_err());
    }
}
