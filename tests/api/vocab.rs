//! The closed sets stored as text decode strictly: a stored value outside the set is an
//! error when read, never a default; each one written reads back as itself.

use trellis::vocab::{Direction, PeriodKind, Source, Zone};

use crate::helpers::spawn_app;

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
