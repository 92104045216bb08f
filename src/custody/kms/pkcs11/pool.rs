//! The connection to the token: the loaded module, one logged-in session that keeps the login
//! alive, and a pool of sessions that calls take one at a time; every call runs on a blocking
//! thread with a deadline.
//!
//! ```text
//!            call ──► permit (≤ pool size, waits ≤ timeout) ──► blocking thread
//!                                                                 │
//!   Down ──(next call; at most one attempt per RETRY_AFTER)──► connect: Pkcs11::new,
//!    ▲                                                        C_Initialize, find the token,
//!    │                                                        C_Login, find (or create) keys
//!    │                                                                 │
//!    └── lost (DEVICE_REMOVED, TOKEN_NOT_PRESENT, SESSION_HANDLE_INVALID, …): ◄── Up ──► session
//!        sessions dropped, C_Finalize; every call fails closed (Unavailable)      from the pool
//! ```
//!
//! - **Fail closed, bounded.** A call that cannot get a session, or whose token does not
//!   answer, within `pkcs11_timeout_ms` is `Unavailable` (503 with Retry-After upstream). The
//!   permit travels with the blocking thread, so a call stuck in the module still holds its
//!   permit: at most `pool_size` threads are ever inside the module.
//! - **Re-established, not restarted.** A call that sees the token or its connection gone
//!   tears the connection down (after the calls still inside it have returned: the
//!   connection is behind a read-write lock, calls read, tear-down writes) and the next call
//!   connects again, so the node recovers without a restart when the HSM is back.
//! - **A refused PIN is never retried.** HSMs lock a user after a few wrong logins; a PIN
//!   refused once (incorrect, locked, expired) stops every further login until the settings
//!   change and the node restarts.
//! - The module is process-wide state (PKCS#11 allows one `C_Initialize` per process): one
//!   [`Pool`] per token and key labels per process (`super::shared_pool`), shared by the KMS
//!   backend and the CA keys. A connection finalizes the module only if its own
//!   `C_Initialize` initialized it (`CKR_CRYPTOKI_ALREADY_INITIALIZED` means another pool of
//!   this process did, and it stays theirs).

use std::{
    sync::{
        Arc, Mutex, RwLock, RwLockReadGuard,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use cryptoki::{
    context::Pkcs11,
    error::{Error as CkError, RvError},
    object::ObjectHandle,
    session::Session,
    slot::Slot,
};
use tokio::sync::Semaphore;

use super::{
    keys::{self, KeyLabels, Keys},
    login::{Login, Target, finalize, initialize, log_in},
};
use crate::custody::kms::KmsError;

/// After a failed connection attempt, calls fail at once for this long before the next
/// attempt (a down HSM is not hammered with `C_Initialize` by every request).
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// A call's failure inside the module: a PKCS#11 error, or a verdict the call made itself.
#[derive(Debug)]
pub enum OpError {
    /// The module returned an error.
    Ck(CkError),
    /// The call decided (a blob that does not open, a key of the wrong kind).
    Kms(KmsError),
}

impl From<CkError> for OpError {
    fn from(e: CkError) -> Self {
        Self::Ck(e)
    }
}

/// Whether `e` means the token or the connection to it is gone (so the connection must be
/// made again) rather than that one call was refused.
pub fn connection_lost(e: &CkError) -> bool {
    match e {
        CkError::Pkcs11(rv, _) => matches!(
            rv,
            RvError::DeviceRemoved
                | RvError::DeviceError
                | RvError::DeviceMemory
                | RvError::TokenNotPresent
                | RvError::TokenNotRecognized
                | RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::SessionCount
                | RvError::UserNotLoggedIn
                | RvError::CryptokiNotInitialized
                | RvError::GeneralError
                | RvError::FunctionFailed
                | RvError::KeyHandleInvalid
                | RvError::ObjectHandleInvalid
                | RvError::SlotIdInvalid
        ),
        CkError::LibraryLoading(_) | CkError::NullFunctionPointer | CkError::MissingSymbol(_) => {
            true
        }
        _ => false,
    }
}

/// The PKCS#11 return value's name for logs and errors (never data or attributes).
pub fn describe(e: &CkError) -> String {
    match e {
        CkError::Pkcs11(rv, function) => format!("{function}: {rv:?}"),
        CkError::LibraryLoading(_) => "the PKCS#11 module could not be loaded".into(),
        other => other.to_string(),
    }
}

/// What a call works with: a session of its own and the connection's keys.
pub struct Ctx<'a> {
    /// The session (not shared while the call runs).
    pub session: &'a Session,
    live: &'a Live,
}

impl Ctx<'_> {
    /// The connection's keys.
    pub fn keys(&self) -> &Keys {
        &self.live.keys
    }

    /// The keys' labels.
    pub fn labels(&self) -> &KeyLabels {
        &self.live.labels
    }

    /// The handle of the AES wrapping key labelled `label`: the current one, or an older one
    /// (blobs wrapped before a change of `pkcs11_wrap_key_label`), looked up once.
    pub fn wrap_key(&self, label: &str) -> Result<ObjectHandle, OpError> {
        if label == self.live.labels.wrap {
            return Ok(self.live.keys.wrap);
        }
        let mut older =
            self.live.older.lock().map_err(|_| {
                OpError::Kms(KmsError::Unavailable("HSM key cache poisoned".into()))
            })?;
        if let Some(handle) = older.iter().find(|(l, _)| l == label).map(|(_, h)| *h) {
            return Ok(handle);
        }
        let handle = keys::find_wrap_key(self.session, label)?.ok_or(OpError::Kms(
            // A blob naming a key this token does not have cannot be opened here.
            KmsError::InvalidCiphertext,
        ))?;
        older.push((label.to_owned(), handle));
        Ok(handle)
    }
}

/// One established connection.
struct Live {
    generation: u64,
    labels: KeyLabels,
    keys: Keys,
    /// Wrapping keys of earlier labels, by label.
    older: Mutex<Vec<(String, ObjectHandle)>>,
    idle: Mutex<Vec<Session>>,
    /// Keeps the login: PKCS#11 logs the application out when its last session closes.
    login: Mutex<Option<Session>>,
    ctx: Option<Pkcs11>,
    /// Whether this connection's `C_Initialize` initialized the module (so its `C_Finalize`
    /// is this connection's to call; another user of the module keeps it otherwise).
    initialized_here: bool,
}

impl Live {
    fn take_session(&self, slot: Slot) -> Result<Session, OpError> {
        let idle = self
            .idle
            .lock()
            .map_err(|_| OpError::Kms(KmsError::Unavailable("HSM pool poisoned".into())))?
            .pop();
        match idle {
            Some(session) => Ok(session),
            None => {
                let ctx = self.ctx.as_ref().ok_or_else(|| {
                    OpError::Kms(KmsError::Unavailable("HSM connection closed".into()))
                })?;
                Ok(ctx.open_rw_session(slot)?)
            }
        }
    }

    fn give_back(&self, session: Session) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(session);
        }
    }

    /// Closes the sessions, then `C_Finalize`.
    fn close(mut self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
        if let Ok(mut login) = self.login.lock() {
            login.take();
        }
        if let Some(ctx) = self.ctx.take()
            && self.initialized_here
            && let Err(e) = ctx.finalize()
        {
            tracing::warn!(error = %describe(&e), "C_Finalize failed");
        }
    }
}

struct State {
    live: Option<Live>,
    slot: Option<Slot>,
}

/// The pool of sessions to one token.
pub struct Pool {
    target: Target,
    state: RwLock<State>,
    permits: Arc<Semaphore>,
    timeout: Duration,
    generation: AtomicU64,
    last_attempt: Mutex<Option<Instant>>,
    pin_refused: AtomicBool,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("module", &self.target.module)
            .field("token", &self.target.token)
            .field("labels", &self.target.labels)
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool of `size` sessions to `target`; nothing is loaded until [`Pool::connect_now`] or
    /// the first call.
    pub fn new(target: Target, size: usize, timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            target,
            state: RwLock::new(State {
                live: None,
                slot: None,
            }),
            permits: Arc::new(Semaphore::new(size.max(1))),
            timeout,
            generation: AtomicU64::new(0),
            last_attempt: Mutex::new(None),
            pin_refused: AtomicBool::new(false),
        })
    }

    /// The key labels.
    pub fn labels(&self) -> &KeyLabels {
        &self.target.labels
    }

    /// Connects now (start-up: a wrong module, token, PIN or key stops it with the reason).
    pub async fn connect_now(self: &Arc<Self>) -> Result<(), KmsError> {
        self.call(|_| Ok(())).await
    }

    /// Runs `op` with a session of its own on a blocking thread, within the timeout.
    pub async fn call<T, F>(self: &Arc<Self>, op: F) -> Result<T, KmsError>
    where
        T: Send + 'static,
        F: FnOnce(&Ctx<'_>) -> Result<T, OpError> + Send + 'static,
    {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let permit = tokio::time::timeout_at(deadline, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| KmsError::Unavailable("no HSM session free in time".into()))?
            .map_err(|_| KmsError::Unavailable("HSM pool closed".into()))?;
        let pool = self.clone();
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            pool.run(op)
        });
        match tokio::time::timeout_at(deadline, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(KmsError::Unavailable("HSM call failed".into())),
            Err(_) => Err(KmsError::Unavailable("HSM call timed out".into())),
        }
    }

    /// Blocking: connection, session, the call, and what its outcome says of the connection.
    fn run<T>(&self, op: impl FnOnce(&Ctx<'_>) -> Result<T, OpError>) -> Result<T, KmsError> {
        let state = self.ensure_up()?;
        let (Some(live), Some(slot)) = (state.live.as_ref(), state.slot) else {
            return Err(KmsError::Unavailable("HSM not connected".into()));
        };
        let generation = live.generation;
        let session = match live.take_session(slot) {
            Ok(s) => s,
            Err(e) => {
                drop(state);
                return Err(self.verdict(generation, e));
            }
        };
        let result = op(&Ctx {
            session: &session,
            live,
        });
        match result {
            Ok(value) => {
                live.give_back(session);
                Ok(value)
            }
            Err(OpError::Ck(e)) if connection_lost(&e) => {
                drop(session);
                drop(state);
                Err(self.verdict(generation, OpError::Ck(e)))
            }
            Err(e) => {
                live.give_back(session);
                Err(self.verdict(generation, e))
            }
        }
    }

    /// Maps a call's failure to the trait's error, tearing the connection down when it says the
    /// token is gone.
    fn verdict(&self, generation: u64, e: OpError) -> KmsError {
        match e {
            OpError::Kms(k) => k,
            OpError::Ck(e) if connection_lost(&e) => {
                tracing::error!(error = %describe(&e), "HSM connection lost; re-establishing on the next call");
                self.tear_down(generation);
                KmsError::Unavailable(describe(&e))
            }
            OpError::Ck(e) => KmsError::Rejected(describe(&e)),
        }
    }

    /// Drops the live connection, whichever it is (see [`super::finalize_all`]). Waits for the
    /// calls still inside it.
    pub fn disconnect(&self) {
        let Ok(mut state) = self.state.write() else {
            return;
        };
        if let Some(live) = state.live.take() {
            live.close();
        }
    }

    /// Drops connection `generation` (if it is still the live one): sessions closed, then
    /// `C_Finalize`. Waits for the calls still inside it.
    fn tear_down(&self, generation: u64) {
        let Ok(mut state) = self.state.write() else {
            return;
        };
        if state
            .live
            .as_ref()
            .is_some_and(|l| l.generation == generation)
            && let Some(live) = state.live.take()
        {
            live.close();
        }
    }

    /// The live connection, made now if there is none (at most one attempt per
    /// [`RETRY_AFTER`]; never again after the PIN was refused).
    fn ensure_up(&self) -> Result<RwLockReadGuard<'_, State>, KmsError> {
        let poisoned = || KmsError::Unavailable("HSM connection lock poisoned".into());
        {
            let state = self.state.read().map_err(|_| poisoned())?;
            if state.live.is_some() {
                return Ok(state);
            }
        }
        {
            let mut state = self.state.write().map_err(|_| poisoned())?;
            if state.live.is_none() {
                if self.pin_refused.load(Ordering::Relaxed) {
                    return Err(KmsError::Rejected(
                        "the HSM refused the user PIN; fix kms.pkcs11_pin and restart".into(),
                    ));
                }
                {
                    let mut last = self.last_attempt.lock().map_err(|_| poisoned())?;
                    if let Some(at) = *last
                        && at.elapsed() < RETRY_AFTER
                    {
                        return Err(KmsError::Unavailable(
                            "HSM unreachable; retrying shortly".into(),
                        ));
                    }
                    *last = Some(Instant::now());
                }
                let (live, slot) = self.connect()?;
                state.slot = Some(slot);
                state.live = Some(live);
                tracing::info!("HSM connection established");
            }
        }
        let state = self.state.read().map_err(|_| poisoned())?;
        if state.live.is_some() {
            Ok(state)
        } else {
            Err(KmsError::Unavailable("HSM connection lost".into()))
        }
    }

    /// Loads the module, initializes it, finds the token, logs in, finds (or creates) the keys.
    fn connect(&self) -> Result<(Live, Slot), KmsError> {
        let unavailable = |e: CkError| {
            let reason = describe(&e);
            tracing::error!(error = %reason, "HSM connection failed");
            KmsError::Unavailable(reason)
        };
        let ctx = Pkcs11::new(&self.target.module).map_err(unavailable)?;
        let initialized_here = initialize(&ctx).map_err(unavailable)?;
        match self.open(&ctx) {
            Ok((slot, login, keys)) => {
                let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
                Ok((
                    Live {
                        generation,
                        labels: self.target.labels.clone(),
                        keys,
                        older: Mutex::new(Vec::new()),
                        idle: Mutex::new(Vec::new()),
                        login: Mutex::new(Some(login)),
                        ctx: Some(ctx),
                        initialized_here,
                    },
                    slot,
                ))
            }
            Err(e) => {
                finalize(ctx, initialized_here);
                Err(e)
            }
        }
    }

    fn open(&self, ctx: &Pkcs11) -> Result<(Slot, Session, Keys), KmsError> {
        let (slot, login) = log_in(ctx, &self.target).map_err(|e| match e {
            Login::PinRefused(e) => {
                self.pin_refused.store(true, Ordering::Relaxed);
                e
            }
            Login::Failed(e) => e,
        })?;
        let keys = keys::resolve(&login, &self.target.labels, self.target.create_keys)?;
        Ok((slot, login, keys))
    }
}

#[cfg(test)]
mod tests {
    use cryptoki::context::Function;
    use zeroize::Zeroizing;

    use super::{
        super::login::{TokenRef, pin_refused},
        *,
    };

    /// What tears the connection down: the token or session gone; what does not: one call's
    /// refusal (a bad blob, a wrong mechanism, a wrong PIN, which is never retried).
    #[test]
    fn lost_connections_are_told_from_refused_calls() {
        let ck = |rv| CkError::Pkcs11(rv, Function::Decrypt);
        for lost in [
            RvError::DeviceRemoved,
            RvError::TokenNotPresent,
            RvError::SessionHandleInvalid,
            RvError::DeviceError,
            RvError::CryptokiNotInitialized,
            RvError::ObjectHandleInvalid,
        ] {
            assert!(connection_lost(&ck(lost)), "{lost:?}");
        }
        for refused in [
            RvError::EncryptedDataInvalid,
            RvError::MechanismInvalid,
            RvError::KeyFunctionNotPermitted,
            RvError::PinIncorrect,
            RvError::SignatureInvalid,
        ] {
            assert!(!connection_lost(&ck(refused)), "{refused:?}");
        }
        assert!(pin_refused(&ck(RvError::PinLocked)));
        assert!(!pin_refused(&ck(RvError::DeviceRemoved)));
        assert_eq!(
            describe(&ck(RvError::DeviceRemoved)),
            "Function::Decrypt: DeviceRemoved"
        );
    }

    /// A module that cannot be loaded fails the call as Unavailable, in bounded time, and
    /// the next call does not hammer it.
    #[tokio::test]
    async fn an_absent_module_fails_closed() {
        let pool = Pool::new(
            Target {
                module: "/nonexistent/libpkcs11.so".into(),
                token: TokenRef::Label("t".into()),
                pin: Zeroizing::new("1234".into()),
                labels: KeyLabels {
                    wrap: "w".into(),
                    mac: "m".into(),
                },
                create_keys: false,
            },
            2,
            Duration::from_millis(500),
        );
        let first = pool.call(|_| Ok(())).await;
        assert!(matches!(first, Err(KmsError::Unavailable(_))), "{first:?}");
        let second = pool.call(|_| Ok(())).await;
        assert_eq!(
            second,
            Err(KmsError::Unavailable(
                "HSM unreachable; retrying shortly".into()
            ))
        );
    }
}
