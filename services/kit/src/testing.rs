//! Fresh databases for tests: a new SQLite file always, and a new PostgreSQL
//! database as well when `CADRE_TEST_POSTGRES_URL` names a server (as `.ci/run` does),
//! so every store test runs on both backends.

use std::ops::Deref;

use secrecy::SecretString;
use sqlx::Executor;
use sqlx::any::AnyPoolOptions;

use crate::config::DatabaseSettings;
use crate::db::{Backend, Db, Migration};

pub const POSTGRES_URL_VAR: &str = "CADRE_TEST_POSTGRES_URL";
/// Databases created for tests are named with this prefix (`.ci/run` drops old ones).
pub const TEST_DATABASE_PREFIX: &str = "cadre_test_";

/// A migrated, empty database that lives as long as this value.
pub struct TestDb {
    db: Db,
    url: SecretString,
    _dir: Option<tempfile::TempDir>,
}

impl Deref for TestDb {
    type Target = Db;
    fn deref(&self) -> &Db {
        &self.db
    }
}

impl TestDb {
    /// The URL, for starting a service on this database.
    pub fn url(&self) -> &SecretString {
        &self.url
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// A fresh SQLite database, plus a fresh PostgreSQL one when configured.
    pub async fn all(migrations: &[Migration]) -> Vec<TestDb> {
        let mut dbs = vec![Self::sqlite(migrations).await];
        if let Some(pg) = Self::postgres(migrations).await {
            dbs.push(pg);
        }
        dbs
    }

    pub async fn sqlite(migrations: &[Migration]) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = SecretString::from(format!("sqlite://{}", dir.path().join("test.db").display()));
        let db = Db::connect(&url, &DatabaseSettings::default()).await.expect("sqlite connects");
        db.migrate(migrations).await.expect("migrations apply on SQLite");
        TestDb { db, url, _dir: Some(dir) }
    }

    /// `None` when `CADRE_TEST_POSTGRES_URL` is unset; panics when set but unusable, so
    /// a CI run that means to test PostgreSQL cannot silently skip it.
    pub async fn postgres(migrations: &[Migration]) -> Option<TestDb> {
        let server = std::env::var(POSTGRES_URL_VAR).ok().filter(|s| !s.is_empty())?;
        assert_eq!(
            Backend::of_url(&server),
            Some(Backend::Postgres),
            "{POSTGRES_URL_VAR} must be postgres://"
        );
        sqlx::any::install_default_drivers();
        let name = format!("{TEST_DATABASE_PREFIX}{}", uuid::Uuid::now_v7().simple());
        let admin = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&server)
            .await
            .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR}={server}: cannot connect: {e}"));
        admin.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create test database");
        admin.close().await;
        let url = SecretString::from(with_database(&server, &name));
        let db = Db::connect(&url, &DatabaseSettings::default()).await.expect("postgres connects");
        db.migrate(migrations).await.expect("migrations apply on PostgreSQL");
        Some(TestDb { db, url, _dir: None })
    }
}

/// Replaces the database name in a postgres:// URL.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..].find('/').map(|i| i + scheme_end).unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..host_end], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced_keeping_host_and_options() {
        assert_eq!(with_database("postgres://u@h:5432/postgres", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://u@h:5432", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://h/db?sslmode=disable", "x"), "postgres://h/x?sslmode=disable");
    }
}
