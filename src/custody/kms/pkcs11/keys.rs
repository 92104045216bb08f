//! The two HSM-resident keys fincert uses, found by label: the AES-256 wrapping key
//! (`CKM_AES_GCM`) and the generic secret for PIN binding (`CKM_SHA256_HMAC`).
//!
//! Both are token objects made sensitive and non-extractable (`CKA_TOKEN`, `CKA_PRIVATE`,
//! `CKA_SENSITIVE` true; `CKA_EXTRACTABLE` false), so their value never leaves the HSM, not
//! even wrapped. A key found under a configured label is checked before it is used: a key that
//! is not sensitive, is extractable, or cannot do its one job is refused, and so are two keys
//! under one label (which of them wrapped a blob would be a guess).

use cryptoki::{
    error::Error as CkError,
    mechanism::Mechanism,
    object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle},
    session::Session,
};

use super::pool::{OpError, describe};
use crate::custody::kms::KmsError;

/// The labels of the two keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLabels {
    /// The AES-256 wrapping key.
    pub wrap: String,
    /// The HMAC key.
    pub mac: String,
}

/// Handles of the two keys in one connection.
#[derive(Debug, Clone, Copy)]
pub struct Keys {
    /// The AES-256 wrapping key.
    pub wrap: ObjectHandle,
    /// The HMAC key.
    pub mac: ObjectHandle,
}

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Wrap,
    Mac,
}

impl Role {
    fn key_type(self) -> KeyType {
        match self {
            Self::Wrap => KeyType::AES,
            Self::Mac => KeyType::GENERIC_SECRET,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Wrap => "AES wrapping key",
            Self::Mac => "HMAC key",
        }
    }
}

/// Length of both keys, in bytes (AES-256; a 256-bit HMAC key).
const KEY_LEN: u64 = 32;

fn rejected(e: CkError) -> KmsError {
    KmsError::Rejected(describe(&e))
}

fn find(session: &Session, label: &str, role: Role) -> Result<Vec<ObjectHandle>, CkError> {
    session.find_objects(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(role.key_type()),
        Attribute::Label(label.as_bytes().to_vec()),
    ])
}

/// The AES key labelled `label`, if the token has exactly one and it is fit to unwrap.
pub fn find_wrap_key(session: &Session, label: &str) -> Result<Option<ObjectHandle>, OpError> {
    let found = find(session, label, Role::Wrap)?;
    match found.as_slice() {
        [] => Ok(None),
        [one] => {
            check(session, *one, label, Role::Wrap).map_err(OpError::Kms)?;
            Ok(Some(*one))
        }
        _ => Err(OpError::Kms(KmsError::Rejected(format!(
            "more than one AES key labelled {label:?}"
        )))),
    }
}

/// Finds both keys (creating missing ones when `create`), each checked.
pub fn resolve(session: &Session, labels: &KeyLabels, create: bool) -> Result<Keys, KmsError> {
    Ok(Keys {
        wrap: one(session, &labels.wrap, Role::Wrap, create)?,
        mac: one(session, &labels.mac, Role::Mac, create)?,
    })
}

/// Creates whichever of the two keys is missing; returns which were made (`fincert kms
/// create-keys`). Existing keys are checked, never replaced.
pub fn create_missing(session: &Session, labels: &KeyLabels) -> Result<Vec<String>, KmsError> {
    let mut made = Vec::new();
    for (label, role) in [(&labels.wrap, Role::Wrap), (&labels.mac, Role::Mac)] {
        if find(session, label, role).map_err(rejected)?.is_empty() {
            generate(session, label, role)?;
            made.push(label.clone());
        }
        one(session, label, role, false)?;
    }
    Ok(made)
}

fn one(session: &Session, label: &str, role: Role, create: bool) -> Result<ObjectHandle, KmsError> {
    let found = find(session, label, role).map_err(|e| KmsError::Unavailable(describe(&e)))?;
    let handle = match found.as_slice() {
        [] if create => generate(session, label, role)?,
        [] => {
            return Err(KmsError::Rejected(format!(
                "the token has no {} labelled {label:?} (run `fincert kms create-keys`)",
                role.name()
            )));
        }
        [one] => *one,
        _ => {
            return Err(KmsError::Rejected(format!(
                "the token has more than one {} labelled {label:?}",
                role.name()
            )));
        }
    };
    check(session, handle, label, role)?;
    Ok(handle)
}

/// Makes a sensitive, non-extractable token key.
fn generate(session: &Session, label: &str, role: Role) -> Result<ObjectHandle, KmsError> {
    let (mechanism, usage) = match role {
        Role::Wrap => (
            Mechanism::AesKeyGen,
            [Attribute::Encrypt(true), Attribute::Decrypt(true)],
        ),
        Role::Mac => (
            Mechanism::GenericSecretKeyGen,
            [Attribute::Sign(true), Attribute::Verify(true)],
        ),
    };
    let mut template = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Modifiable(false),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::ValueLen(KEY_LEN.into()),
    ];
    if role == Role::Mac {
        template.push(Attribute::KeyType(KeyType::GENERIC_SECRET));
    }
    template.extend(usage);
    let handle = session
        .generate_key(&mechanism, &template)
        .map_err(rejected)?;
    tracing::info!(label, kind = role.name(), "created a key on the HSM");
    Ok(handle)
}

/// Refuses a key that could leave the HSM or cannot do its job.
fn check(session: &Session, handle: ObjectHandle, label: &str, role: Role) -> Result<(), KmsError> {
    let attributes = session
        .get_attributes(
            handle,
            &[
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::Token,
                AttributeType::Encrypt,
                AttributeType::Decrypt,
                AttributeType::Sign,
                AttributeType::Verify,
                AttributeType::ValueLen,
            ],
        )
        .map_err(|e| KmsError::Unavailable(describe(&e)))?;
    let flag = |wanted: AttributeType| {
        attributes.iter().any(|a| {
            a.attribute_type() == wanted
                && matches!(
                    a,
                    Attribute::Sensitive(true)
                        | Attribute::Extractable(true)
                        | Attribute::Token(true)
                        | Attribute::Encrypt(true)
                        | Attribute::Decrypt(true)
                        | Attribute::Sign(true)
                        | Attribute::Verify(true)
                )
        })
    };
    let len = attributes.iter().find_map(|a| match a {
        Attribute::ValueLen(n) => Some(u64::from(*n)),
        _ => None,
    });
    let problem = if !flag(AttributeType::Sensitive) {
        Some("is not sensitive (CKA_SENSITIVE)")
    } else if flag(AttributeType::Extractable) {
        Some("is extractable (CKA_EXTRACTABLE)")
    } else if !flag(AttributeType::Token) {
        Some("is a session object, not a token object")
    } else if role == Role::Wrap && !(flag(AttributeType::Encrypt) && flag(AttributeType::Decrypt))
    {
        Some("cannot encrypt and decrypt")
    } else if role == Role::Mac && !(flag(AttributeType::Sign) && flag(AttributeType::Verify)) {
        Some("cannot sign and verify (HMAC)")
    } else if len.is_some_and(|n| n != KEY_LEN) {
        Some("is not 256 bits")
    } else {
        None
    };
    match problem {
        Some(p) => Err(KmsError::Rejected(format!(
            "the {} labelled {label:?} {p}; fincert uses only keys that cannot leave the HSM",
            role.name()
        ))),
        None => Ok(()),
    }
}
