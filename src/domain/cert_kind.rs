//! Which certificate (financial or joint) and where its key lives (cloud or device), with
//! their stored names. The rules over them (validity, which storage a kind allows) are in
//! `pki::profile`.

use serde::{Deserialize, Serialize};

/// Which certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CertKind {
    /// Financial certificate: key in the cloud, 3 years.
    Financial,
    /// Joint certificate (formerly "accredited"): 1 year, key on a device or in the cloud.
    Joint,
}

/// Where the private key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// Generated and sealed by fincert.
    Cloud,
    /// On the holder's device; fincert sees only a CSR.
    Device,
}

macro_rules! stored_names {
    ($t:ty { $($v:ident => $s:literal),* }) => {
        impl $t {
            /// Stored name.
            pub fn as_str(self) -> &'static str { match self { $(Self::$v => $s),* } }
            /// Parses a stored name.
            pub fn parse(s: &str) -> Option<Self> { match s { $($s => Some(Self::$v),)* _ => None } }
        }
    };
}
stored_names!(CertKind { Financial => "financial", Joint => "joint" });
stored_names!(Storage { Cloud => "cloud", Device => "device" });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip() {
        for k in [CertKind::Financial, CertKind::Joint] {
            assert_eq!(CertKind::parse(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
        for s in [Storage::Cloud, Storage::Device] {
            assert_eq!(Storage::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(CertKind::parse("Financial"), None);
        assert_eq!(Storage::parse("hsm"), None);
    }
}
