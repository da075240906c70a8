//! The SQL of `renraku backup` / `renraku restore` (`crate::backup`), SQLite only: the
//! consistent copy, and what is read from a backup's database file to check it.

use super::Db;
use crate::backup::TableRows;
use anyhow::{bail, Result};
use sha2::{Digest, Sha256};
use sqlx::sqlite::SqliteConnection;
use sqlx::{Column, Row, TypeInfo, ValueRef};
use std::fmt::Write as _;

impl Db {
    /// Writes a consistent copy of the (SQLite) database to `path` with `VACUUM INTO`: a read
    /// transaction, so it sees one snapshot and never blocks the server's writer.
    pub async fn vacuum_into(&self, path: &str) -> crate::Result<()> {
        sqlx::query("VACUUM INTO $1")
            .bind(path)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// The newest migration applied to the database on `conn`.
pub async fn schema_version(conn: &mut SqliteConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut *conn)
        .await
}

/// SHA-256 over every table (by name, including `_sqlx_migrations`; not the search index
/// `posts_fts` and its shadow tables, which are derived from `posts` and rebuilt at restore)
/// and its rows in primary
/// key order, in a canonical text form: one line `table <name> <columns>` per table, then one
/// line per row with tab-separated values `null`, `i:<decimal>`, `r:<IEEE bits, hex>`,
/// `t:<byte length>:<text>` or `b:<hex>`. It depends only on the stored values, not on
/// page layout, so a file rebuilt by VACUUM has the same checksum as its source.
pub async fn logical_checksum(conn: &mut SqliteConnection) -> Result<(String, Vec<TableRows>)> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name NOT LIKE 'posts_fts%' ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut hasher = Sha256::new();
    let mut tables = Vec::new();
    for name in names {
        let columns: Vec<(String, i64)> =
            sqlx::query_as("SELECT name, pk FROM pragma_table_info($1) ORDER BY cid")
                .bind(&name)
                .fetch_all(&mut *conn)
                .await?;
        let mut key: Vec<&(String, i64)> = columns.iter().filter(|(_, pk)| *pk > 0).collect();
        key.sort_by_key(|(_, pk)| *pk);
        // Without a declared key, all columns: rowids are not stable across VACUUM.
        let order: Vec<String> = if key.is_empty() {
            columns.iter().map(|(c, _)| quote_ident(c)).collect()
        } else {
            key.iter().map(|(c, _)| quote_ident(c)).collect()
        };
        let list: Vec<String> = columns.iter().map(|(c, _)| quote_ident(c)).collect();
        hasher.update(format!(
            "table {} {}\n",
            name,
            columns
                .iter()
                .map(|(c, _)| c.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ));
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {}",
            list.join(", "),
            quote_ident(&name),
            order.join(", ")
        );
        let rows = sqlx::query(&sql).fetch_all(&mut *conn).await?;
        for row in &rows {
            let mut line = String::new();
            for (i, column) in row.columns().iter().enumerate() {
                if i > 0 {
                    line.push('\t');
                }
                let raw = row.try_get_raw(i)?;
                if raw.is_null() {
                    line.push_str("null");
                    continue;
                }
                // The storage class of this value (SQLite is dynamically typed), not the
                // column's declared type.
                let kind = raw.type_info().name().to_owned();
                match kind.as_str() {
                    "INTEGER" => write!(line, "i:{}", row.try_get_unchecked::<i64, _>(i)?)?,
                    "REAL" => write!(
                        line,
                        "r:{:016x}",
                        row.try_get_unchecked::<f64, _>(i)?.to_bits()
                    )?,
                    "TEXT" => {
                        let bytes = row.try_get_unchecked::<Vec<u8>, _>(i)?;
                        write!(line, "t:{}:", bytes.len())?;
                        line.push_str(&String::from_utf8_lossy(&bytes));
                    }
                    "BLOB" => write!(
                        line,
                        "b:{}",
                        hex::encode(row.try_get_unchecked::<Vec<u8>, _>(i)?)
                    )?,
                    other => bail!("{name}.{}: unexpected value type {other}", column.name()),
                }
            }
            line.push('\n');
            hasher.update(line.as_bytes());
        }
        tables.push(TableRows {
            name,
            rows: rows.len() as u64,
        });
    }
    Ok((hex::encode(hasher.finalize()), tables))
}

/// Rebuilds SQLite's search index (`posts_fts`) from `posts`, if the schema has one, and
/// marks every post indexed (the rebuild indexed them, under rowids the copy may have
/// renumbered): the watermark past the last post, or, in a copy of a schema before it, the
/// list of posts still to index emptied; in one transaction.
pub async fn rebuild_search_index(conn: &mut SqliteConnection) -> sqlx::Result<()> {
    use sqlx::Connection;
    let mut tx = conn.begin().await?;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'table' \
         AND name IN ('posts_fts', 'posts_fts_pending', 'posts_fts_indexed')",
    )
    .fetch_all(&mut *tx)
    .await?;
    if tables.iter().any(|t| t == "posts_fts") {
        sqlx::query("INSERT INTO posts_fts (posts_fts) VALUES ('rebuild')")
            .execute(&mut *tx)
            .await?;
    }
    if tables.iter().any(|t| t == "posts_fts_pending") {
        sqlx::query("DELETE FROM posts_fts_pending")
            .execute(&mut *tx)
            .await?;
    }
    if tables.iter().any(|t| t == "posts_fts_indexed") {
        sqlx::query(
            "UPDATE posts_fts_indexed SET upto = (SELECT COALESCE(MAX(rowid), 0) FROM posts)",
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// Whether any application table of the database on `conn` has a row (the search index's
/// own bookkeeping does not count).
pub async fn has_rows(conn: &mut SqliteConnection) -> Result<bool> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name NOT LIKE 'posts_fts%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut any = false;
    for name in names {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {})", quote_ident(&name));
        let exists: i64 = sqlx::query_scalar(&sql).fetch_one(&mut *conn).await?;
        if exists != 0 {
            any = true;
            break;
        }
    }
    Ok(any)
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
