//! Domain values as wire types (`fincert_client::proto`), and wire enums as domain ones: the
//! one place a handler's answer stops being a domain value. Most domain enums are the wire
//! enums themselves (re-exported from the client crate, their wire names being their stored
//! names); the one twin left is the revocation reason, stored as its RFC 5280 code, whose
//! domain and wire enums convert both ways by an exhaustive match, so a variant added on one
//! side without the other does not compile. A test holds the pair's JSON to be the same.
//!
//! Views the domain builds with everything the wire shows and nothing else (requests,
//! approvals, consents, passkeys, deliveries, sessions) are the proto structs themselves.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert_client::proto::{self, Items};

use crate::{auth, domain, pki, store};

/// `From` both ways between a domain enum and its wire twin (unit variants of the same names).
macro_rules! twins {
    ($($domain:ty => $wire:ty { $($v:ident),+ $(,)? })*) => {
        $(
            impl From<$domain> for $wire {
                fn from(v: $domain) -> Self {
                    type D = $domain;
                    match v { $(D::$v => Self::$v),+ }
                }
            }

            impl From<$wire> for $domain {
                fn from(v: $wire) -> Self {
                    type W = $wire;
                    match v { $(W::$v => Self::$v),+ }
                }
            }
        )*

        /// Every pair as (domain JSON, wire JSON).
        #[cfg(test)]
        fn twin_json() -> Vec<(String, String)> {
            let mut pairs = Vec::new();
            $($({
                type D = $domain;
                let wire: $wire = D::$v.into();
                pairs.push((
                    serde_json::to_string(&D::$v).unwrap(),
                    serde_json::to_string(&wire).unwrap(),
                ));
            })+)*
            pairs
        }
    };
}

twins! {
    domain::revocation_reason::RevocationReason => proto::certificates::RevocationReason {
        Unspecified, KeyCompromise, AffiliationChanged, Superseded, CessationOfOperation,
        PrivilegeWithdrawn,
    }
}

/// A list answer of wire items.
pub(super) fn items<D, W: From<D>>(values: Vec<D>) -> Items<W> {
    values.into_iter().map(W::from).collect::<Vec<_>>().into()
}

impl From<pki::CertificateView> for proto::certificates::CertificateView {
    fn from(c: pki::CertificateView) -> Self {
        Self {
            id: c.id,
            kind: c.kind,
            usage: c.usage,
            storage: c.storage,
            status: c.status,
            serial: c.serial,
            subject: c.subject,
            not_before: c.not_before,
            not_after: c.not_after,
            renewal_open: c.renewal_open,
            expires_in_secs: c.expires_in_secs,
            issuer: c.issuer,
            pem: pki::x509::pem_certificate(&c.der),
            der: STANDARD.encode(&c.der),
            chain: c.chain.iter().map(|der| STANDARD.encode(der)).collect(),
        }
    }
}

impl From<pki::ForeignView> for proto::foreign::ForeignView {
    fn from(f: pki::ForeignView) -> Self {
        Self {
            id: f.id,
            usage: f.usage,
            source: f.source,
            issuer: f.issuer,
            serial: f.serial,
            subject: f.subject,
            not_after: f.not_after,
            key_held: f.custody_key_id.is_some(),
        }
    }
}

impl From<store::pki::FeeRow> for proto::certificates::FeeView {
    fn from(f: store::pki::FeeRow) -> Self {
        Self {
            certificate_id: f.certificate_id,
            event: f.event,
            amount_krw: f.amount_krw,
            currency: "KRW".into(),
            charged_at: f.created_at,
        }
    }
}

impl From<pki::AutoRenewal> for proto::certificates::AutoRenewalView {
    fn from(a: pki::AutoRenewal) -> Self {
        Self {
            enabled: a.enabled,
            default: a.default,
            available: a.available,
            fee_krw: a.fee_krw,
            fee_confirmed_krw: a.fee_confirmed_krw,
            active: a.active,
        }
    }
}

/// An approval's answer: the signed request and the certificate the same PIN renewed, if it
/// did, with the fee that renewal charged (`general_fee` for a general-purpose one).
pub fn approved(a: crate::signing::Approved, general_fee: u32) -> proto::approvals::Approved {
    proto::approvals::Approved {
        request: a.request,
        renewed: a.renewed.map(|c| proto::approvals::RenewedCertificate {
            id: c.id,
            fee_krw: pki::profile::fee_krw(c.usage, general_fee),
            serial: c.serial,
            not_after: c.not_after,
        }),
    }
}

impl From<domain::terms::TermsDocument> for proto::terms::TermsDocument {
    fn from(d: domain::terms::TermsDocument) -> Self {
        Self {
            code: d.code,
            version: d.version,
            title: d.title,
            body: d.body,
            required: d.required,
            effective_at: d.effective_at,
            lang: d.lang,
        }
    }
}

impl From<auth::enrolment::EnrolmentView> for proto::enrolment::EnrolmentView {
    fn from(e: auth::enrolment::EnrolmentView) -> Self {
        Self {
            id: e.id,
            purpose: e.purpose,
            step: e.step,
            expires_at: e.expires_at,
            phone: e.phone,
        }
    }
}

impl From<auth::enrolment::MediumChallenge> for proto::enrolment::MediumChallenge {
    fn from(m: auth::enrolment::MediumChallenge) -> Self {
        Self {
            kind: m.kind,
            cells: m
                .cells
                .map(|c| proto::enrolment::CardChallenge { a: c.a, b: c.b }),
        }
    }
}

impl From<auth::enrolment::Completed> for proto::enrolment::Completed {
    fn from(c: auth::enrolment::Completed) -> Self {
        Self {
            certificate: c.certificate.into(),
            session: c.session,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use fincert_client::proto::{
        certificates::{CertificateList, CertificateView},
        enrolment::MediumChallenge,
    };
    use uuid::Uuid;

    use super::*;

    /// Each domain enum and its wire twin write the same JSON, variant by variant.
    #[test]
    fn twins_read_the_same() {
        let pairs = twin_json();
        assert_eq!(pairs.len(), 6, "every variant of every pair is listed");
        for (domain, wire) in pairs {
            assert_eq!(domain, wire);
        }
    }

    fn certificate() -> pki::CertificateView {
        let at = |s| Utc.timestamp_opt(s, 0).unwrap();
        pki::CertificateView {
            id: Uuid::nil(),
            kind: pki::profile::CertKind::Joint,
            usage: domain::usage::Usage::General,
            storage: pki::profile::Storage::Device,
            status: domain::cert_status::CertStatus::Suspended,
            serial: "0A1B".into(),
            subject: "홍길동".into(),
            not_before: at(1_700_000_000),
            not_after: at(1_731_536_000),
            renewal_open: false,
            expires_in_secs: 86_400,
            issuer: "CN=fincert issuing CA".into(),
            custody_key_id: Some(Uuid::nil()),
            der: vec![0x30, 0x00],
            chain: vec![vec![0x30, 0x01, 0x01], vec![0x30, 0x01, 0x02]],
        }
    }

    /// The bytes the certificate routes write: a certificate in its fields' order without its
    /// custody key id, the DER as base64 and PEM, the chain as base64 DER; the list with its
    /// members in byte order of their names.
    #[test]
    fn certificates_write_the_same_bytes() {
        let one = CertificateView::from(certificate());
        assert_eq!(
            serde_json::to_string(&one).unwrap(),
            concat!(
                r#"{"id":"00000000-0000-0000-0000-000000000000","kind":"joint","usage":"general","#,
                r#""storage":"device","status":"suspended","serial":"0A1B","subject":"홍길동","#,
                r#""not_before":"2023-11-14T22:13:20Z","not_after":"2024-11-13T22:13:20Z","#,
                r#""renewal_open":false,"expires_in_secs":86400,"issuer":"CN=fincert issuing CA","#,
                r#""der":"MAA=","pem":"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n","#,
                r#""chain":["MAEB","MAEC"]}"#
            )
        );
        let list = CertificateList {
            fees_charged_krw: 4400,
            items: vec![one],
        };
        assert_eq!(
            serde_json::to_string(&list).unwrap(),
            concat!(
                r#"{"fees_charged_krw":4400,"items":[{"chain":["MAEB","MAEC"],"der":"MAA=","#,
                r#""expires_in_secs":86400,"#,
                r#""id":"00000000-0000-0000-0000-000000000000","issuer":"CN=fincert issuing CA","#,
                r#""kind":"joint","not_after":"2024-11-13T22:13:20Z","#,
                r#""not_before":"2023-11-14T22:13:20Z","#,
                r#""pem":"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n","#,
                r#""renewal_open":false,"serial":"0A1B","#,
                r#""status":"suspended","storage":"device","subject":"홍길동","usage":"general"}]}"#
            )
        );
    }

    /// A card challenge writes its cells as `[number, half]` pairs; an OTP challenge has none.
    #[test]
    fn medium_challenges_write_the_same_bytes() {
        use auth::security_card::{Challenge, Half};
        let card = MediumChallenge::from(auth::enrolment::MediumChallenge {
            kind: auth::media::MediumKind::Card,
            cells: Some(Challenge {
                a: (3, Half::First),
                b: (17, Half::Last),
            }),
        });
        assert_eq!(
            serde_json::to_string(&card).unwrap(),
            r#"{"kind":"card","cells":{"a":[3,"first"],"b":[17,"last"]}}"#
        );
        let otp = MediumChallenge::from(auth::enrolment::MediumChallenge {
            kind: auth::media::MediumKind::Motp,
            cells: None,
        });
        assert_eq!(serde_json::to_string(&otp).unwrap(), r#"{"kind":"motp"}"#);
    }
}
