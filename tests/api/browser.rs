//! Every page, as every role, in headless Chromium at phone and desktop widths: axe-core
//! must find nothing serious or critical, the Nu HTML Checker no error in the HTML each page
//! is served with, and the screenshots land in target/screenshots. On a machine without
//! Chromium, Java or the pinned npm packages, the check installs them first (as root, with
//! apt-get and npm), or says in one sentence what to install.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use trellis::auth::Role;
use trellis::seed::DEMO_ACCOUNTS;

use crate::helpers::spawn_app_with;
use crate::oidc::Provider;

/// The pages each role is checked on; every new page joins this list. `{user}`, `{vendor}`,
/// `{evaluation}`, `{engagement}`, `{kpi}`, `{audit}` (a completed one), `{planned_audit}`,
/// `{review}` (a completed one), `{draft_review}`, `{document}` (a lapsed one) and
/// `{questionnaire}` (one waiting for the vendor) are ids from the demo data; the vendor user is Northwind's, whose engagement `{engagement}` is.
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
            "/admin/webhooks",
            "/admin/service-tokens",
            "/admin/sign-in",
            "/admin/document-kinds",
            "/questionnaires",
            "/questionnaires/new",
            "/questionnaires/{questionnaire}",
            "/documents",
            "/documents/new",
            "/documents/{document}",
            "/account/password",
            "/account",
            "/api/reference",
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
            "/audits/{planned_audit}",
            "/engagements/{engagement}/reviews",
            "/reviews/{review}",
            "/reviews/{review}/report",
            "/reviews/{draft_review}",
            "/engagements/{engagement}/report",
            "/engagements/{engagement}/access",
            "/engagements/{engagement}/access/new",
            "/engagements/{engagement}/close",
            "/engagements/{engagement}/proposals",
        ],
        Role::Manager => &[
            "/",
            "/account/password",
            "/account",
            "/api/reference",
            "/inbox",
            "/engagements",
            "/engagements/{engagement}",
            "/engagements/{engagement}/checkins",
            "/engagements/{engagement}/feedback",
            "/engagements/{engagement}/audits",
            "/engagements/{engagement}/reviews",
            "/engagements/{engagement}/report",
            "/engagements/{engagement}/proposals",
            "/portfolio",
            "/vendors",
            "/vendors/{vendor}",
            "/documents",
            "/documents/{document}",
            "/questionnaires",
            "/questionnaires/{questionnaire}",
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
            "/reviews/{review}/report",
            "/engagements/{engagement}/report",
            "/engagements/{engagement}/access",
            "/documents",
            "/documents/new",
            "/documents/{document}",
            "/questionnaires",
            "/questionnaires/{questionnaire}",
        ],
    }
}

/// The reports, each printed to PDF at A4 by every role that checks it: the fewest and the
/// most pages it may take.
const PRINTS: &[(&str, [u32; 2])] = &[
    ("/reviews/{review}/report", [1, 2]),
    ("/engagements/{engagement}/report", [2, 2]),
];

/// The demo's organisation domain, which the test provider serves, and the manager's
/// subject there.
const SSO_DOMAIN: &str = "trellis.example";
const SSO_LOGIN: &str = "maria";

/// Checked signed out; `{token}` is a fresh set-password link of the vendor user.
const ANONYMOUS_PAGES: &[&str] = &["/login", "/set-password/{token}"];

#[tokio::test]
async fn every_page_passes_axe_and_the_html_checker_at_phone_and_desktop_widths() {
    if std::env::var_os("TRELLIS_SKIP_BROWSER").is_some() {
        eprintln!("TRELLIS_SKIP_BROWSER is set: the browser check did not run");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let browser_dir = root.join("tests/browser");
    if let Err(sentence) = prepare_machine(&browser_dir) {
        panic!("{sentence}");
    }

    // Single sign-on through a real provider for the organisation's domain: the login page
    // shows its button, the settings page its rules, and the manager signs in with it.
    let provider = Provider::start();
    let mut oidc = provider.config();
    oidc.domains = vec![SSO_DOMAIN.into()];
    let app = spawn_app_with(|config| config.oidc = Some(oidc)).await;
    provider.register(&app).await;
    trellis::seed::demo(&app.pool, "UTC", app.clock.now())
        .await
        .unwrap();
    // Reminders in every inbox, a pass on the scheduler page.
    trellis::scheduler::pass(&app.state).await.unwrap();
    let ids: (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "select (select min(id) from users where role = 'vendor'),
                v.id,
                (select min(id) from evaluations where vendor_id = v.id),
                e.id,
                (select min(id) from kpis where engagement_id = e.id),
                (select min(id) from audits where engagement_id = e.id and status = 'completed'),
                (select min(id) from reviews where engagement_id = e.id and status = 'completed'),
                (select min(id) from audits where engagement_id = e.id and status = 'planned'),
                (select min(id) from reviews where engagement_id = e.id and status = 'draft'),
                (select min(d.id) from current_vendor_documents d where d.vendor_id = v.id and d.valid_until < current_date),
                (select min(q.id) from questionnaires q where q.vendor_id = v.id and q.status = 'open')
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
            .replace("{planned_audit}", &ids.7.to_string())
            .replace("{draft_review}", &ids.8.to_string())
            .replace("{document}", &ids.9.to_string())
            .replace("{questionnaire}", &ids.10.to_string())
    };
    let mut db = app.pool.acquire().await.unwrap();
    let token = trellis::users::new_password_link(&mut db, ids.0, None, app.clock.now())
        .await
        .unwrap();
    drop(db);
    let anonymous_pages: Vec<String> = ANONYMOUS_PAGES
        .iter()
        .map(|page| page.replace("{token}", &token))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let accounts: Vec<serde_json::Value> = DEMO_ACCOUNTS
        .iter()
        .filter(|account| seen.insert(account.role))
        .map(|account| {
            let sso = (account.role == Role::Manager).then_some(SSO_LOGIN);
            serde_json::json!({
                "role": account.role.as_str(),
                "email": account.email,
                "password": account.password,
                "sso": sso,
                "pages": pages(account.role).iter().map(|p| fill(p)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let prints: serde_json::Map<String, serde_json::Value> = PRINTS
        .iter()
        .map(|(path, pages)| (fill(path), serde_json::json!(pages)))
        .collect();
    let manager = DEMO_ACCOUNTS
        .iter()
        .find(|account| account.role == Role::Manager)
        .unwrap();
    provider.people(&[(SSO_LOGIN, manager.email, true)]).await;
    let output = tokio::process::Command::new("node")
        .arg(browser_dir.join("check.mjs"))
        .env("TRELLIS_URL", &app.address)
        .env("ACCOUNTS", serde_json::Value::Array(accounts).to_string())
        .env("ANON_PAGES", serde_json::json!(anonymous_pages).to_string())
        .env("PRINT_PAGES", serde_json::Value::Object(prints).to_string())
        .env("SHOTS_DIR", root.join("target/screenshots"))
        .env("HTML_DIR", root.join("target/served-html"))
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
        report.contains("ok   manager login with single sign-on"),
        "{report}"
    );
    assert!(
        report.contains(", 0 serious or critical findings"),
        "{report}"
    );
    assert!(
        report
            .lines()
            .any(|line| line.starts_with("print: ") && line.ends_with(", 0 problems")),
        "{report}"
    );
    assert!(
        report
            .lines()
            .any(|line| line.starts_with("html: ") && line.contains(" pages checked, 0 errors")),
        "{report}"
    );
}

/// What the browser check needs of the machine, as found there.
#[derive(Debug, Clone, PartialEq)]
struct Machine {
    chromium: bool,
    /// The major version of `java` (or of `$JAVA`), `None` without one.
    java: Option<u32>,
    node_and_npm: bool,
    /// tests/browser/node_modules holds every package at the version package.json pins.
    npm_packages: bool,
    root: bool,
    apt: bool,
}

/// The Nu HTML Checker's jar needs this Java, which Debian ships as `openjdk-17-jre-headless`.
const JAVA_MAJOR: u32 = 17;

/// One step of preparing the machine, as the command line it runs.
#[derive(Debug, PartialEq)]
enum Step {
    /// `apt-get install` of Debian packages; `apt-get update` and a second try if it fails,
    /// since a fresh machine may have no package lists yet.
    Debian(Vec<&'static str>),
    /// `npm ci` from the lock file. `--ignore-scripts`: vnu-jar's install script would
    /// download a Java runtime, and nothing may be downloaded but the pinned packages.
    NpmCi(PathBuf),
}

impl Step {
    fn command_line(&self) -> Vec<String> {
        match self {
            Step::Debian(packages) => {
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends"]
                    .iter()
                    .chain(packages)
                    .map(|s| s.to_string())
                    .collect()
            }
            Step::NpmCi(dir) => ["npm", "ci", "--ignore-scripts", "--silent", "--prefix"]
                .iter()
                .map(|s| s.to_string())
                .chain([dir.display().to_string()])
                .collect(),
        }
    }

    fn run(&self) -> Result<(), String> {
        let line = self.command_line();
        let status = |argv: &[String]| {
            Command::new(&argv[0])
                .args(&argv[1..])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .is_ok_and(|status| status.success())
        };
        let done = status(&line)
            || matches!(self, Step::Debian(_))
                && status(&["apt-get".into(), "update".into(), "-qq".into()])
                && status(&line);
        if done {
            Ok(())
        } else {
            Err(format!(
                "the browser check could not prepare the machine: `{}` failed; run it by hand, \
                 or set TRELLIS_SKIP_BROWSER=1 to skip the browser check",
                line.join(" ")
            ))
        }
    }
}

/// What to install on `machine`, in order, or the one sentence that says why it cannot be
/// done here and what to do instead.
fn plan(machine: &Machine, browser_dir: &Path) -> Result<Vec<Step>, String> {
    if let Some(old) = machine.java.filter(|major| *major < JAVA_MAJOR) {
        return Err(format!(
            "the browser check's HTML checker needs Java {JAVA_MAJOR} or newer and `java` is \
             Java {old}: install openjdk-17-jre-headless and make it `java` (or set JAVA to \
             its java), or set TRELLIS_SKIP_BROWSER=1 to skip the browser check"
        ));
    }
    let mut debian = Vec::new();
    if !machine.chromium {
        debian.push("chromium");
    }
    if machine.java.is_none() {
        debian.push("openjdk-17-jre-headless");
    }
    if !machine.node_and_npm {
        debian.extend(["nodejs", "npm"]);
    }
    let mut steps = Vec::new();
    if !debian.is_empty() {
        if !(machine.root && machine.apt) {
            return Err(format!(
                "the browser check needs Debian's {} and installs them itself only as root \
                 with apt-get: run `apt-get install {}`, or set TRELLIS_SKIP_BROWSER=1 to skip it",
                debian.join(", "),
                debian.join(" ")
            ));
        }
        steps.push(Step::Debian(debian));
    }
    if !machine.npm_packages {
        steps.push(Step::NpmCi(browser_dir.to_path_buf()));
    }
    Ok(steps)
}

/// The one line printed before installing: what, and why.
fn announcement(steps: &[Step]) -> String {
    let what: Vec<String> = steps
        .iter()
        .map(|step| match step {
            Step::Debian(packages) => {
                format!("Debian's {} (apt-get)", packages.join(", "))
            }
            Step::NpmCi(_) => {
                "the npm packages pinned in tests/browser/package-lock.json (npm ci)".to_string()
            }
        })
        .collect();
    format!(
        "browser check: installing {}, which it needs and this machine lacks \
         (TRELLIS_SKIP_BROWSER=1 skips the check instead)",
        what.join(" and ")
    )
}

/// Installs what the browser check lacks, one process at a time: parallel runs wait on a
/// lock under target/ and find the machine ready when their turn comes.
fn prepare_machine(browser_dir: &Path) -> Result<(), String> {
    let lock_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-install.lock");
    let lock = std::fs::File::create(&lock_path)
        .and_then(|file| file.lock().map(|()| file))
        .map_err(|e| format!("the browser check cannot lock {}: {e}", lock_path.display()))?;
    let steps = plan(&survey(browser_dir), browser_dir)?;
    if !steps.is_empty() {
        // Straight to the terminal: the test harness captures `eprintln!` of passing tests.
        let _ = writeln!(std::io::stderr(), "{}", announcement(&steps));
        for step in &steps {
            step.run()?;
        }
        let left = plan(&survey(browser_dir), browser_dir)?;
        if !left.is_empty() {
            return Err(format!(
                "the browser check installed what it lacked and still lacks it ({left:?}): \
                 install it by hand, or set TRELLIS_SKIP_BROWSER=1 to skip the browser check"
            ));
        }
    }
    drop(lock);
    Ok(())
}

/// Looks at the machine: nothing here changes it.
fn survey(browser_dir: &Path) -> Machine {
    let java = std::env::var_os("JAVA").unwrap_or_else(|| "java".into());
    Machine {
        chromium: std::env::var_os("CHROMIUM")
            .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
            .exists(),
        java: Command::new(java)
            .arg("-version")
            .output()
            .ok()
            .and_then(|out| java_major(&String::from_utf8_lossy(&out.stderr))),
        node_and_npm: on_path("node") && on_path("npm"),
        npm_packages: npm_packages_match(browser_dir),
        root: unsafe { libc::geteuid() } == 0,
        apt: on_path("apt-get"),
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// The major version in `java -version`'s first line: `openjdk version "17.0.15"` is 17,
/// the old style `java version "1.8.0_292"` is 8.
fn java_major(version_output: &str) -> Option<u32> {
    let quoted = version_output.split('"').nth(1)?;
    let mut parts = quoted.split(['.', '_', '-', '+']);
    match parts.next()?.parse().ok()? {
        1 => parts.next()?.parse().ok(),
        major => Some(major),
    }
}

/// Whether node_modules holds each dependency of package.json at its pinned version, so a
/// pin moved since the last `npm ci` (a new checker version, say) installs again.
fn npm_packages_match(browser_dir: &Path) -> bool {
    let read = |path: PathBuf| -> Option<serde_json::Value> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    };
    let Some(manifest) = read(browser_dir.join("package.json")) else {
        return false;
    };
    let Some(pins) = manifest["dependencies"].as_object() else {
        return false;
    };
    pins.iter().all(|(name, version)| {
        read(
            browser_dir
                .join("node_modules")
                .join(name)
                .join("package.json"),
        )
        .is_some_and(|installed| installed["version"] == *version)
    })
}

mod preparing_the_machine {
    use super::*;

    const READY: Machine = Machine {
        chromium: true,
        java: Some(17),
        node_and_npm: true,
        npm_packages: true,
        root: false,
        apt: false,
    };

    fn command_lines(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|step| step.command_line().join(" "))
            .collect()
    }

    #[test]
    fn browser_check_on_a_ready_machine_installs_nothing() {
        assert_eq!(plan(&READY, Path::new("tests/browser")), Ok(vec![]));
        let newer = Machine {
            java: Some(21),
            ..READY
        };
        assert_eq!(plan(&newer, Path::new("tests/browser")), Ok(vec![]));
    }

    #[test]
    fn browser_check_on_a_bare_machine_as_root_installs_chromium_java_node_and_the_npm_packages() {
        let bare = Machine {
            chromium: false,
            java: None,
            node_and_npm: false,
            npm_packages: false,
            root: true,
            apt: true,
        };
        let steps = plan(&bare, Path::new("tests/browser")).unwrap();
        assert_eq!(
            command_lines(&steps),
            [
                "apt-get install -y -qq --no-install-recommends chromium openjdk-17-jre-headless nodejs npm",
                "npm ci --ignore-scripts --silent --prefix tests/browser",
            ]
        );
        let line = announcement(&steps);
        assert!(
            line.contains("chromium, openjdk-17-jre-headless, nodejs, npm")
                && line.contains("npm ci")
                && !line.contains('\n'),
            "{line}"
        );
    }

    #[test]
    fn browser_check_installs_only_what_is_missing() {
        let no_chromium = Machine {
            chromium: false,
            root: true,
            apt: true,
            ..READY
        };
        assert_eq!(
            command_lines(&plan(&no_chromium, Path::new("b")).unwrap()),
            ["apt-get install -y -qq --no-install-recommends chromium"]
        );
        let stale_packages = Machine {
            npm_packages: false,
            ..READY
        };
        assert_eq!(
            command_lines(&plan(&stale_packages, Path::new("b")).unwrap()),
            ["npm ci --ignore-scripts --silent --prefix b"]
        );
    }

    #[test]
    fn browser_check_without_root_or_apt_says_what_to_install_or_how_to_skip() {
        for machine in [
            Machine {
                chromium: false,
                java: None,
                ..READY
            },
            Machine {
                chromium: false,
                java: None,
                root: true,
                ..READY
            },
        ] {
            let sentence = plan(&machine, Path::new("b")).unwrap_err();
            assert!(
                sentence.contains("apt-get install chromium openjdk-17-jre-headless")
                    && sentence.contains("TRELLIS_SKIP_BROWSER=1"),
                "{sentence}"
            );
        }
    }

    #[test]
    fn browser_check_refuses_a_java_older_than_17_with_what_to_install() {
        let old = Machine {
            java: Some(11),
            root: true,
            apt: true,
            ..READY
        };
        let sentence = plan(&old, Path::new("b")).unwrap_err();
        assert!(
            sentence.contains("Java 11")
                && sentence.contains("openjdk-17-jre-headless")
                && sentence.contains("TRELLIS_SKIP_BROWSER=1"),
            "{sentence}"
        );
    }

    #[test]
    fn browser_check_reads_java_versions_of_both_styles() {
        assert_eq!(
            java_major("openjdk version \"17.0.15\" 2025-04-15\nOpenJDK Runtime"),
            Some(17)
        );
        assert_eq!(java_major("java version \"1.8.0_292\"\n"), Some(8));
        assert_eq!(java_major("openjdk version \"21\" 2023-09-19"), Some(21));
        assert_eq!(java_major("openjdk version \"22-ea\" 2024-03-19"), Some(22));
        assert_eq!(java_major("bash: java: command not found"), None);
    }

    #[test]
    fn browser_check_reinstalls_npm_packages_whose_pin_moved() {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-pins-test");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("node_modules/vnu-jar")).unwrap();
        std::fs::write(
            dir.join("package.json"),
            r#"{"dependencies": {"vnu-jar": "26.9.27"}}"#,
        )
        .unwrap();
        assert!(!npm_packages_match(&dir), "nothing installed yet");
        let installed = dir.join("node_modules/vnu-jar/package.json");
        std::fs::write(&installed, r#"{"name": "vnu-jar", "version": "26.9.16"}"#).unwrap();
        assert!(!npm_packages_match(&dir), "an older version installed");
        std::fs::write(&installed, r#"{"name": "vnu-jar", "version": "26.9.27"}"#).unwrap();
        assert!(npm_packages_match(&dir));
    }
}
