//! The security card (보안카드): 30 or 35 numbered cells of four digits each. A challenge names
//! two different cells and asks for the first two digits of one and the last two digits of the
//! other; consecutive challenges never ask for the same pair of cells.
//!
//! Card values are secrets: they are generated here, handed to the card printer once, and
//! stored only sealed (the caller seals `Card::to_bytes` under KMS like any key material).

use aws_lc_rs::{
    constant_time,
    rand::{SecureRandom, SystemRandom},
};
use zeroize::Zeroizing;

/// Why a card operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// Cards have 30 or 35 cells.
    #[error("a security card has 30 or 35 cells")]
    Size,
    /// Stored card bytes are not a card.
    #[error("not a security card")]
    Malformed,
    /// The random source failed.
    #[error("random source failed")]
    Random,
}

/// A security card's values (never printed by `Debug`).
pub struct Card {
    cells: Zeroizing<Vec<[u8; 4]>>,
}

impl std::fmt::Debug for Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Card({} cells)", self.cells.len())
    }
}

/// Which half of a cell is asked for: the wire type itself.
pub use fincert_client::proto::enrolment::Half;

/// A challenge: two different cells (numbered from 1) and which half of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Challenge {
    /// First cell and the half asked.
    pub a: (u8, Half),
    /// Second cell and the half asked.
    pub b: (u8, Half),
}

impl Challenge {
    fn pair(&self) -> (u8, u8) {
        (self.a.0.min(self.b.0), self.a.0.max(self.b.0))
    }
}

fn random_below(rng: &SystemRandom, n: u32) -> Result<u32, CardError> {
    // Rejection sampling: no modulo bias.
    let limit = u32::MAX - u32::MAX % n;
    loop {
        let mut b = [0u8; 4];
        rng.fill(&mut b).map_err(|_| CardError::Random)?;
        let v = u32::from_be_bytes(b);
        if v < limit {
            return Ok(v % n);
        }
    }
}

impl Card {
    /// A new card of `cells` (30 or 35) random cells.
    pub fn generate(cells: usize) -> Result<Self, CardError> {
        if cells != 30 && cells != 35 {
            return Err(CardError::Size);
        }
        let rng = SystemRandom::new();
        let mut values = Zeroizing::new(Vec::with_capacity(cells));
        for _ in 0..cells {
            let mut cell = [0u8; 4];
            for d in &mut cell {
                *d = u8::try_from(random_below(&rng, 10)?).map_err(|_| CardError::Random)?;
            }
            values.push(cell);
        }
        Ok(Self { cells: values })
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether the card has no cells (never, for a valid card).
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The card as bytes (one digit per byte), to be sealed; zeroized on drop.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.cells.iter().flatten().copied().collect())
    }

    /// A card from sealed bytes, once unsealed.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CardError> {
        if !(bytes.len() == 120 || bytes.len() == 140) || bytes.iter().any(|d| *d > 9) {
            return Err(CardError::Malformed);
        }
        let cells = bytes
            .chunks_exact(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect();
        Ok(Self {
            cells: Zeroizing::new(cells),
        })
    }

    /// The printed form of cell `n` (1-based), for the card printer only.
    pub fn printed(&self, n: u8) -> Option<String> {
        let cell = self.cells.get(usize::from(n).checked_sub(1)?)?;
        Some(cell.iter().map(|d| char::from(b'0' + d)).collect())
    }

    /// A fresh challenge, never the same pair of cells as `previous`.
    pub fn challenge(&self, previous: Option<&Challenge>) -> Result<Challenge, CardError> {
        let rng = SystemRandom::new();
        let n = u32::try_from(self.cells.len()).map_err(|_| CardError::Malformed)?;
        loop {
            let a = u8::try_from(random_below(&rng, n)? + 1).map_err(|_| CardError::Malformed)?;
            let b = u8::try_from(random_below(&rng, n)? + 1).map_err(|_| CardError::Malformed)?;
            if a == b {
                continue;
            }
            let halves = random_below(&rng, 2)?;
            let (ha, hb) = if halves == 0 {
                (Half::First, Half::Last)
            } else {
                (Half::Last, Half::First)
            };
            let challenge = Challenge {
                a: (a, ha),
                b: (b, hb),
            };
            if previous.is_some_and(|p| p.pair() == challenge.pair()) {
                continue;
            }
            return Ok(challenge);
        }
    }

    fn expected(&self, (cell, half): (u8, Half)) -> Option<[u8; 2]> {
        let c = self.cells.get(usize::from(cell).checked_sub(1)?)?;
        Some(match half {
            Half::First => [c[0] + b'0', c[1] + b'0'],
            Half::Last => [c[2] + b'0', c[3] + b'0'],
        })
    }

    /// Checks the four digits typed for `challenge` (two for `a`, then two for `b`) in constant
    /// time.
    pub fn verify(&self, challenge: &Challenge, answer: &str) -> bool {
        let (Some(a), Some(b)) = (self.expected(challenge.a), self.expected(challenge.b)) else {
            return false;
        };
        let expected = [a[0], a[1], b[0], b[1]];
        answer.len() == 4
            && constant_time::verify_slices_are_equal(answer.as_bytes(), &expected).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_have_30_or_35_cells_of_four_digits() {
        for n in [30, 35] {
            let card = Card::generate(n).unwrap();
            assert_eq!(card.len(), n);
            for i in 1..=n as u8 {
                let printed = card.printed(i).unwrap();
                assert_eq!(printed.len(), 4);
                assert!(printed.bytes().all(|b| b.is_ascii_digit()));
            }
            assert!(card.printed(0).is_none() && card.printed(n as u8 + 1).is_none());
        }
        assert_eq!(Card::generate(31).unwrap_err(), CardError::Size);
        assert_eq!(
            format!("{:?}", Card::generate(30).unwrap()),
            "Card(30 cells)",
            "values never printed"
        );
    }

    #[test]
    fn the_right_halves_pass_and_nothing_else() {
        let card = Card::generate(30).unwrap();
        let ch = card.challenge(None).unwrap();
        assert_ne!(ch.a.0, ch.b.0);
        assert_ne!(ch.a.1, ch.b.1, "one first half, one last half");
        let half = |(cell, h): (u8, Half)| {
            let p = card.printed(cell).unwrap();
            match h {
                Half::First => p[..2].to_string(),
                Half::Last => p[2..].to_string(),
            }
        };
        let right = format!("{}{}", half(ch.a), half(ch.b));
        assert!(card.verify(&ch, &right));
        let wrong: String = right
            .chars()
            .map(|c| {
                if c == '9' {
                    '0'
                } else {
                    char::from(c as u8 + 1)
                }
            })
            .collect();
        assert!(!card.verify(&ch, &wrong));
        assert!(!card.verify(&ch, &right[..3]));
        assert!(!card.verify(&ch, &format!("{right}0")));
    }

    #[test]
    fn consecutive_challenges_never_repeat_the_pair() {
        let card = Card::generate(30).unwrap();
        let mut prev = card.challenge(None).unwrap();
        for _ in 0..500 {
            let next = card.challenge(Some(&prev)).unwrap();
            assert_ne!(next.pair(), prev.pair());
            prev = next;
        }
    }

    #[test]
    fn cards_round_trip_through_their_sealed_bytes() {
        let card = Card::generate(35).unwrap();
        let again = Card::from_bytes(&card.to_bytes()).unwrap();
        for i in 1..=35 {
            assert_eq!(card.printed(i), again.printed(i));
        }
        assert_eq!(
            Card::from_bytes(&[1u8; 121]).unwrap_err(),
            CardError::Malformed
        );
        assert_eq!(
            Card::from_bytes(&[10u8; 120]).unwrap_err(),
            CardError::Malformed
        );
    }
}
