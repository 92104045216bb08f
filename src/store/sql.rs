//! Parameterised raw SQL for both engines: statements are written with `$n` placeholders and
//! SQLite gets `?n` for the same numbered parameters. Used where a query reads better as SQL
//! than through the builder (conditional single-use updates, joins).

use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};

use super::{
    StoreError,
    columns::{self, Text},
};

/// A statement for `backend`.
pub fn stmt(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = if backend == DbBackend::Sqlite {
        sql.replace('$', "?")
    } else {
        sql.to_owned()
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Executes a statement; returns the rows affected.
pub async fn exec<C: ConnectionTrait>(
    conn: &C,
    sql: &str,
    values: Vec<Value>,
) -> Result<u64, StoreError> {
    let backend = conn.get_database_backend();
    Ok(conn
        .execute_raw(stmt(backend, sql, values))
        .await?
        .rows_affected())
}

/// The first row of a query, if any.
pub async fn one<C: ConnectionTrait>(
    conn: &C,
    sql: &str,
    values: Vec<Value>,
) -> Result<Option<QueryResult>, StoreError> {
    let backend = conn.get_database_backend();
    Ok(conn.query_one_raw(stmt(backend, sql, values)).await?)
}

/// Every row of a query.
pub async fn all<C: ConnectionTrait>(
    conn: &C,
    sql: &str,
    values: Vec<Value>,
) -> Result<Vec<QueryResult>, StoreError> {
    let backend = conn.get_database_backend();
    Ok(conn.query_all_raw(stmt(backend, sql, values)).await?)
}

/// Reads column `col` of `row`, naming `table` if the row does not have the expected shape.
pub fn get<T: sea_orm::TryGetable>(
    row: &QueryResult,
    table: &'static str,
    col: &'static str,
) -> Result<T, StoreError> {
    row.try_get("", col).map_err(|e| StoreError::Corrupt {
        table,
        column: col,
        problem: e.to_string(),
    })
}

/// Reads text column `col` of `row` as its type (see `store::columns`).
pub fn typed<T: Text>(
    row: &QueryResult,
    table: &'static str,
    col: &'static str,
) -> Result<T, StoreError> {
    columns::parse(table, col, &get::<String>(row, table, col)?)
}

/// Reads nullable text column `col` of `row` as its type: NULL is `None`.
pub fn typed_opt<T: Text>(
    row: &QueryResult,
    table: &'static str,
    col: &'static str,
) -> Result<Option<T>, StoreError> {
    columns::parse_opt(
        table,
        col,
        get::<Option<String>>(row, table, col)?.as_deref(),
    )
}
