//! Key custody end to end on a real database and a real KMS (local keyring, or moto as AWS
//! KMS): sealed keys, PIN binding, passkey slots, blob swaps, activations, re-wrapping.
//!
//! `sealing.rs`: what is stored and what opens it; `pins.rs`: PIN binding, change and lockout;
//! `slots_and_activations.rs`: passkey slots and the bounds of an activation. The matrices are
//! here, so the tests keep their names (`custody::<test>::{sqlite,postgres}_{local,aws}`).

mod pins;
mod sealing;
mod slots_and_activations;

use fincert::{audit::Action, store};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use uuid::Uuid;

use crate::{custody_matrix, helpers::*};
use pins::{
    concurrent_wrong_pins_never_pass_the_limit, five_wrong_pins_lock,
    pin_change_rewraps_the_data_key, reissue_is_the_way_out_of_a_locked_pin, wrong_pin_is_refused,
};
use sealing::{
    create_activate_and_sign, swapped_blobs_do_not_open, the_database_holds_no_pin_verifier,
};
use slots_and_activations::{activations_are_bounded, passkeys_have_their_own_bound_copy};

/// Events of `action` by users (not the service's own CA keys).
async fn audit_actions(app: &TestApp, action: Action) -> usize {
    store::audit::by_action(&app.db, action, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.actor_kind == "user")
        .count()
}

/// Runs SQL with positional `$n` values on either engine.
async fn exec(app: &TestApp, sql: &str, values: Vec<sea_orm::Value>) {
    let backend = app.db.get_database_backend();
    let sql = if backend == DbBackend::Sqlite {
        sql.replace('$', "?")
    } else {
        sql.to_owned()
    };
    app.db
        .execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .unwrap();
}

async fn sealed_of(app: &TestApp, key: Uuid) -> Vec<u8> {
    let row = store::custody::find_key(&app.db, "", &key.to_string())
        .await
        .unwrap();
    assert!(row.is_none(), "keys are found only with their owner");
    let all = app
        .db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            format!("SELECT sealed_private FROM custody_keys WHERE id = '{key}'"),
        ))
        .await
        .unwrap()
        .unwrap();
    all.try_get_by_index::<Vec<u8>>(0).unwrap()
}

custody_matrix!(
    five_wrong_pins_lock,
    create_activate_and_sign,
    wrong_pin_is_refused,
    swapped_blobs_do_not_open,
    the_database_holds_no_pin_verifier,
    pin_change_rewraps_the_data_key,
    passkeys_have_their_own_bound_copy,
    activations_are_bounded,
);

crate::both_engines!(
    concurrent_wrong_pins_never_pass_the_limit,
    reissue_is_the_way_out_of_a_locked_pin
);
