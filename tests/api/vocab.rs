//! The closed sets stored as text decode strictly: a stored value outside the set is an
//! error when read, never a default; each one written reads back as itself.

use trellis::vocab::{Direction, PeriodKind, Source, Zone};

use trellis::auth::Role;

use crate::helpers::{engagement, spawn_app};

#[tokio::test]
async fn every_stored_name_reads_back_as_itself_and_any_other_is_an_error() {
    let app = spawn_app().await;
    for kind in PeriodKind::ALL {
        let read: PeriodKind = sqlx::query_scalar("select $1::text")
            .bind(kind)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(read, *kind);
    }
    for direction in Direction::ALL {
        let read: Direction = sqlx::query_scalar("select $1::text")
            .bind(direction)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(read, *direction);
    }
    for stranger in ["fortnightly", "Monthly", "", " monthly"] {
        let read = sqlx::query_scalar::<_, PeriodKind>("select $1::text")
            .bind(stranger)
            .fetch_one(&app.pool)
            .await;
        assert!(read.is_err(), "{stranger:?} read as {read:?}");
    }
    let read = sqlx::query_scalar::<_, Source>("select 'auditor'::text")
        .fetch_one(&app.pool)
        .await;
    assert!(read.is_err(), "an unknown source read as {read:?}");
}

#[tokio::test]
async fn a_stored_zone_reads_as_that_zone_and_an_unknown_name_is_an_error() {
    let app = spawn_app().await;
    let berlin: Zone = sqlx::query_scalar("select 'Europe/Berlin'::text")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(berlin.0, chrono_tz::Europe::Berlin);
    let written: String = sqlx::query_scalar("select $1::text")
        .bind(Zone(chrono_tz::Asia::Tokyo))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(written, "Asia/Tokyo");
    for stranger in ["Mars/Olympus_Mons", "", "utc+2"] {
        let read = sqlx::query_scalar::<_, Zone>("select $1::text")
            .bind(stranger)
            .fetch_one(&app.pool)
            .await;
        assert!(read.is_err(), "{stranger:?} read as {read:?}");
    }
}

#[tokio::test]
async fn the_database_refuses_stored_values_that_could_not_be_read_back() {
    let app = spawn_app().await;
    let owner = app.create_user(Role::Manager, None).await.id;
    let vendor = app.create_user(Role::Vendor, Some("Checked")).await;
    let engagement = engagement(&app, vendor.vendor_id.unwrap(), owner).await;
    let refused = [
        format!("update engagements set time_zone = 'Mars/Olympus_Mons' where id = {engagement}"),
        format!("update engagements set time_zone = '' where id = {engagement}"),
        format!("update users set time_zone = 'Nowhere/At_All' where id = {owner}"),
        format!(
            "update boundaries set channels = '{{portal,pigeon}}' where engagement_id = {engagement}"
        ),
        format!(
            "update boundaries set preferred_channel = 'pigeon' where engagement_id = {engagement}"
        ),
        format!("update boundaries set urgent_channel = '' where engagement_id = {engagement}"),
    ];
    for statement in &refused {
        let result = sqlx::query(statement).execute(&app.pool).await;
        assert!(result.is_err(), "stored: {statement}");
    }
    sqlx::query("update engagements set time_zone = 'Asia/Kolkata' where id = $1")
        .bind(engagement)
        .execute(&app.pool)
        .await
        .expect("a known zone is stored");
    let updated = sqlx::query(
        "update boundaries set channels = '{portal,chat}', urgent_channel = 'phone'
         where engagement_id = $1",
    )
    .bind(engagement)
    .execute(&app.pool)
    .await
    .expect("known channels are stored");
    assert_eq!(updated.rows_affected(), 1);
}
