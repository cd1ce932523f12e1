//! The demo vendors' document registers: certificates and reports that are valid, one
//! expiring within the month, one lapsed, one waiting for acceptance and one rejected, and
//! the contract of Northwind's engagement. Each is
//! written once, keyed by its form key, so seeding again changes nothing.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;

struct Document {
    vendor: &'static str,
    kind: &'static str,
    issuer: &'static str,
    /// Days from today: the first and the last day it is valid.
    valid: (i64, i64),
    /// Who uploaded it (a vendor user, or a manager for an internal one).
    by: &'static str,
    internal: bool,
    /// (status, reviewer, reason) once decided.
    review: Option<(&'static str, &'static str, &'static str)>,
}

const MARIA: &str = "maria.manager@trellis.example";
const TOM: &str = "tom.manager@trellis.example";

const DOCUMENTS: &[Document] = &[
    Document {
        vendor: "Northwind IT Services",
        kind: "SOC 2 report",
        issuer: "Harbour & Reed LLP",
        valid: (-345, 20),
        by: "priya@northwind-it.example",
        internal: false,
        review: Some(("accepted", MARIA, "")),
    },
    Document {
        vendor: "Northwind IT Services",
        kind: "Insurance certificate",
        issuer: "Meridian Mutual",
        valid: (-375, -10),
        by: "priya@northwind-it.example",
        internal: false,
        review: Some(("accepted", MARIA, "")),
    },
    Document {
        vendor: "Northwind IT Services",
        kind: "Data-processing agreement",
        issuer: "Northwind IT Services and Trellis Example Ltd",
        valid: (-200, 900),
        by: "priya@northwind-it.example",
        internal: false,
        review: Some(("accepted", MARIA, "")),
    },
    Document {
        vendor: "Bluepeak Cloud",
        kind: "ISO 27001 certificate",
        issuer: "BSI",
        valid: (-400, 695),
        by: "li@bluepeak.example",
        internal: false,
        review: Some(("accepted", TOM, "")),
    },
    Document {
        vendor: "Bluepeak Cloud",
        kind: "Penetration test summary",
        issuer: "Redline Labs",
        valid: (-20, 345),
        by: "li@bluepeak.example",
        internal: false,
        review: None,
    },
    Document {
        vendor: "Kestrel Software",
        kind: "Insurance certificate",
        issuer: "Oakfield Insurance",
        valid: (-30, 335),
        by: "arjun@kestrel.example",
        internal: false,
        review: Some((
            "rejected",
            MARIA,
            "The cover shown is 1 million; the contract asks for 5 million. Please send the certificate of the increased cover.",
        )),
    },
    Document {
        vendor: "Sentinel Security",
        kind: "SOC 2 report",
        issuer: "Crowe Audit",
        valid: (-100, 265),
        by: MARIA,
        internal: true,
        review: Some(("accepted", MARIA, "")),
    },
    // The signed contract of Northwind's engagement (linked below).
    Document {
        vendor: "Northwind IT Services",
        kind: "Contract",
        issuer: "Northwind IT Services and Trellis Example Ltd",
        valid: (-700, 1100),
        by: MARIA,
        internal: false,
        review: Some(("accepted", MARIA, "")),
    },
];

fn key(n: u128) -> uuid::Uuid {
    super::organisation::key(30_000 + n)
}

pub async fn seed(db: &mut PgConnection, now: DateTime<Utc>) -> anyhow::Result<()> {
    let today = now.date_naive();
    for (n, d) in DOCUMENTS.iter().enumerate() {
        let content = format!(
            "{kind}\n\nVendor: {vendor}\nIssued by: {issuer}\nValid from {from} to {until}.\n",
            kind = d.kind,
            vendor = d.vendor,
            issuer = d.issuer,
            from = today + Duration::days(d.valid.0),
            until = today + Duration::days(d.valid.1),
        );
        let name = format!("{}.txt", d.kind.to_lowercase().replace(' ', "-"));
        let (status, reviewer, reason) = d.review.unwrap_or(("submitted", "", ""));
        sqlx::query(
            "with u as (select id from users where lower(email) = lower($1)),
             r as (select id from users where lower(email) = lower($2)),
             fresh as (select 1 where not exists (select 1 from vendor_document_versions where form_key = $3)),
             f as (
                 insert into files (name, original_name, content_type, size_bytes, sha256, uploaded_by, uploaded_at)
                 select $4, $4, 'text/plain', octet_length($5::bytea), encode(sha256($5::bytea), 'hex'), u.id, $6
                 from u, fresh returning id, uploaded_by),
             c as (insert into file_chunks (file_id, seq, bytes) select id, 0, $5::bytea from f),
             d as (
                 insert into vendor_documents (vendor_id, kind_id, visibility, created_by, created_at)
                 select v.id, k.id, $7, f.uploaded_by, $6
                 from f, vendors v, document_kinds k where v.name = $8 and k.name = $9
                 returning id)
             insert into vendor_document_versions (document_id, version, file_id, issuer, valid_from, valid_until,
                                                   uploaded_by, uploaded_at, status, reason, reviewed_by, reviewed_at,
                                                   form_key)
             select d.id, 1, f.id, $10, $11, $12, f.uploaded_by, $6, $13, $14,
                    (select id from r where $13 <> 'submitted'), case when $13 <> 'submitted' then $6 end, $3
             from d, f",
        )
        .bind(d.by)
        .bind(reviewer)
        .bind(key(n as u128))
        .bind(&name)
        .bind(content.into_bytes())
        .bind(now - Duration::days(2))
        .bind(if d.internal { "internal" } else { "shared" })
        .bind(d.vendor)
        .bind(d.kind)
        .bind(d.issuer)
        .bind(today + Duration::days(d.valid.0))
        .bind(today + Duration::days(d.valid.1))
        .bind(status)
        .bind(reason)
        .execute(&mut *db)
        .await?;
    }
    // Northwind's engagement names its contract document.
    sqlx::query(
        "update engagements e set contract_document_id = d.id
         from current_vendor_documents d join vendors v on v.id = d.vendor_id
         where v.name = 'Northwind IT Services' and d.kind_name = 'Contract' and e.vendor_id = v.id
           and e.contract_document_id is null",
    )
    .execute(&mut *db)
    .await?;
    Ok(())
}
