//! Replicas starting together on a new database all migrate it, as `cadre serve <part>`
//! does at start and `cadre migrate` does alone: sqlx's migrator takes a PostgreSQL advisory
//! lock (`pg_advisory_lock`, keyed by the database's name) around the whole run, so one
//! applies each migration and the others find it applied. Three `cadre migrate` processes
//! at once against one fresh database: all succeed, each migration is recorded once; and
//! while someone else holds that lock, all three wait on it (seen in `pg_locks`).

mod common;

use std::time::Duration;

use common::{Proc, database};
use sqlx::Row;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_migrations_at_once_apply_each_migration_once() {
    for round in 0..2 {
        // A fresh database each round: every process starts on an empty one.
        let db = database().await;
        if !db.postgres {
            eprintln!(
                "SKIPPED: set CADRE_TEST_POSTGRES_URL to run three cadre migrate against one PostgreSQL database"
            );
            return;
        }
        // Round 0 holds the migrator's lock first, as a slow replica would: all three wait
        // on it, none touches the schema, until it is released.
        let mut holder = None;
        if round == 0 {
            use sqlx::Connection;
            use sqlx::migrate::Migrate;
            let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("PostgreSQL");
            conn.lock().await.expect("the migrator's advisory lock");
            holder = Some(conn);
        }
        let mut runs: Vec<Proc> = (0..3)
            .map(|i| {
                Proc::spawn(
                    &format!("migrate-{i}"),
                    &["migrate", "--part", "roster"],
                    // Spelt as k8s/base/service writes it: the part's name in lower case.
                    &[("CADRE__roster__DATABASE__URL", db.url.clone())],
                )
            })
            .collect();
        if let Some(mut conn) = holder.take() {
            use sqlx::migrate::Migrate;
            let waiting = async |conn: &mut sqlx::PgConnection| -> i64 {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
                     WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()",
                )
                .fetch_one(conn)
                .await
                .unwrap()
            };
            let started = std::time::Instant::now();
            while waiting(&mut conn).await < 3 {
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "the three did not all wait on the lock"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            for run in &mut runs {
                assert!(
                    run.running(),
                    "{} finished while another held the lock:\n{}",
                    run.name,
                    run.output()
                );
            }
            eprintln!("round 0: all three waiting on the migrator's advisory lock; releasing it");
            conn.unlock().await.unwrap();
        }
        for run in &mut runs {
            let status = run.wait(Duration::from_secs(120));
            assert!(status.success(), "{} failed ({status}):\n{}", run.name, run.output());
            assert!(run.output().contains("roster: migrations applied"), "{}", run.output());
        }

        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&db.url).await.unwrap();
        let rows = sqlx::query("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
        let versions: Vec<i64> = rows.iter().map(|r| r.get::<i64, _>(0)).collect();
        let expected: Vec<i64> = cadre_kit::db::KIT_MIGRATIONS
            .iter()
            .chain(cadre_roster::MIGRATIONS.iter())
            .map(|m| m.version)
            .collect();
        assert_eq!(versions, expected, "each migration recorded once, in order");
        assert!(rows.iter().all(|r| r.get::<bool, _>(1)), "every migration succeeded");
        // The schema is there: the roster's tables answer.
        let cadres: i64 =
            sqlx::query("SELECT COUNT(*) FROM roster_cadres").fetch_one(&pool).await.unwrap().get(0);
        assert_eq!(cadres, 0);
        pool.close().await;
        eprintln!(
            "round {round}: 3 concurrent cadre migrate succeeded; {} migrations applied once each",
            versions.len()
        );
    }
}
