//! Passkeys (WebAuthn credentials) per user, and the server half of a ceremony between its
//! two requests. The stored `passkey` JSON holds a public key, a counter and flags: nothing
//! secret exists on our side of WebAuthn.

use super::{flag, now_ms, Db};
use crate::error::Result;
use renraku_sync::UserId;
use sqlx::any::AnyRow;
use sqlx::Row;

/// One registered passkey, as listed to its owner.
#[derive(Clone, Debug)]
pub struct PasskeyRow {
    pub id: i64,
    pub credential_id: String,
    pub name: String,
    /// webauthn-rs' serialized `Passkey`.
    pub passkey: String,
    pub counter: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl PasskeyRow {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            credential_id: row.try_get("credential_id")?,
            name: row.try_get("name")?,
            passkey: row.try_get("passkey")?,
            counter: row.try_get("counter")?,
            backup_eligible: flag(row, "backup_eligible")?,
            backup_state: flag(row, "backup_state")?,
            created_at: row.try_get("created_at")?,
            last_used_at: row.try_get("last_used_at")?,
        })
    }
}

/// A passkey to store after a successful registration.
pub struct NewPasskey<'a> {
    pub user: UserId,
    pub credential_id: &'a str,
    pub name: &'a str,
    pub passkey: &'a str,
    pub counter: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
}

/// What an authentication changed on a stored passkey.
pub struct PasskeyUse<'a> {
    pub passkey: &'a str,
    pub counter: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
}

/// The kinds of ceremony, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CeremonyKind {
    Register,
    Signin,
    /// Unlocking the app after its idle lock (bound to the session).
    Unlock,
}

impl CeremonyKind {
    fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::Register => "register",
            CeremonyKind::Signin => "signin",
            CeremonyKind::Unlock => "unlock",
        }
    }
}

/// A ceremony taken (and so ended) by its second request.
pub struct Ceremony {
    /// `None` for a password-less sign-in: the authenticator names the user.
    pub user: Option<UserId>,
    pub session_id: Option<String>,
    /// webauthn-rs' serialized `PasskeyRegistration` or `PasskeyAuthentication`.
    pub state: String,
}

const COLUMNS: &str = "id, credential_id, name, passkey, counter, backup_eligible, \
     backup_state, created_at, last_used_at";

impl Db {
    pub async fn passkeys_of(&self, user: UserId) -> Result<Vec<PasskeyRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY id"
        ))
        .bind(user.get())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(PasskeyRow::from_row)
            .collect::<Result<_, _>>()?)
    }

    pub async fn passkey_count(&self, user: UserId) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM passkeys WHERE user_id = $1")
            .bind(user.get())
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Stores a new passkey; `Conflict` if the credential id is registered already (to
    /// anyone: WebAuthn requires that a credential belongs to one account).
    pub async fn add_passkey(&self, new: &NewPasskey<'_>) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO passkeys (user_id, credential_id, name, passkey, counter, \
                 backup_eligible, backup_state, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(new.user.get())
        .bind(new.credential_id)
        .bind(new.name)
        .bind(new.passkey)
        .bind(new.counter)
        .bind(new.backup_eligible)
        .bind(new.backup_state)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Records a successful authentication: last use, and the counter and flags it reported.
    pub async fn passkey_used(
        &self,
        user: UserId,
        credential_id: &str,
        used: &PasskeyUse<'_>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE passkeys SET passkey = $1, counter = $2, backup_eligible = $3, \
                 backup_state = $4, last_used_at = $5 \
             WHERE user_id = $6 AND credential_id = $7",
        )
        .bind(used.passkey)
        .bind(used.counter)
        .bind(used.backup_eligible)
        .bind(used.backup_state)
        .bind(now_ms())
        .bind(user.get())
        .bind(credential_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes one of the user's passkeys; its name, or `None` if it is not theirs.
    pub async fn remove_passkey(&self, user: UserId, id: i64) -> Result<Option<String>> {
        let row = sqlx::query(
            "DELETE FROM passkeys WHERE user_id = $1 AND id = $2 RETURNING credential_id",
        )
        .bind(user.get())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get("credential_id")).transpose()?)
    }

    /// Keeps the server half of a ceremony until `expires_at`; expired ones are swept here.
    pub async fn put_ceremony(
        &self,
        id_hash: &str,
        kind: CeremonyKind,
        user: Option<UserId>,
        session_id: Option<&str>,
        state: &str,
        expires_at: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_at < $1")
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO webauthn_ceremonies (id_hash, kind, user_id, session_id, state, \
                 expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id_hash)
        .bind(kind.as_str())
        .bind(user.map(|u| u.get()))
        .bind(session_id)
        .bind(state)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes a live ceremony of `kind`: it is deleted whatever happens next, so its
    /// challenge answers once. `None` if unknown, of another kind, or expired.
    pub async fn take_ceremony(
        &self,
        id_hash: &str,
        kind: CeremonyKind,
    ) -> Result<Option<Ceremony>> {
        let row = sqlx::query(
            "DELETE FROM webauthn_ceremonies WHERE id_hash = $1 AND kind = $2 \
             RETURNING user_id, session_id, state, expires_at",
        )
        .bind(id_hash)
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let expires_at: i64 = row.try_get("expires_at")?;
        if now_ms() >= expires_at {
            return Ok(None);
        }
        Ok(Some(Ceremony {
            user: row.try_get::<Option<i64>, _>("user_id")?.map(UserId::new),
            session_id: row.try_get("session_id")?,
            state: row.try_get("state")?,
        }))
    }
}
