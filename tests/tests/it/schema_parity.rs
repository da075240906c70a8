//! The two migration trees (`migrations/sqlite`, `migrations/postgres`) end in the same
//! schema: after all migrations, both databases have the same tables, columns (type and
//! nullability), primary keys, indexes (columns, uniqueness, partial or not) and foreign keys
//! (columns, referenced table and columns, ON DELETE action). A difference fails with a
//! list of what only one side has.
//!
//! Types are compared by what they mean to the server (the `Any` driver passes only `i64`,
//! `String`, `Vec<u8>` and `bool`):
//!
//! | meaning | SQLite declared type                       | PostgreSQL type |
//! |---------|--------------------------------------------|-----------------|
//! | `int64` | `INTEGER`, `BIGINT`, `INT`                 | `bigint`        |
//! | `int32` | —                                          | `integer`       |
//! | `text`  | `TEXT`                                     | `text`, `character varying` |
//! | `bytes` | `BLOB`                                     | `bytea`         |
//! | `flag`  | `INTEGER … CHECK (col IN (0, 1))`, `BOOLEAN` | `boolean`     |
//!
//! (Flags are INTEGER 0/1 on SQLite because the `Any` driver cannot read SQLite's BOOLEAN;
//! see `migrations/sqlite/0001_base.sql`.) A column of a primary key counts as NOT NULL on
//! both (SQLite's `INTEGER PRIMARY KEY` is the rowid and never NULL). Not compared: CHECK
//! constraints other than the flags', defaults, index names, the text of partial-index
//! predicates, and triggers (PostgreSQL's one `audit_log_append_only` trigger is SQLite's
//! `audit_log_no_update` and `audit_log_no_delete`; `audit_chain` tests both). The search
//! index differs by design (`server/src/db/dialect.rs`): SQLite's FTS5 table `posts_fts` (and
//! its shadow tables) and PostgreSQL's trigram index `posts_search` are left out; the
//! `search` tests run the same queries on both. So does the guard against double parking
//! bookings: PostgreSQL's exclusion constraint `parking_bookings_no_overlap` (a GiST index)
//! has no SQLite counterpart, where the check runs in the write transaction; the `parking`
//! tests book concurrently on both. And so does `projected_upto`, SQLite's marks of how far
//! the posts projection follows each room's log (`Backend::projects_after_commit`: on
//! PostgreSQL the commit projects, and there is nothing to mark); the `projection` tests
//! crash the server between the two.

use renraku_server::db::Db;
use renraku_tests::{Backend, TestStorage};
use sqlx::{Connection, PgConnection, Row, SqliteConnection};
use std::collections::{BTreeMap, BTreeSet};

/// One fact about a schema, as a line a person reads.
type Facts = BTreeSet<String>;

#[tokio::test]
async fn sqlite_and_postgres_migrations_end_in_the_same_schema() {
    let (sqlite, postgres) = migrated().await;
    let lite = sqlite_facts(&sqlite.database_url()).await;
    let pg = postgres_facts(&postgres.database_url()).await;
    for kind in [
        "table ",
        "column ",
        "primary key ",
        "unique index ",
        "foreign key ",
    ] {
        assert!(
            lite.iter().any(|f| f.starts_with(kind)),
            "nothing read from SQLite starts with {kind:?}"
        );
    }
    if let Some(report) = differences(&lite, &pg) {
        panic!("{report}");
    }
}

/// The check itself: a column added on one side and an index dropped on the other are
/// reported, each on its own line.
#[tokio::test]
async fn a_difference_is_reported_line_by_line() {
    let (sqlite, postgres) = migrated().await;
    let mut pg = PgConnection::connect(&postgres.database_url())
        .await
        .unwrap();
    sqlx::query("ALTER TABLE posts ADD COLUMN extra BIGINT")
        .execute(&mut pg)
        .await
        .unwrap();
    pg.close().await.unwrap();
    let mut lite = SqliteConnection::connect(&sqlite.database_url())
        .await
        .unwrap();
    let index: String = sqlx::query(
        "SELECT name FROM pragma_index_list('posts') WHERE origin = 'c' AND name LIKE '%stored%' \
         ORDER BY name LIMIT 1",
    )
    .fetch_one(&mut lite)
    .await
    .unwrap()
    .get("name");
    sqlx::query(&format!("DROP INDEX {index}"))
        .execute(&mut lite)
        .await
        .unwrap();
    lite.close().await.unwrap();

    let report = differences(
        &sqlite_facts(&sqlite.database_url()).await,
        &postgres_facts(&postgres.database_url()).await,
    )
    .expect("the schemas differ");
    assert!(
        report.contains("only on PostgreSQL: column posts.extra: int64 NULL"),
        "{report}"
    );
    assert!(
        report.contains("only on PostgreSQL: index on posts ("),
        "{report}"
    );
    assert!(!report.contains("only on SQLite:"), "{report}");
}

/// Fresh SQLite and PostgreSQL databases with every migration applied.
async fn migrated() -> (TestStorage, TestStorage) {
    let sqlite = TestStorage::on(Backend::Sqlite).await;
    let postgres = TestStorage::on(Backend::Postgres).await;
    for storage in [&sqlite, &postgres] {
        let db = Db::connect(&storage.database_url()).await.unwrap();
        db.migrate().await.unwrap();
        db.close().await;
    }
    (sqlite, postgres)
}

/// What only one side has, one fact a line; `None` when the schemas agree.
fn differences(lite: &Facts, pg: &Facts) -> Option<String> {
    let only_lite: Vec<_> = lite.difference(pg).collect();
    let only_pg: Vec<_> = pg.difference(lite).collect();
    if only_lite.is_empty() && only_pg.is_empty() {
        return None;
    }
    let mut report = String::from("the SQLite and PostgreSQL schemas differ:\n");
    for f in &only_lite {
        report.push_str(&format!("  only on SQLite:     {f}\n"));
    }
    for f in &only_pg {
        report.push_str(&format!("  only on PostgreSQL: {f}\n"));
    }
    Some(report)
}

fn column_fact(table: &str, column: &str, kind: &str, not_null: bool) -> String {
    let null = if not_null { "NOT NULL" } else { "NULL" };
    format!("column {table}.{column}: {kind} {null}")
}

fn index_fact(table: &str, columns: &[String], unique: bool, partial: bool) -> String {
    format!(
        "{}index on {table} ({}){}",
        if unique { "unique " } else { "" },
        columns.join(", "),
        if partial { " WHERE …" } else { "" }
    )
}

fn foreign_key_fact(
    table: &str,
    columns: &[String],
    target: &str,
    target_columns: &[String],
    on_delete: &str,
) -> String {
    format!(
        "foreign key {table} ({}) REFERENCES {target} ({}) ON DELETE {on_delete}",
        columns.join(", "),
        target_columns.join(", ")
    )
}

/// SQLite's declared type → its meaning (see the table above).
fn sqlite_kind(declared: &str, is_flag: bool) -> String {
    match declared.to_ascii_uppercase().as_str() {
        "INTEGER" | "BIGINT" | "INT" if is_flag => "flag".into(),
        "INTEGER" | "BIGINT" | "INT" => "int64".into(),
        "BOOLEAN" => "flag".into(),
        "TEXT" => "text".into(),
        "BLOB" => "bytes".into(),
        other => format!("unmapped SQLite type {other}"),
    }
}

/// PostgreSQL's type → its meaning (see the table above).
fn postgres_kind(data_type: &str) -> String {
    match data_type {
        "bigint" => "int64".into(),
        "integer" => "int32".into(),
        "text" | "character varying" => "text".into(),
        "bytea" => "bytes".into(),
        "boolean" => "flag".into(),
        other => format!("unmapped PostgreSQL type {other}"),
    }
}

/// SQLite's `ON DELETE` spelling is already PostgreSQL's; PostgreSQL's catalogue has codes.
fn postgres_action(code: &str) -> &'static str {
    match code {
        "a" => "NO ACTION",
        "r" => "RESTRICT",
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        _ => "?",
    }
}

async fn sqlite_facts(url: &str) -> Facts {
    let mut conn = SqliteConnection::connect(url).await.unwrap();
    let mut facts = Facts::new();
    let tables = sqlx::query(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'posts_fts%' \
         AND name NOT IN ('_sqlx_migrations', 'projected_upto') ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut primary_keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for table in &tables {
        let name: String = table.get("name");
        let sql: String = table.get("sql");
        let compact: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        facts.insert(format!("table {name}"));
        let columns = sqlx::query(
            "SELECT name, type, \"notnull\" AS not_null, pk FROM pragma_table_info($1) ORDER BY cid",
        )
        .bind(&name)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let mut pk: Vec<(i64, String)> = Vec::new();
        for c in &columns {
            let column: String = c.get("name");
            let declared: String = c.get("type");
            let in_pk: i64 = c.get("pk");
            let not_null = c.get::<i64, _>("not_null") != 0 || in_pk > 0;
            let is_flag = compact.contains(&format!("CHECK ({column} IN (0, 1))"));
            let kind = sqlite_kind(&declared, is_flag);
            facts.insert(column_fact(&name, &column, &kind, not_null));
            if in_pk > 0 {
                pk.push((in_pk, column));
            }
        }
        pk.sort();
        let pk: Vec<String> = pk.into_iter().map(|(_, c)| c).collect();
        if !pk.is_empty() {
            facts.insert(format!("primary key {name} ({})", pk.join(", ")));
        }
        primary_keys.insert(name.clone(), pk);

        let indexes = sqlx::query(
            "SELECT name, \"unique\" AS is_unique, origin, partial FROM pragma_index_list($1)",
        )
        .bind(&name)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        for i in &indexes {
            let origin: String = i.get("origin");
            if origin == "pk" {
                continue;
            }
            let index: String = i.get("name");
            let columns: Vec<String> =
                sqlx::query("SELECT name FROM pragma_index_xinfo($1) WHERE key = 1 ORDER BY seqno")
                    .bind(&index)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| {
                        r.get::<Option<String>, _>("name")
                            .unwrap_or_else(|| "<expression>".into())
                    })
                    .collect();
            facts.insert(index_fact(
                &name,
                &columns,
                i.get::<i64, _>("is_unique") != 0,
                i.get::<i64, _>("partial") != 0,
            ));
        }
    }
    // Foreign keys last: one that names no columns references its target's primary key.
    for table in &tables {
        let name: String = table.get("name");
        let rows = sqlx::query(
            "SELECT id, \"table\" AS target, \"from\" AS col, \"to\" AS target_col, on_delete \
             FROM pragma_foreign_key_list($1) ORDER BY id, seq",
        )
        .bind(&name)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let mut keys: BTreeMap<i64, (String, String, Vec<String>, Vec<String>)> = BTreeMap::new();
        for r in &rows {
            let key = keys
                .entry(r.get("id"))
                .or_insert_with(|| (r.get("target"), r.get("on_delete"), Vec::new(), Vec::new()));
            key.2.push(r.get("col"));
            if let Some(to) = r.get::<Option<String>, _>("target_col") {
                key.3.push(to);
            }
        }
        for (_, (target, on_delete, from, mut to)) in keys {
            if to.is_empty() {
                to = primary_keys.get(&target).cloned().unwrap_or_default();
            }
            facts.insert(foreign_key_fact(&name, &from, &target, &to, &on_delete));
        }
    }
    conn.close().await.unwrap();
    facts
}

async fn postgres_facts(url: &str) -> Facts {
    let mut conn = PgConnection::connect(url).await.unwrap();
    let mut facts = Facts::new();
    for r in sqlx::query(
        "SELECT table_name::text AS name FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' \
         AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    {
        facts.insert(format!("table {}", r.get::<String, _>("name")));
    }
    for r in sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c, data_type::text AS ty, \
         is_nullable::text AS nullable FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    {
        let ty: String = r.get("ty");
        facts.insert(column_fact(
            &r.get::<String, _>("t"),
            &r.get::<String, _>("c"),
            &postgres_kind(&ty),
            r.get::<String, _>("nullable") == "NO",
        ));
    }
    // Indexes, with the primary keys among them; key columns only (not INCLUDE ones).
    for r in sqlx::query(
        "SELECT t.relname::text AS t, x.indisunique AS is_unique, x.indisprimary AS is_primary, \
                x.indpred IS NOT NULL AS partial, \
                ARRAY(SELECT COALESCE(a.attname::text, '<expression>') \
                      FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
                      LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
                      WHERE k.ord <= x.indnkeyatts ORDER BY k.ord) AS cols \
         FROM pg_index x \
         JOIN pg_class t ON t.oid = x.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         JOIN pg_class i ON i.oid = x.indexrelid \
         WHERE n.nspname = 'public' AND t.relname <> '_sqlx_migrations' \
           AND i.relname NOT IN ('posts_search', 'parking_bookings_no_overlap')",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    {
        let table: String = r.get("t");
        let columns: Vec<String> = r.get("cols");
        if r.get::<bool, _>("is_primary") {
            facts.insert(format!("primary key {table} ({})", columns.join(", ")));
        } else {
            facts.insert(index_fact(
                &table,
                &columns,
                r.get("is_unique"),
                r.get("partial"),
            ));
        }
    }
    for r in sqlx::query(
        "SELECT t.relname::text AS t, f.relname::text AS target, c.confdeltype::text AS del, \
                ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(n, o) \
                      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n \
                      ORDER BY k.o) AS cols, \
                ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(n, o) \
                      JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n \
                      ORDER BY k.o) AS target_cols \
         FROM pg_constraint c \
         JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_class f ON f.oid = c.confrelid \
         JOIN pg_namespace n ON n.oid = c.connamespace \
         WHERE c.contype = 'f' AND n.nspname = 'public'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    {
        let del: String = r.get("del");
        facts.insert(foreign_key_fact(
            &r.get::<String, _>("t"),
            &r.get::<Vec<String>, _>("cols"),
            &r.get::<String, _>("target"),
            &r.get::<Vec<String>, _>("target_cols"),
            postgres_action(&del),
        ));
    }
    conn.close().await.unwrap();
    facts
}
