//! The migrated template database a harness clones for each test, shared by the black-box
//! tests and the drills. It is named by a hash of the migrations and of what the harness puts
//! in it besides, built under a temporary name and renamed once complete (so an interrupted
//! build never leaves a half-migrated template), and kept across runs while the migrations
//! stay the same.

use sha2::{Digest, Sha256};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

use trellis::db::MIGRATOR;

/// Builds the template if it is missing and returns its name. `extra` is run in it after the
/// migrations (and is part of its name). Harnesses on one cluster take turns by an advisory
/// lock, so two test binaries never build the same template at once.
pub async fn migrated(
    admin: &mut PgConnection,
    server: &PgConnectOptions,
    extra: &[&str],
) -> String {
    let mut hasher = Sha256::new();
    for statement in extra {
        hasher.update(statement.as_bytes());
    }
    for migration in MIGRATOR.iter() {
        hasher.update(migration.version.to_le_bytes());
        hasher.update(&*migration.checksum);
    }
    let name = format!(
        "tpl_{}",
        hasher.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    execute(admin, "select pg_advisory_lock(7031)").await;
    let exists: bool =
        sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
            .bind(&name)
            .fetch_one(&mut *admin)
            .await
            .unwrap();
    if !exists {
        let building = format!("{name}_building");
        execute(admin, &format!("drop database if exists {building}")).await;
        execute(admin, &format!("create database {building}")).await;
        let mut db = server.clone().database(&building).connect().await.unwrap();
        MIGRATOR.run(&mut db).await.expect("migrations apply");
        for statement in extra {
            execute(&mut db, statement).await;
        }
        db.close().await.unwrap();
        execute(
            admin,
            &format!("alter database {building} rename to {name}"),
        )
        .await;
    }
    execute(admin, "select pg_advisory_unlock(7031)").await;
    name
}

async fn execute(db: &mut PgConnection, statement: &str) {
    sqlx::query(statement)
        .execute(db)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}
