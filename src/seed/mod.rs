//! `trellis seed demo`: demo accounts with fixed passwords and a realistic organisation —
//! vendors, evaluations, engagements, KPIs and boundaries. Safe to run again: a second run
//! resets the accounts and the demo records, and creates nothing twice.

mod activity;
mod documents;
mod governance;
mod organisation;
mod questionnaires;
pub mod scale;
mod vendors;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::audit::{self, Outcome};
use crate::auth::{Role, password};
use crate::users;

/// A demo account as printed: `<role> <email> <password> [<vendor>]`.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    pub role: Role,
    pub email: &'static str,
    pub name: &'static str,
    pub password: &'static str,
    pub vendor: Option<&'static str>,
}

impl std::fmt::Display for DemoAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.role, self.email, self.password)?;
        if let Some(vendor) = self.vendor {
            write!(f, " {vendor}")?;
        }
        Ok(())
    }
}

/// Vendor names are distinct and none contains another.
pub const DEMO_ACCOUNTS: &[DemoAccount] = &[
    DemoAccount {
        role: Role::Admin,
        email: "admin@trellis.example",
        name: "Ada Admin",
        password: "demo-admin-trellis",
        vendor: None,
    },
    DemoAccount {
        role: Role::Manager,
        email: "maria.manager@trellis.example",
        name: "Maria Lopez",
        password: "demo-manager-maria",
        vendor: None,
    },
    DemoAccount {
        role: Role::Manager,
        email: "tom.manager@trellis.example",
        name: "Tom Becker",
        password: "demo-manager-tom",
        vendor: None,
    },
    DemoAccount {
        role: Role::Vendor,
        email: "priya@northwind-it.example",
        name: "Priya Nair",
        password: "demo-vendor-northwind",
        vendor: Some("Northwind IT Services"),
    },
    DemoAccount {
        role: Role::Vendor,
        email: "li@bluepeak.example",
        name: "Li Wei",
        password: "demo-vendor-bluepeak",
        vendor: Some("Bluepeak Cloud"),
    },
    DemoAccount {
        role: Role::Vendor,
        email: "sam@bluepeak.example",
        name: "Sam Okafor",
        password: "demo-vendor-bluepeak2",
        vendor: Some("Bluepeak Cloud"),
    },
    DemoAccount {
        role: Role::Vendor,
        email: "arjun@kestrel.example",
        name: "Arjun Mehta",
        password: "demo-vendor-kestrel",
        vendor: Some("Kestrel Software"),
    },
    DemoAccount {
        role: Role::Vendor,
        email: "olivia@sentinel-sec.example",
        name: "Olivia Grant",
        password: "demo-vendor-sentinel",
        vendor: Some("Sentinel Security"),
    },
];

/// Creates or resets the demo accounts; returns them for printing.
pub async fn demo(
    pool: &PgPool,
    time_zone: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<&'static [DemoAccount]> {
    let mut hashes = Vec::with_capacity(DEMO_ACCOUNTS.len());
    for account in DEMO_ACCOUNTS {
        hashes.push(password::hash(account.password.to_string()).await?);
    }
    let mut tx = pool.begin().await?;
    for (account, hash) in DEMO_ACCOUNTS.iter().zip(hashes) {
        let vendor_id = match account.vendor {
            Some(name) => Some(users::vendor_id_by_name(&mut tx, name).await?),
            None => None,
        };
        sqlx::query(
            "insert into users (email, name, role, vendor_id, password_hash, time_zone)
             values ($1, $2, $3, $4, $5, $6)
             on conflict ((lower(email))) do update
             set name = excluded.name, role = excluded.role, vendor_id = excluded.vendor_id,
                 password_hash = excluded.password_hash, disabled_at = null",
        )
        .bind(account.email)
        .bind(account.name)
        .bind(account.role.as_str())
        .bind(vendor_id)
        .bind(hash)
        .bind(time_zone)
        .execute(&mut *tx)
        .await?;
    }
    organisation::seed(&mut tx, now).await?;
    activity::activity(&mut tx, now).await?;
    governance::seed(&mut tx, now).await?;
    documents::seed(&mut tx, now).await?;
    questionnaires::seed(&mut tx, now).await?;
    audit::Entry::anonymous("seed.demo", Outcome::Success)
        .client_addr("cli")
        .write(&mut *tx, now)
        .await?;
    tx.commit().await?;
    Ok(DEMO_ACCOUNTS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_passwords_meet_the_policy_and_have_no_spaces() {
        for account in DEMO_ACCOUNTS {
            assert!(
                password::check_policy(account.password).is_ok(),
                "{}",
                account.email
            );
            assert!(!account.password.contains(' '));
        }
    }

    #[test]
    fn no_demo_vendor_name_contains_another() {
        let names: Vec<&str> = DEMO_ACCOUNTS.iter().filter_map(|a| a.vendor).collect();
        for a in &names {
            for b in &names {
                assert!(
                    a == b || !a.to_lowercase().contains(&b.to_lowercase()),
                    "{a} contains {b}"
                );
            }
        }
    }
}
