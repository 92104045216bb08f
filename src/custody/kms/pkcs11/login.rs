//! Reaching the token: which one (`TokenRef`), with what (`Target`), loading and initializing
//! the module, finding the token's slot, and logging in as the user. A PIN the token refuses
//! is told apart ([`Login::PinRefused`]) so the pool never tries it again.

use std::{path::PathBuf, time::Duration};

use cryptoki::{
    context::{CInitializeArgs, CInitializeFlags, Pkcs11},
    error::{Error as CkError, RvError},
    session::{Session, UserType},
    slot::Slot,
    types::AuthPin,
};
use zeroize::Zeroizing;

use super::{keys::KeyLabels, pool::describe};
use crate::custody::kms::KmsError;

/// Which token holds the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRef {
    /// By its label (padded to 32 bytes by the module; compared trimmed).
    Label(String),
    /// By slot id.
    Slot(u64),
}

/// What is needed to reach the token.
pub struct Target {
    /// The vendor's PKCS#11 module.
    pub module: PathBuf,
    /// The token.
    pub token: TokenRef,
    /// The user PIN.
    pub pin: Zeroizing<String>,
    /// The labels of the keys.
    pub labels: KeyLabels,
    /// Create missing keys on connect.
    pub create_keys: bool,
}

pub(super) fn pin_refused(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::PinIncorrect | RvError::PinLocked | RvError::PinExpired | RvError::PinInvalid,
            _
        )
    )
}

/// Why a login failed.
pub(super) enum Login {
    /// The token refused the PIN (never to be retried).
    PinRefused(KmsError),
    /// Anything else.
    Failed(KmsError),
}

impl From<Login> for KmsError {
    fn from(e: Login) -> Self {
        match e {
            Login::PinRefused(e) | Login::Failed(e) => e,
        }
    }
}

/// Opens a session on the target's token and logs in as the user.
pub(super) fn log_in(ctx: &Pkcs11, target: &Target) -> Result<(Slot, Session), Login> {
    let unavailable = |e: CkError| Login::Failed(KmsError::Unavailable(describe(&e)));
    let slot = find_slot(ctx, &target.token).map_err(Login::Failed)?;
    let login = ctx.open_rw_session(slot).map_err(unavailable)?;
    let pin = AuthPin::new(target.pin.as_str().into());
    match login.login(UserType::User, Some(&pin)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok((slot, login)),
        Err(e) if pin_refused(&e) => {
            tracing::error!(error = %describe(&e), "the HSM refused the user PIN; no further logins until restart");
            Err(Login::PinRefused(KmsError::Rejected(format!(
                "the HSM refused the user PIN ({})",
                describe(&e)
            ))))
        }
        Err(e) => Err(unavailable(e)),
    }
}

/// Runs `f` once in a logged-in session of a connection of its own (operator tasks such as
/// creating the keys, which a pool's connection requires to exist), then finalizes.
pub async fn one_off<T, F>(target: Target, timeout: Duration, f: F) -> Result<T, KmsError>
where
    T: Send + 'static,
    F: FnOnce(&Session) -> Result<T, KmsError> + Send + 'static,
{
    let task = tokio::task::spawn_blocking(move || {
        let unavailable = |e: CkError| KmsError::Unavailable(describe(&e));
        let ctx = Pkcs11::new(&target.module).map_err(unavailable)?;
        let initialized_here = initialize(&ctx).map_err(unavailable)?;
        let result = log_in(&ctx, &target)
            .map_err(KmsError::from)
            .and_then(|(_, session)| f(&session));
        finalize(ctx, initialized_here);
        result
    });
    match tokio::time::timeout(timeout, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(KmsError::Unavailable("HSM call failed".into())),
        Err(_) => Err(KmsError::Unavailable("HSM call timed out".into())),
    }
}

/// `C_Initialize`; whether this call initialized the module (`false`: another part of this
/// process had, and it stays theirs to finalize).
pub(super) fn initialize(ctx: &Pkcs11) -> Result<bool, CkError> {
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) => Ok(true),
        Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `C_Finalize`, when this connection initialized the module.
pub(super) fn finalize(ctx: Pkcs11, initialized_here: bool) {
    if initialized_here && let Err(e) = ctx.finalize() {
        tracing::warn!(error = %describe(&e), "C_Finalize failed");
    }
}

/// The slot of the configured token.
fn find_slot(ctx: &Pkcs11, token: &TokenRef) -> Result<Slot, KmsError> {
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| KmsError::Unavailable(describe(&e)))?;
    let found = match token {
        TokenRef::Slot(id) => slots.into_iter().find(|s| s.id() == *id),
        TokenRef::Label(label) => slots.into_iter().find(|s| {
            ctx.get_token_info(*s)
                .is_ok_and(|info| info.label().trim_end() == label.as_str())
        }),
    };
    found.ok_or_else(|| {
        KmsError::Unavailable(match token {
            TokenRef::Slot(id) => format!("no token in slot {id}"),
            TokenRef::Label(label) => format!("no token labelled {label:?}"),
        })
    })
}
