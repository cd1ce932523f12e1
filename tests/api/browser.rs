//! Every page, as every role, in headless Chromium at phone and desktop widths: axe-core
//! must find nothing serious or critical, and the screenshots land in target/screenshots.

use std::path::Path;
use std::process::Command;

use trellis::auth::Role;
use trellis::seed::DEMO_ACCOUNTS;

use crate::helpers::spawn_app;

/// The pages each role is checked on; every new page joins this list. `{user}` is a
/// vendor user's id.
fn pages(role: Role) -> &'static [&'static str] {
    match role {
        Role::Admin => &[
            "/",
            "/admin/users",
            "/admin/users/new",
            "/admin/users/{user}",
            "/admin/audit",
            "/account/password",
        ],
        Role::Manager => &["/", "/account/password"],
        Role::Vendor => &["/", "/account/password"],
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
    let user: i64 = sqlx::query_scalar("select min(id) from users where role = 'vendor'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let mut seen = std::collections::HashSet::new();
    let accounts: Vec<serde_json::Value> = DEMO_ACCOUNTS
        .iter()
        .filter(|account| seen.insert(account.role))
        .map(|account| {
            serde_json::json!({
                "role": account.role.as_str(),
                "email": account.email,
                "password": account.password,
                "pages": pages(account.role).iter().map(|p| p.replace("{user}", &user.to_string())).collect::<Vec<_>>(),
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
