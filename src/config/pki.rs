//! The `[pki]` section: the CA's published base URL, key algorithms, the existing KMS keys of the
//! root and issuing CA (AWS backend), name, policy arc, and certificate, CRL and OCSP lifetimes;
//! and [`is_dotted_oid`], the one check a policy arc must pass before any OID library sees it.
//!
//! Key algorithms are checked against the names in [`KEY_ALGORITHMS`] here, not by asking
//! custody: config imports nothing from the rest of the crate.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The key algorithm names accepted for `pki.ca_algorithm` and `pki.user_key_algorithm`: the
/// stored names of the key algorithms custody generates (`custody::keys::KeyAlgorithm`). A new
/// algorithm there is added here too.
pub const KEY_ALGORITHMS: &[&str] = &["rsa2048", "p256"];

/// CA and certificate profile settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PkiSettings {
    /// Base URL under which CA certificates, the CRL and OCSP are published (goes into every
    /// certificate's CRL distribution point and AIA).
    pub public_base_url: String,
    /// Key algorithm of the CA keys: `rsa2048` or `p256`.
    pub ca_algorithm: String,
    /// Key algorithm of users' cloud keys: `rsa2048` or `p256`.
    pub user_key_algorithm: String,
    /// Create a development CA on first start if none exists.
    pub auto_init: bool,
    /// The CA's name (`O=` of every certificate).
    pub organization: String,
    /// The OID arc under which fincert's certificate policies sit. Policies are
    /// `<arc>.1.1` financial restricted-use, `<arc>.1.2` financial general-purpose,
    /// `<arc>.2.1` joint restricted-use, `<arc>.2.2` joint general-purpose.
    pub policy_arc: String,
    /// Renewal opens when this many days or fewer remain.
    pub renewal_window_days: u32,
    /// Hours a CRL is valid (its nextUpdate).
    pub crl_validity_hours: u32,
    /// Days the root's CRL (ARL: the issuing CA's status) is valid. The lifecycle job re-signs
    /// it when a quarter of that is left, so with the AWS backend the root key signs through
    /// KMS about once every three quarters of this, plus once per revocation of the issuing CA.
    pub arl_validity_days: u32,
    /// Minutes an OCSP answer is valid (its nextUpdate).
    pub ocsp_validity_minutes: u32,
    /// Pre-signed OCSP answers for our certificates each node keeps in memory (least recently
    /// used dropped first; about 1.5 KB each with an RSA responder); 0 turns the cache off.
    pub ocsp_cache_entries: u32,
    /// "unknown" answers (serials this CA never issued) each node keeps, in a cache of their
    /// own so random serials cannot push out the answers for real certificates; 0 turns it off.
    pub ocsp_unknown_cache_entries: u32,
    /// Fee in KRW for general-purpose issuance and renewal.
    pub general_purpose_fee_krw: u32,
    /// Directory of trusted foreign CA certificates (PEM or DER) for registering certificates
    /// issued elsewhere; empty means `<data_dir>/trust-anchors`.
    pub trust_anchors_dir: String,
    /// With `kms.backend = "aws"`: the existing asymmetric KMS key (key id, ARN or alias;
    /// `SIGN_VERIFY`, spec matching `ca_algorithm`) `ca init` makes the root CA with. fincert
    /// never creates KMS keys: they are made (by Terraform) and named here.
    pub aws_root_key_id: String,
    /// The same for the issuing CA (a different key from the root's).
    pub aws_issuing_key_id: String,
    /// How long a node trusts its last poll of the revocation change count before the OCSP
    /// cache stops answering (default `signing::checks::STALE_AFTER`, 1 s). Not a setting: no
    /// file or variable can set it (an unknown `[pki]` key is refused); only tests that check
    /// what is served from memory widen it, so a slow poll on a loaded machine is not a miss.
    #[serde(skip)]
    pub ocsp_poll_trust_for_tests: Option<std::time::Duration>,
    /// With `kms.backend = "pkcs11"`: `ca init` generates the root and issuing keys inside the
    /// HSM (sensitive, non-extractable token keys) instead of sealing them under it.
    pub pkcs11_ca_keys: bool,
}

impl Default for PkiSettings {
    fn default() -> Self {
        Self {
            public_base_url: "http://127.0.0.1:8080".into(),
            ca_algorithm: "rsa2048".into(),
            user_key_algorithm: "rsa2048".into(),
            auto_init: true,
            organization: "fincert".into(),
            // Under 1.3.6.1.4.1.32473, the enterprise number IANA reserves for
            // documentation (RFC 5612): fine for development, obviously not a production
            // policy. Production sets the operator's registered arc.
            policy_arc: "1.3.6.1.4.1.32473.410".into(),
            renewal_window_days: 30,
            crl_validity_hours: 24,
            arl_validity_days: 30,
            ocsp_validity_minutes: 60,
            ocsp_cache_entries: 20_000,
            ocsp_unknown_cache_entries: 5_000,
            general_purpose_fee_krw: 4400,
            trust_anchors_dir: String::new(),
            aws_root_key_id: String::new(),
            aws_issuing_key_id: String::new(),
            ocsp_poll_trust_for_tests: None,
            pkcs11_ca_keys: false,
        }
    }
}

impl PkiSettings {
    /// Checks every value of the section that types alone do not.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("pki.ca_algorithm", &self.ca_algorithm),
            ("pki.user_key_algorithm", &self.user_key_algorithm),
        ] {
            if !KEY_ALGORITHMS.contains(&value.as_str()) {
                return Err(ConfigError::new(key, "must be rsa2048 or p256"));
            }
        }
        if !(self.public_base_url.starts_with("http://")
            || self.public_base_url.starts_with("https://"))
            || self.public_base_url.ends_with('/')
        {
            return Err(ConfigError::new(
                "pki.public_base_url",
                "must be an http(s) URL without a trailing slash",
            ));
        }
        if !is_dotted_oid(&self.policy_arc) {
            return Err(ConfigError::new("pki.policy_arc", "must be a dotted OID"));
        }
        if self.organization.is_empty() || self.organization.len() > 64 {
            return Err(ConfigError::new(
                "pki.organization",
                "must be 1 to 64 characters",
            ));
        }
        if !(1..=365).contains(&self.renewal_window_days) {
            return Err(ConfigError::new(
                "pki.renewal_window_days",
                "must be between 1 and 365",
            ));
        }
        if !(1..=24 * 30).contains(&self.crl_validity_hours) {
            return Err(ConfigError::new(
                "pki.crl_validity_hours",
                "must be between 1 and 720",
            ));
        }
        if !(1..=365).contains(&self.arl_validity_days) {
            return Err(ConfigError::new(
                "pki.arl_validity_days",
                "must be between 1 and 365",
            ));
        }
        if !(1..=24 * 60).contains(&self.ocsp_validity_minutes) {
            return Err(ConfigError::new(
                "pki.ocsp_validity_minutes",
                "must be between 1 and 1440",
            ));
        }
        for (key, value) in [
            ("pki.ocsp_cache_entries", self.ocsp_cache_entries),
            (
                "pki.ocsp_unknown_cache_entries",
                self.ocsp_unknown_cache_entries,
            ),
        ] {
            if value > 1_000_000 {
                return Err(ConfigError::new(key, "must be at most 1000000"));
            }
        }
        for (key, value) in [
            ("pki.aws_root_key_id", &self.aws_root_key_id),
            ("pki.aws_issuing_key_id", &self.aws_issuing_key_id),
        ] {
            if !value.is_empty() && !is_kms_key_identifier(value) {
                return Err(ConfigError::new(
                    key,
                    "must be a KMS key id, key ARN, alias name (alias/...) or alias ARN",
                ));
            }
        }
        if self.aws_root_key_id.is_empty() != self.aws_issuing_key_id.is_empty() {
            return Err(ConfigError::new(
                "pki.aws_issuing_key_id",
                "set both pki.aws_root_key_id and pki.aws_issuing_key_id, or neither",
            ));
        }
        if !self.aws_root_key_id.is_empty() && self.aws_root_key_id == self.aws_issuing_key_id {
            return Err(ConfigError::new(
                "pki.aws_issuing_key_id",
                "must name a different key from pki.aws_root_key_id",
            ));
        }
        Ok(())
    }
}

/// The shapes AWS KMS accepts as a `KeyId`: a key id (UUID or `mrk-…`), a key ARN, an alias
/// name (`alias/…`) or an alias ARN; checked for shape only (KMS itself says whether it exists).
fn is_kms_key_identifier(s: &str) -> bool {
    let charset = |v: &str, extra: &[u8]| {
        !v.is_empty()
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
    };
    if s.len() > 2048 {
        return false;
    }
    if let Some(alias) = s.strip_prefix("alias/") {
        return charset(alias, b"/_-") && !alias.starts_with("aws/");
    }
    if let Some(arn) = s.strip_prefix("arn:") {
        // arn:<partition>:kms:<region>:<account>:key/<id> or …:alias/<name>
        let parts: Vec<&str> = arn.splitn(5, ':').collect();
        return parts.len() == 5
            && charset(parts[0], b"-")
            && parts[1] == "kms"
            && charset(parts[2], b"-")
            && parts[3].len() == 12
            && parts[3].bytes().all(|b| b.is_ascii_digit())
            && (parts[4]
                .strip_prefix("key/")
                .is_some_and(|id| charset(id, b"-"))
                || parts[4]
                    .strip_prefix("alias/")
                    .is_some_and(|a| charset(a, b"/_-")));
    }
    charset(s, b"-")
}

/// A dotted OID whose arcs each fit in 32 bits (the OID library's limit; it must never see
/// anything else, as it panics on overflow in debug builds) and that is short enough to leave
/// room for the policy suffixes.
pub fn is_dotted_oid(s: &str) -> bool {
    let arcs: Vec<&str> = s.split('.').collect();
    arcs.len() >= 2
        && arcs.len() <= 20
        && arcs.iter().all(|a| {
            !a.is_empty()
                && a.len() <= 10
                && a.bytes().all(|b| b.is_ascii_digit())
                && a.parse::<u32>().is_ok()
        })
        && arcs[0].parse::<u32>().is_ok_and(|first| first <= 2)
        && s.parse::<const_oid::ObjectIdentifier>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_key_ids_are_kms_identifiers_given_as_a_pair() {
        for ok in [
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
            "alias/fincert-prod-root-ca",
            "arn:aws:kms:ap-northeast-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:ap-northeast-2:111122223333:alias/fincert-prod-root-ca",
        ] {
            assert!(is_kms_key_identifier(ok), "{ok}");
            let s = PkiSettings {
                aws_root_key_id: ok.into(),
                aws_issuing_key_id: "alias/fincert-issuing".into(),
                ..PkiSettings::default()
            };
            assert!(s.validate().is_ok(), "{ok}");
        }
        for bad in [
            "alias/",
            "alias/aws/ebs",
            "root key",
            "arn:aws:kms:ap-northeast-2:1111:key/x",
            "arn:aws:s3:::bucket",
            "arn:aws:kms:ap-northeast-2:111122223333:key/",
            "key\n",
        ] {
            assert!(!is_kms_key_identifier(bad), "{bad}");
            let s = PkiSettings {
                aws_root_key_id: bad.into(),
                aws_issuing_key_id: "alias/fincert-issuing".into(),
                ..PkiSettings::default()
            };
            assert_eq!(
                s.validate().unwrap_err().key,
                "pki.aws_root_key_id",
                "{bad}"
            );
        }
        let one = PkiSettings {
            aws_root_key_id: "alias/fincert-root".into(),
            ..PkiSettings::default()
        };
        assert_eq!(one.validate().unwrap_err().key, "pki.aws_issuing_key_id");
        let same = PkiSettings {
            aws_root_key_id: "alias/fincert-root".into(),
            aws_issuing_key_id: "alias/fincert-root".into(),
            ..PkiSettings::default()
        };
        let e = same.validate().unwrap_err();
        assert!(e.problem.contains("different key"), "{e}");
    }

    #[test]
    fn policy_arcs_are_checked_without_panicking() {
        assert!(is_dotted_oid("1.3.6.1.4.1.32473.410"));
        assert!(is_dotted_oid("1.2.410.200005.1"));
        for bad in [
            "",
            "2",
            "2.25.311202852304066711612190233987197508619",
            "2.999.1",
            "1..2",
            "3.1",
            "1.2.x",
            "1.2.-3",
        ] {
            assert!(!is_dotted_oid(bad), "{bad}");
        }
    }

    #[test]
    fn key_algorithms_are_the_stored_names() {
        for ok in ["rsa2048", "p256"] {
            let s = PkiSettings {
                ca_algorithm: ok.into(),
                user_key_algorithm: ok.into(),
                ..PkiSettings::default()
            };
            assert!(s.validate().is_ok(), "{ok}");
        }
        for (bad, key) in [
            ("RSA2048", "pki.ca_algorithm"),
            ("ed25519", "pki.ca_algorithm"),
            ("", "pki.ca_algorithm"),
        ] {
            let s = PkiSettings {
                ca_algorithm: bad.into(),
                ..PkiSettings::default()
            };
            let e = s.validate().unwrap_err();
            assert_eq!(
                (e.key.as_str(), e.problem.as_str()),
                (key, "must be rsa2048 or p256")
            );
        }
        let s = PkiSettings {
            user_key_algorithm: "p384".into(),
            ..PkiSettings::default()
        };
        assert_eq!(s.validate().unwrap_err().key, "pki.user_key_algorithm");
    }
}
