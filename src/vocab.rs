//! The closed sets more than one feature speaks of, each defined once: how often a scorecard
//! closes a period, which way a KPI's values are better, who reports them, and a time zone as
//! stored. Each decodes strictly from the database (see `choice!`).

use std::fmt;

use crate::choice;

choice!(pub PeriodKind {
    Weekly = "weekly" / "Weekly",
    Monthly = "monthly" / "Monthly",
    Quarterly = "quarterly" / "Quarterly",
});

choice!(pub Direction {
    Higher = "higher" / "Higher is better",
    Lower = "lower" / "Lower is better",
});

choice!(pub Source {
    Manager = "manager" / "Recorded by our managers",
    Vendor = "vendor" / "Reported by the vendor",
});

/// A time zone as stored (an IANA name). Forms validate a zone before it is stored, so a
/// stored name that does not parse is an error when read, not a silent UTC. Where nothing is
/// stored, the organisation's zone (`Config::time_zone`) is the one rule for a fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(pub chrono_tz::Tz);

impl std::ops::Deref for Zone {
    type Target = chrono_tz::Tz;

    fn deref(&self) -> &chrono_tz::Tz {
        &self.0
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

impl sqlx::Type<sqlx::Postgres> for Zone {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <&str as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for Zone {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<sqlx::Postgres>>::encode_by_ref(&self.0.name(), buf)
    }
}

impl sqlx::Decode<'_, sqlx::Postgres> for Zone {
    fn decode(value: sqlx::postgres::PgValueRef<'_>) -> Result<Zone, sqlx::error::BoxDynError> {
        let stored = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
        stored
            .parse()
            .map(Zone)
            .map_err(|_| format!("{stored:?} is not a stored time zone").into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_sets_parse_only_their_stored_names() {
        for kind in PeriodKind::ALL {
            assert_eq!(PeriodKind::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(PeriodKind::parse("Monthly"), None);
        assert_eq!(Direction::parse("lower"), Some(Direction::Lower));
        assert_eq!(Direction::parse(""), None);
        assert_eq!(Source::parse("vendor"), Some(Source::Vendor));
    }
}
