//! Every page, as every role, in headless Chromium at phone and desktop widths: axe-core
//! must find nothing serious or critical, and the screenshots land in target/screenshots.

use std::path::Path;
use std::process::Command;

use trellis::auth::Role;
use trellis::seed::DEMO_ACCOUNTS;

use crate::helpers::spawn_app;

/// The pages each role is checked on; every new page joins this list. `{user}`, `{vendor}`,
/// `{evaluation}`, `{engagement}`, `{kpi}`, `{audit}` and `{review}` (a completed one) are
/// ids from the demo data; the vendor user is Northwind's, whose engagement `{engagement}` is.
fn pages(role: Role) -> &'static [&'static str] {
    match role {
        Role::Admin => &[
            "/",
            "/admin/users",
            "/admin/users/new",
            "/admin/users/{user}",
            "/admin/audit",
            "/admin/criteria",
            "/admin/scheduler",
            "/account/password",
            "/account",
            "/inbox",
            "/vendors",
            "/vendors/new",
            "/vendors/{vendor}",
            "/vendors/{vendor}/edit",
            "/vendors/{vendor}/evaluations/new",
            "/evaluations/{evaluation}",
            "/engagements",
            "/engagements/new",
            "/engagements/{engagement}",
            "/engagements/{engagement}/edit",
            "/engagements/{engagement}/kpis",
            "/engagements/{engagement}/kpis/new",
            "/engagements/{engagement}/boundaries",
            "/kpis/{kpi}",
            "/kpis/{kpi}/edit",
            "/engagements/{engagement}/checkins",
            "/engagements/{engagement}/checkins/new",
            "/engagements/{engagement}/feedback",
            "/engagements/{engagement}/feedback/new",
            "/engagements/{engagement}/successes",
            "/engagements/{engagement}/contacts",
            "/engagements/{engagement}/scorecard",
            "/engagements/{engagement}/values",
            "/portfolio",
            "/values/import",
            "/engagements/{engagement}/audits",
            "/engagements/{engagement}/audits/new",
            "/audits/{audit}",
            "/engagements/{engagement}/reviews",
            "/reviews/{review}",
            "/engagements/{engagement}/access",
            "/engagements/{engagement}/access/new",
            "/engagements/{engagement}/close",
            "/engagements/{engagement}/proposals",
        ],
        Role::Manager => &[
            "/",
            "/account/password",
            "/account",
            "/inbox",
            "/engagements",
            "/engagements/{engagement}",
            "/engagements/{engagement}/checkins",
            "/engagements/{engagement}/feedback",
            "/engagements/{engagement}/audits",
            "/engagements/{engagement}/reviews",
            "/engagements/{engagement}/proposals",
            "/portfolio",
            "/vendors",
        ],
        Role::Vendor => &[
            "/",
            "/account/password",
            "/account",
            "/inbox",
            "/engagements",
            "/engagements/{engagement}",
            "/engagements/{engagement}/checkins",
            "/engagements/{engagement}/feedback",
            "/engagements/{engagement}/successes",
            "/engagements/{engagement}/scorecard",
            "/engagements/{engagement}/values",
            "/engagements/{engagement}/agreement",
            "/engagements/{engagement}/proposals",
            "/engagements/{engagement}/proposals/new",
            "/engagements/{engagement}/audits",
            "/engagements/{engagement}/reviews",
            "/reviews/{review}",
            "/engagements/{engagement}/access",
        ],
    }
}

const ANONYMOUS_PAGES: &[&str] = &["/login"];

#[tokio::test]
async fn every_page_passes_axe_at_phone_and_desktop_widths() {
    if std::env::var_os("TRELLIS_SKIP_BROWSER").is_some() {
        eprintln!("TRELLIS_SKIP_BROWSER is set: the browser check did not run");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let browser_dir = root.join("tests/browser");
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "the browser check needs Debian's chromium (apt-get install chromium), or TRELLIS_SKIP_BROWSER=1 to skip it"
    );
    if !browser_dir.join("node_modules/axe-core").exists() {
        let status = Command::new("npm")
            .args(["ci", "--silent", "--prefix"])
            .arg(&browser_dir)
            .status()
            .expect("npm runs");
        assert!(status.success(), "npm ci --prefix tests/browser failed");
    }

    let app = spawn_app().await;
    trellis::seed::demo(&app.pool, "UTC", app.clock.now())
        .await
        .unwrap();
    // Reminders in every inbox, a pass on the scheduler page.
    trellis::scheduler::pass(&app.state).await.unwrap();
    let ids: (i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "select (select min(id) from users where role = 'vendor'),
                v.id,
                (select min(id) from evaluations where vendor_id = v.id),
                e.id,
                (select min(id) from kpis where engagement_id = e.id),
                (select min(id) from audits where engagement_id = e.id),
                (select min(id) from reviews where engagement_id = e.id and status = 'completed')
         from vendors v join engagements e on e.vendor_id = v.id
         where v.name = 'Northwind IT Services'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let fill = |path: &str| {
        path.replace("{user}", &ids.0.to_string())
            .replace("{vendor}", &ids.1.to_string())
            .replace("{evaluation}", &ids.2.to_string())
            .replace("{engagement}", &ids.3.to_string())
            .replace("{kpi}", &ids.4.to_string())
            .replace("{audit}", &ids.5.to_string())
            .replace("{review}", &ids.6.to_string())
    };
    let mut seen = std::collections::HashSet::new();
    let accounts: Vec<serde_json::Value> = DEMO_ACCOUNTS
        .iter()
        .filter(|account| seen.insert(account.role))
        .map(|account| {
            serde_json::json!({
                "role": account.role.as_str(),
                "email": account.email,
                "password": account.password,
                "pages": pages(account.role).iter().map(|p| fill(p)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let output = tokio::process::Command::new("node")
        .arg(browser_dir.join("check.mjs"))
        .env("TRELLIS_URL", &app.address)
        .env("ACCOUNTS", serde_json::Value::Array(accounts).to_string())
        .env("ANON_PAGES", serde_json::json!(ANONYMOUS_PAGES).to_string())
        .env("SHOTS_DIR", root.join("target/screenshots"))
        .output()
        .await
        .expect("node runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{report}");
    assert!(
        report.contains("0 serious or critical findings"),
        "{report}"
    );
}
