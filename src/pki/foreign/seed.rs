//! The SEED block cipher (KISA; RFC 4269, TTAS.KO-12.0004), decryption side plus encryption for
//! tests and key files fincert writes, and CBC with PKCS#5 padding as Korean NPKI key files use
//! it (`signPri.key`).
//!
//! No well-kept Rust crate implements SEED (RustCrypto's block-ciphers have none; the crates on
//! crates.io are experimental single-author releases), so it is written here from the
//! specification: the two 8-bit S-boxes are the standard's, the four 32-bit G tables are
//! derived from them at compile time exactly as RFC 4269 §2 defines G, and the unit tests check
//! the RFC 4269 appendix vectors. The API tests check it again against OpenSSL's SEED.
//!
//! Table look-ups are indexed by key- and data-dependent bytes, so this is not constant-time;
//! it only ever decrypts a key file the holder uploads, once, with a key derived from the
//! holder's own password.

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Block size in bytes.
pub const BLOCK: usize = 16;

const S1: [u8; 256] = [
    0xa9, 0x85, 0xd6, 0xd3, 0x54, 0x1d, 0xac, 0x25, 0x5d, 0x43, 0x18, 0x1e, 0x51, 0xfc, 0xca, 0x63,
    0x28, 0x44, 0x20, 0x9d, 0xe0, 0xe2, 0xc8, 0x17, 0xa5, 0x8f, 0x03, 0x7b, 0xbb, 0x13, 0xd2, 0xee,
    0x70, 0x8c, 0x3f, 0xa8, 0x32, 0xdd, 0xf6, 0x74, 0xec, 0x95, 0x0b, 0x57, 0x5c, 0x5b, 0xbd, 0x01,
    0x24, 0x1c, 0x73, 0x98, 0x10, 0xcc, 0xf2, 0xd9, 0x2c, 0xe7, 0x72, 0x83, 0x9b, 0xd1, 0x86, 0xc9,
    0x60, 0x50, 0xa3, 0xeb, 0x0d, 0xb6, 0x9e, 0x4f, 0xb7, 0x5a, 0xc6, 0x78, 0xa6, 0x12, 0xaf, 0xd5,
    0x61, 0xc3, 0xb4, 0x41, 0x52, 0x7d, 0x8d, 0x08, 0x1f, 0x99, 0x00, 0x19, 0x04, 0x53, 0xf7, 0xe1,
    0xfd, 0x76, 0x2f, 0x27, 0xb0, 0x8b, 0x0e, 0xab, 0xa2, 0x6e, 0x93, 0x4d, 0x69, 0x7c, 0x09, 0x0a,
    0xbf, 0xef, 0xf3, 0xc5, 0x87, 0x14, 0xfe, 0x64, 0xde, 0x2e, 0x4b, 0x1a, 0x06, 0x21, 0x6b, 0x66,
    0x02, 0xf5, 0x92, 0x8a, 0x0c, 0xb3, 0x7e, 0xd0, 0x7a, 0x47, 0x96, 0xe5, 0x26, 0x80, 0xad, 0xdf,
    0xa1, 0x30, 0x37, 0xae, 0x36, 0x15, 0x22, 0x38, 0xf4, 0xa7, 0x45, 0x4c, 0x81, 0xe9, 0x84, 0x97,
    0x35, 0xcb, 0xce, 0x3c, 0x71, 0x11, 0xc7, 0x89, 0x75, 0xfb, 0xda, 0xf8, 0x94, 0x59, 0x82, 0xc4,
    0xff, 0x49, 0x39, 0x67, 0xc0, 0xcf, 0xd7, 0xb8, 0x0f, 0x8e, 0x42, 0x23, 0x91, 0x6c, 0xdb, 0xa4,
    0x34, 0xf1, 0x48, 0xc2, 0x6f, 0x3d, 0x2d, 0x40, 0xbe, 0x3e, 0xbc, 0xc1, 0xaa, 0xba, 0x4e, 0x55,
    0x3b, 0xdc, 0x68, 0x7f, 0x9c, 0xd8, 0x4a, 0x56, 0x77, 0xa0, 0xed, 0x46, 0xb5, 0x2b, 0x65, 0xfa,
    0xe3, 0xb9, 0xb1, 0x9f, 0x5e, 0xf9, 0xe6, 0xb2, 0x31, 0xea, 0x6d, 0x5f, 0xe4, 0xf0, 0xcd, 0x88,
    0x16, 0x3a, 0x58, 0xd4, 0x62, 0x29, 0x07, 0x33, 0xe8, 0x1b, 0x05, 0x79, 0x90, 0x6a, 0x2a, 0x9a,
];
const S2: [u8; 256] = [
    0x38, 0xe8, 0x2d, 0xa6, 0xcf, 0xde, 0xb3, 0xb8, 0xaf, 0x60, 0x55, 0xc7, 0x44, 0x6f, 0x6b, 0x5b,
    0xc3, 0x62, 0x33, 0xb5, 0x29, 0xa0, 0xe2, 0xa7, 0xd3, 0x91, 0x11, 0x06, 0x1c, 0xbc, 0x36, 0x4b,
    0xef, 0x88, 0x6c, 0xa8, 0x17, 0xc4, 0x16, 0xf4, 0xc2, 0x45, 0xe1, 0xd6, 0x3f, 0x3d, 0x8e, 0x98,
    0x28, 0x4e, 0xf6, 0x3e, 0xa5, 0xf9, 0x0d, 0xdf, 0xd8, 0x2b, 0x66, 0x7a, 0x27, 0x2f, 0xf1, 0x72,
    0x42, 0xd4, 0x41, 0xc0, 0x73, 0x67, 0xac, 0x8b, 0xf7, 0xad, 0x80, 0x1f, 0xca, 0x2c, 0xaa, 0x34,
    0xd2, 0x0b, 0xee, 0xe9, 0x5d, 0x94, 0x18, 0xf8, 0x57, 0xae, 0x08, 0xc5, 0x13, 0xcd, 0x86, 0xb9,
    0xff, 0x7d, 0xc1, 0x31, 0xf5, 0x8a, 0x6a, 0xb1, 0xd1, 0x20, 0xd7, 0x02, 0x22, 0x04, 0x68, 0x71,
    0x07, 0xdb, 0x9d, 0x99, 0x61, 0xbe, 0xe6, 0x59, 0xdd, 0x51, 0x90, 0xdc, 0x9a, 0xa3, 0xab, 0xd0,
    0x81, 0x0f, 0x47, 0x1a, 0xe3, 0xec, 0x8d, 0xbf, 0x96, 0x7b, 0x5c, 0xa2, 0xa1, 0x63, 0x23, 0x4d,
    0xc8, 0x9e, 0x9c, 0x3a, 0x0c, 0x2e, 0xba, 0x6e, 0x9f, 0x5a, 0xf2, 0x92, 0xf3, 0x49, 0x78, 0xcc,
    0x15, 0xfb, 0x70, 0x75, 0x7f, 0x35, 0x10, 0x03, 0x64, 0x6d, 0xc6, 0x74, 0xd5, 0xb4, 0xea, 0x09,
    0x76, 0x19, 0xfe, 0x40, 0x12, 0xe0, 0xbd, 0x05, 0xfa, 0x01, 0xf0, 0x2a, 0x5e, 0xa9, 0x56, 0x43,
    0x85, 0x14, 0x89, 0x9b, 0xb0, 0xe5, 0x48, 0x79, 0x97, 0xfc, 0x1e, 0x82, 0x21, 0x8c, 0x1b, 0x5f,
    0x77, 0x54, 0xb2, 0x1d, 0x25, 0x4f, 0x00, 0x46, 0xed, 0x58, 0x52, 0xeb, 0x7e, 0xda, 0xc9, 0xfd,
    0x30, 0x95, 0x65, 0x3c, 0xb6, 0xe4, 0xbb, 0x7c, 0x0e, 0x50, 0x39, 0x26, 0x32, 0x84, 0x69, 0x93,
    0x37, 0xe7, 0x24, 0xa4, 0xcb, 0x53, 0x0a, 0x87, 0xd9, 0x4c, 0x83, 0x8f, 0xce, 0x3b, 0x4a, 0xb7,
];

/// `SS_i[x]`: the S-box output (S1 for bytes 0 and 2, S2 for 1 and 3) masked into the four
/// bytes of G's output (RFC 4269 §2: m0 = 0xfc, m1 = 0xf3, m2 = 0xcf, m3 = 0x3f).
const fn table(sbox: &[u8; 256], masks: [u8; 4]) -> [u32; 256] {
    let mut out = [0u32; 256];
    let mut x = 0;
    while x < 256 {
        let y = sbox[x];
        out[x] = (((y & masks[0]) as u32) << 24)
            | (((y & masks[1]) as u32) << 16)
            | (((y & masks[2]) as u32) << 8)
            | ((y & masks[3]) as u32);
        x += 1;
    }
    out
}

const SS0: [u32; 256] = table(&S1, [0x3f, 0xcf, 0xf3, 0xfc]);
const SS1: [u32; 256] = table(&S2, [0xfc, 0x3f, 0xcf, 0xf3]);
const SS2: [u32; 256] = table(&S1, [0xf3, 0xfc, 0x3f, 0xcf]);
const SS3: [u32; 256] = table(&S2, [0xcf, 0xf3, 0xfc, 0x3f]);

/// The G function.
fn g(x: u32) -> u32 {
    let [b3, b2, b1, b0] = x.to_be_bytes();
    SS0[usize::from(b0)] ^ SS1[usize::from(b1)] ^ SS2[usize::from(b2)] ^ SS3[usize::from(b3)]
}

/// The round function F on the right half `(c, d)` with round keys `(k0, k1)`.
fn f(c: u32, d: u32, k0: u32, k1: u32) -> (u32, u32) {
    let a = c ^ k0;
    let t1 = g(a ^ d ^ k1);
    let t2 = g(t1.wrapping_add(a));
    let t3 = g(t2.wrapping_add(t1));
    (t3.wrapping_add(t2), t3)
}

/// A SEED key schedule (16 rounds × 2 words), zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Seed {
    round_keys: [u32; 32],
}

impl Seed {
    /// The key schedule of a 128-bit key (RFC 4269 §2.2).
    pub fn new(key: &[u8; 16]) -> Self {
        let word = |i: usize| u32::from_be_bytes([key[i], key[i + 1], key[i + 2], key[i + 3]]);
        let (mut a, mut b, mut c, mut d) = (word(0), word(4), word(8), word(12));
        let mut kc: u32 = 0x9e37_79b9;
        let mut round_keys = [0u32; 32];
        for round in 0..16 {
            round_keys[2 * round] = g(a.wrapping_add(c).wrapping_sub(kc));
            round_keys[2 * round + 1] = g(b.wrapping_sub(d).wrapping_add(kc));
            if round % 2 == 0 {
                // A||B >>> 8
                let ab = ((u64::from(a) << 32) | u64::from(b)).rotate_right(8);
                (a, b) = ((ab >> 32) as u32, ab as u32);
            } else {
                // C||D <<< 8
                let cd = ((u64::from(c) << 32) | u64::from(d)).rotate_left(8);
                (c, d) = ((cd >> 32) as u32, cd as u32);
            }
            kc = kc.rotate_left(1);
        }
        Self { round_keys }
    }

    fn rounds(&self, block: &mut [u8; BLOCK], keys: impl Iterator<Item = (u32, u32)>) {
        let word =
            |i: usize| u32::from_be_bytes([block[i], block[i + 1], block[i + 2], block[i + 3]]);
        let (mut l0, mut l1, mut r0, mut r1) = (word(0), word(4), word(8), word(12));
        for (k0, k1) in keys {
            let (f0, f1) = f(r0, r1, k0, k1);
            (l0, l1, r0, r1) = (r0, r1, l0 ^ f0, l1 ^ f1);
        }
        // The last round does not swap: undo the loop's final swap.
        for (i, w) in [r0, r1, l0, l1].into_iter().enumerate() {
            block[4 * i..4 * i + 4].copy_from_slice(&w.to_be_bytes());
        }
    }

    /// Encrypts one block in place.
    pub fn encrypt_block(&self, block: &mut [u8; BLOCK]) {
        self.rounds(
            block,
            (0..16).map(|r| (self.round_keys[2 * r], self.round_keys[2 * r + 1])),
        );
    }

    /// Decrypts one block in place.
    pub fn decrypt_block(&self, block: &mut [u8; BLOCK]) {
        self.rounds(
            block,
            (0..16)
                .rev()
                .map(|r| (self.round_keys[2 * r], self.round_keys[2 * r + 1])),
        );
    }
}

/// SEED-CBC decryption with PKCS#5 padding. `None` when the length is not a positive multiple
/// of the block or the padding is wrong (almost always: a wrong password). The plaintext is
/// zeroizing.
pub fn cbc_decrypt(
    key: &[u8; 16],
    iv: &[u8; BLOCK],
    data: &[u8],
) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    if data.is_empty() || !data.len().is_multiple_of(BLOCK) {
        return None;
    }
    let cipher = Seed::new(key);
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(data.len()));
    let mut previous = *iv;
    for chunk in data.chunks_exact(BLOCK) {
        let mut block = [0u8; BLOCK];
        block.copy_from_slice(chunk);
        cipher.decrypt_block(&mut block);
        for (b, p) in block.iter_mut().zip(previous) {
            *b ^= p;
        }
        out.extend_from_slice(&block);
        block.zeroize();
        previous.copy_from_slice(chunk);
    }
    let pad = usize::from(*out.last()?);
    let padding_ok = (1..=BLOCK).contains(&pad)
        && out[out.len() - pad..]
            .iter()
            .all(|&b| usize::from(b) == pad);
    if !padding_ok {
        return None;
    }
    let keep = out.len() - pad;
    out.truncate(keep);
    Some(out)
}

/// SEED-CBC encryption with PKCS#5 padding (key files fincert writes, and tests).
pub fn cbc_encrypt(key: &[u8; 16], iv: &[u8; BLOCK], data: &[u8]) -> Vec<u8> {
    let cipher = Seed::new(key);
    let pad = BLOCK - data.len() % BLOCK;
    let mut padded = zeroize::Zeroizing::new(data.to_vec());
    padded.extend(std::iter::repeat_n(pad as u8, pad));
    let mut out = Vec::with_capacity(padded.len());
    let mut previous = *iv;
    for chunk in padded.chunks_exact(BLOCK) {
        let mut block = [0u8; BLOCK];
        for ((b, c), p) in block.iter_mut().zip(chunk).zip(previous) {
            *b = c ^ p;
        }
        cipher.encrypt_block(&mut block);
        out.extend_from_slice(&block);
        previous = block;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex16(s: &str) -> [u8; 16] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    /// RFC 4269 Appendix B: the four (key, plaintext, ciphertext) examples.
    #[test]
    fn rfc4269_vectors() {
        for (key, plain, cipher) in [
            (
                "00000000000000000000000000000000",
                "000102030405060708090A0B0C0D0E0F",
                "5EBAC6E0054E166819AFF1CC6D346CDB",
            ),
            (
                "000102030405060708090A0B0C0D0E0F",
                "00000000000000000000000000000000",
                "C11F22F20140505084483597E4370F43",
            ),
            (
                "4706480851E61BE85D74BFB3FD956185",
                "83A2F8A288641FB9A4E9A5CC2F131C7D",
                "EE54D13EBCAE706D226BC3142CD40D4A",
            ),
            (
                "28DBC3BC49FFD87DCFA509B11D422BE7",
                "B41E6BE2EBA84A148E2EED84593C5EC7",
                "9B9B7BFCD1813CB95D0B3618F40F5122",
            ),
        ] {
            let seed = Seed::new(&hex16(key));
            let mut block = hex16(plain);
            seed.encrypt_block(&mut block);
            assert_eq!(block, hex16(cipher), "encrypt under {key}");
            seed.decrypt_block(&mut block);
            assert_eq!(block, hex16(plain), "decrypt under {key}");
        }
    }

    #[test]
    fn cbc_round_trip_and_padding() {
        let (key, iv) = ([7u8; 16], [9u8; 16]);
        for len in [0, 1, 15, 16, 17, 100] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let ct = cbc_encrypt(&key, &iv, &data);
            assert_eq!(ct.len(), (len / 16 + 1) * 16);
            assert_eq!(cbc_decrypt(&key, &iv, &ct).unwrap().as_slice(), data);
            assert!(
                cbc_decrypt(&[8u8; 16], &iv, &ct).is_none_or(|p| p.as_slice() != data),
                "another key does not give the plaintext"
            );
        }
        assert!(cbc_decrypt(&key, &iv, &[]).is_none());
        assert!(cbc_decrypt(&key, &iv, &[0u8; 15]).is_none());
    }
}
