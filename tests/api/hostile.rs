//! Hostile input: every form the pages show and every query parameter the handlers read,
//! sent with values built to break parsers, databases and spreadsheets, as every role. No
//! answer may be a 5xx, and a refused request may write nothing. Below the sweep, each case
//! that once answered 500 is pinned by a test of its own.

use std::collections::BTreeSet;
use std::time::Instant;

use trellis::auth::Role;

use crate::helpers::{TestApp, TestClient, spawn_app_with};
use crate::oidc::Provider;
use crate::routes::{Fixtures, Get, ROLES, TABLE, client_as};

/// Values that each broke, or could break, something once: control characters, sizes past
/// every limit, numbers past every numeric type, years PostgreSQL or chrono cannot hold,
/// choices no list offers.
fn hostile_values() -> Vec<(&'static str, String)> {
    vec![
        ("NUL", "before\0after".into()),
        ("a C0 control", "bell\u{7}".into()),
        ("a C1 control", "csi\u{9b}".into()),
        ("6,000 characters", "a".repeat(6_000)),
        ("10,001 characters", "b".repeat(10_001)),
        ("100 kB", "c".repeat(100_000)),
        ("-1e309", "-1e309".into()),
        ("1e309", "1e309".into()),
        ("NaN", "NaN".into()),
        ("-inf", "-inf".into()),
        ("Decimal::MAX", "79228162514264337593543950335".into()),
        ("year -5000", "-5000-01-01".into()),
        ("year 0", "0000-01-01".into()),
        ("year 10000", "10000-01-01".into()),
        ("year 275760", "275760-09-13".into()),
        ("period -5000", "-5000-01".into()),
        ("an unknown choice", "no-such-choice".into()),
    ]
}

/// Files a form that keeps files must refuse, or keep under a safe name: (what, the name
/// as sent, the content).
fn hostile_files() -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
    let pdf = b"%PDF-1.7\n1 0 obj << >> endobj\n".to_vec();
    vec![
        (
            "an HTML page named .pdf",
            b"report.pdf".to_vec(),
            b"<!DOCTYPE html><html><script>alert(1)</script></html>".to_vec(),
        ),
        ("an empty file", b"empty.pdf".to_vec(), Vec::new()),
        ("text with a NUL", b"notes.txt".to_vec(), b"a\0b".to_vec()),
        (
            "an executable",
            b"setup.pdf".to_vec(),
            b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff".to_vec(),
        ),
        (
            "an SVG image",
            b"logo.png".to_vec(),
            b"<?xml version=\"1.0\"?><svg onload=\"alert(1)\"/>".to_vec(),
        ),
        (
            "a name with path separators",
            b"../../..\\windows\\win.ini".to_vec(),
            b"[fonts]".to_vec(),
        ),
        (
            "a name with a right-to-left override",
            "invoice\u{202e}fdp.exe".as_bytes().to_vec(),
            pdf.clone(),
        ),
        ("a name with a NUL", b"a\0b.pdf".to_vec(), pdf.clone()),
        (
            "a name with a C1 control",
            "a\u{85}\u{9b}b.pdf".as_bytes().to_vec(),
            pdf.clone(),
        ),
        (
            "a name of 6,000 characters",
            [b"n".repeat(6_000), b".pdf".to_vec()].concat(),
            pdf.clone(),
        ),
        (
            "a name that is not UTF-8",
            b"caf\xe9.pdf".to_vec(),
            pdf.clone(),
        ),
        ("a name of dots", b"..".to_vec(), pdf),
    ]
}

/// Every query parameter a handler's query struct reads, and a few that none does.
const QUERY_PARAMETERS: &[&str] = &[
    "q", "status", "mine", "page", "vendor", "tier", "sort", "role", "next", "actor", "action",
    "entity", "from", "to", "period", "standing", "manager", "code", "state", "error",
];

/// The parameters in groups whose query string stays within what an address may carry
/// (64 kB); a value longer than that alone goes nowhere.
fn parameter_chunks(value: &str) -> Vec<Vec<&'static str>> {
    const ADDRESS: usize = 60_000;
    let size = serde_urlencoded::to_string([("", value)]).unwrap().len() + 10;
    if size > ADDRESS {
        return Vec::new();
    }
    QUERY_PARAMETERS
        .chunks((ADDRESS / size).max(1))
        .map(<[&str]>::to_vec)
        .collect()
}

/// A form as a browser would send it: its action, whether it carries a file, and its
/// fields with their default values (the first option of a select, checked boxes only).
#[derive(Debug, Clone)]
struct PageForm {
    action: String,
    multipart: bool,
    fields: Vec<(String, String)>,
    file_field: Option<String>,
}

fn forms_in(html: &str, page: &str) -> Vec<PageForm> {
    let document = scraper::Html::parse_document(html);
    let form_selector = scraper::Selector::parse("form").unwrap();
    let control_selector = scraper::Selector::parse("input, select, textarea").unwrap();
    let option_selector = scraper::Selector::parse("option").unwrap();
    let mut forms = Vec::new();
    for form in document.select(&form_selector) {
        if !form
            .value()
            .attr("method")
            .is_some_and(|m| m.eq_ignore_ascii_case("post"))
        {
            continue;
        }
        let action = form
            .value()
            .attr("action")
            .map_or_else(|| page.to_string(), str::to_string);
        let multipart = form
            .value()
            .attr("enctype")
            .is_some_and(|e| e == "multipart/form-data");
        let mut fields = Vec::new();
        let mut file_field = None;
        for control in form.select(&control_selector) {
            let element = control.value();
            let Some(name) = element.attr("name") else {
                continue;
            };
            let name = name.to_string();
            match element.name() {
                "select" => {
                    let options: Vec<_> = control.select(&option_selector).collect();
                    let chosen = options
                        .iter()
                        .find(|o| o.value().attr("selected").is_some())
                        .or(options.first());
                    let value = chosen.map_or(String::new(), |o| {
                        o.value()
                            .attr("value")
                            .map_or_else(|| o.text().collect(), str::to_string)
                    });
                    fields.push((name, value));
                }
                "textarea" => fields.push((name, control.text().collect())),
                _ => match element.attr("type").unwrap_or("text") {
                    "submit" | "button" | "reset" | "image" => {}
                    "file" => file_field = Some(name),
                    "checkbox" | "radio" => {
                        if element.attr("checked").is_some() {
                            let value = element.attr("value").unwrap_or("on");
                            fields.push((name, value.to_string()));
                        }
                    }
                    _ => fields.push((name, element.attr("value").unwrap_or("").to_string())),
                },
            }
        }
        forms.push(PageForm {
            action,
            multipart,
            fields,
            file_field,
        });
    }
    forms
}

/// A fingerprint of everything stored but the sessions (which carry flash messages and
/// the last-seen time) and the audit log's records of refusals (with `audit_repeats`, its
/// count of a refusal repeated within a minute): equal fingerprints mean nothing was written.
struct Fingerprint {
    query: String,
}

impl Fingerprint {
    async fn new(app: &TestApp) -> Fingerprint {
        Fingerprint::without(app, &[]).await
    }

    /// Leaves out `skipped` tables too: the API counts every request in its rate windows.
    async fn without(app: &TestApp, skipped: &[&str]) -> Fingerprint {
        let tables: Vec<String> = sqlx::query_scalar(
            "select tablename::text from pg_tables
             where schemaname = 'public'
               and tablename not in ('sessions', '_sqlx_migrations', 'audit_repeats')
               and tablename <> all($1)
             order by tablename",
        )
        .bind(skipped)
        .fetch_all(&app.pool)
        .await
        .unwrap();
        assert!(tables.len() > 10, "the schema has its tables: {tables:?}");
        // Built from the catalogue's own table names, never from input. A refusal may
        // write one thing: the audit log's record of it (a refused sign-in is a security
        // event), so the audit log counts only what succeeded.
        let parts: Vec<String> = tables
            .iter()
            .map(|t| {
                let only = if t == "audit_log" {
                    " where x.outcome = 'success'"
                } else {
                    ""
                };
                format!(
                    "(select '{t}:' || count(*) || ':' || coalesce(md5(string_agg(x::text, ',' order by x::text)), '') from \"{t}\" x{only})"
                )
            })
            .collect();
        Fingerprint {
            query: format!("select md5(concat_ws('|', {}))", parts.join(", ")),
        }
    }

    async fn take(&self, app: &TestApp) -> String {
        sqlx::query_scalar(&self.query)
            .fetch_one(&app.pool)
            .await
            .unwrap()
    }
}

/// The next transaction id PostgreSQL will hand out: it moves only when something wrote,
/// so the costly fingerprint is taken only then.
async fn next_xid(app: &TestApp) -> i64 {
    sqlx::query_scalar("select pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// One request's outcome, checked: never a 5xx, and a refusal changed nothing.
struct Sweep<'a> {
    app: &'a TestApp,
    fingerprint: Fingerprint,
    /// What the database held at transaction id `xid`.
    current: String,
    xid: i64,
    requests: usize,
    refused: usize,
    failures: Vec<String>,
}

impl Sweep<'_> {
    async fn check(&mut self, what: String, response: reqwest::Response) {
        self.requests += 1;
        let status = response.status().as_u16();
        let _ = response.bytes().await;
        if status >= 500 {
            self.failures.push(format!("{what}: answered {status}"));
        }
        let refused = (400..500).contains(&status);
        if refused {
            self.refused += 1;
        }
        let xid = next_xid(self.app).await;
        if xid == self.xid {
            return;
        }
        let now = self.fingerprint.take(self.app).await;
        if refused && now != self.current {
            self.failures.push(format!(
                "{what}: refused with {status} but wrote to the database"
            ));
        }
        self.current = now;
        self.xid = xid;
    }

    /// After a page was read: reading may write (an inbox marks items seen).
    async fn settle(&mut self) {
        let xid = next_xid(self.app).await;
        if xid != self.xid {
            self.current = self.fingerprint.take(self.app).await;
            self.xid = xid;
        }
    }
}

fn encode(fields: &[(String, String)]) -> String {
    serde_urlencoded::to_string(fields).unwrap()
}

async fn post(client: &TestClient, path: &str, body: String) -> reqwest::Response {
    client
        .http
        .post(client.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

async fn post_multipart(
    client: &TestClient,
    path: &str,
    fields: &[(String, String)],
    file: (&str, &str),
) -> reqwest::Response {
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    client
        .post_multipart(path, &fields, (file.0, "values.csv", file.1.as_bytes()))
        .await
}

/// The variants of a form's fields: each hostile value in each field in turn (the others
/// kept at their defaults), then each field doubled and each left out. The CSRF token
/// stays, or nothing would get past it.
fn variants(
    form: &PageForm,
    values: &[(&'static str, String)],
) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    let editable: Vec<usize> = (0..form.fields.len())
        .filter(|&i| form.fields[i].0 != "csrf_token")
        .collect();
    // Values the decoding layer refuses whatever the field go into every field at once:
    // the layer reads every field alike, and one request per value and form is enough.
    let (everywhere, per_field): (Vec<_>, Vec<_>) = values
        .iter()
        .partition(|(_, value)| refused_by_decoding(value));
    for (label, value) in everywhere {
        let mut fields = form.fields.clone();
        for &i in &editable {
            fields[i].1 = value.clone();
        }
        out.push((format!("every field = {label}"), fields));
    }
    // Rows of repeated fields (item_title_0 … item_title_4) are one field to the parser:
    // the first of each family stands for the rest.
    let mut families = BTreeSet::new();
    for &i in &editable {
        let family = form.fields[i]
            .0
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .to_string();
        if !families.insert(family) {
            continue;
        }
        let name = &form.fields[i].0;
        for (label, value) in &per_field {
            let mut fields = form.fields.clone();
            fields[i].1 = value.clone();
            out.push((format!("{name} = {label}"), fields));
        }
        let mut doubled = form.fields.clone();
        doubled.insert(i + 1, form.fields[i].clone());
        out.push((format!("{name} twice"), doubled));
        let mut missing = form.fields.clone();
        missing.remove(i);
        out.push((format!("{name} missing"), missing));
    }
    out
}

/// Control characters, and more than any field may carry.
fn refused_by_decoding(value: &str) -> bool {
    value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || value.chars().count() > 10_000
}

/// A CSV file of one good line for `kpi`, with `value` in column `column` instead.
fn csv_with(engagement: i64, kpi: i64, column: usize, value: &str) -> String {
    let mut cells = [
        engagement.to_string(),
        kpi.to_string(),
        "2026-10-01".to_string(),
        "42".to_string(),
        "imported".to_string(),
    ];
    cells[column] = format!("\"{}\"", value.replace('"', "\"\""));
    format!(
        "engagement_id,kpi_id,period_start,value,note\n{}\n",
        cells.join(",")
    )
}

/// What one role's sweep covered.
#[derive(Default)]
struct Covered {
    forms: usize,
    /// Forms that keep files (the CSV import aside), by action.
    file_forms: BTreeSet<String>,
    fields: usize,
    requests: usize,
    refused: usize,
    failures: Vec<String>,
}

/// Sweeps every page `role` may open on an application of its own, so that the roles run
/// side by side and what one role's accepted forms change cannot disturb another's.
async fn sweep_as(index: usize, role: Option<Role>) -> Covered {
    // Single sign-on through a real provider, so that its forms and its callback are swept.
    let provider = Provider::start();
    let oidc = provider.config();
    let app = spawn_app_with(|config| {
        config.test_routes = false;
        config.oidc = Some(oidc);
    })
    .await;
    provider.register(&app).await;
    let fixtures = Fixtures::create(&app).await;
    // The vendor user's own vendor is the fixtures', so its side's forms appear too, with a
    // KPI the vendor records.
    let vendor_kpi = crate::helpers::kpi(
        &app,
        fixtures.engagement,
        "Response time",
        "lower",
        "4",
        "8",
        "0",
    )
    .await;
    sqlx::query("update kpis set source = 'vendor' where id = $1")
        .bind(vendor_kpi)
        .execute(&app.pool)
        .await
        .unwrap();
    let client = if role == Some(Role::Vendor) {
        let user = app
            .create_user(Role::Vendor, Some("Acme Outsourcing"))
            .await;
        sqlx::query("update users set vendor_id = $1 where id = $2")
            .bind(fixtures.vendor)
            .bind(user.id)
            .execute(&app.pool)
            .await
            .unwrap();
        app.client_for(&user).await
    } else {
        client_as(&app, role).await
    };
    let kpi = if role == Some(Role::Vendor) {
        vendor_kpi
    } else {
        fixtures.kpi
    };
    let values = hostile_values();
    let fingerprint = Fingerprint::new(&app).await;
    let xid = next_xid(&app).await;
    let current = fingerprint.take(&app).await;
    let mut sweep = Sweep {
        app: &app,
        fingerprint,
        current,
        xid,
        requests: 0,
        refused: 0,
        failures: Vec::new(),
    };
    let mut forms_seen = BTreeSet::new();
    let mut file_forms = BTreeSet::new();
    let mut fields_seen = 0;
    // The routes this role may use, as the route table says; the vendor's answers differ
    // from the table's, which uses records of another vendor. The table's single sign-on
    // routes are without a provider; here there is one.
    let get_routes: Vec<String> = TABLE
        .iter()
        .filter(|(method, path, want)| {
            *method == "GET"
                && (want[index] == Get::Ok
                    || role == Some(Role::Vendor)
                    || path.starts_with("/login/sso"))
                && ![
                    "/metrics",
                    "/healthz",
                    "/readyz",
                    "/static/{name}",
                    "/calendar/{token}",
                    "/set-password/{token}",
                ]
                .contains(path)
        })
        .map(|(_, path, _)| fixtures.fill(path))
        .collect();
    for (route, path) in get_routes.iter().enumerate() {
        // Query parameters: each hostile value in all of them at once (each handler reads
        // its own), as many at a time as an address holds; then each one doubled.
        let decoded: Vec<_> = values
            .iter()
            .filter(|(_, v)| refused_by_decoding(v))
            .collect();
        let rotating = decoded[route % decoded.len()];
        for (label, value) in &values {
            // What the decoding layer refuses it refuses on every route alike: each route
            // gets one such value, in turn.
            if refused_by_decoding(value) && value != &rotating.1 {
                continue;
            }
            for chunk in parameter_chunks(value) {
                let query: Vec<(String, String)> = chunk
                    .iter()
                    .map(|p| (p.to_string(), value.clone()))
                    .collect();
                let url = format!("{path}?{}", encode(&query));
                let response = client.get(&url).await;
                sweep
                    .check(
                        format!("GET {path} as {role:?}, {chunk:?} = {label}"),
                        response,
                    )
                    .await;
            }
        }
        let doubled = QUERY_PARAMETERS
            .iter()
            .map(|p| format!("{p}=1&{p}=2"))
            .collect::<Vec<_>>()
            .join("&");
        let response = client.get(&format!("{path}?{doubled}")).await;
        sweep
            .check(
                format!("GET {path} as {role:?}, every parameter twice"),
                response,
            )
            .await;

        // Forms: read the page once, then post every variant of every form on it.
        let response = client.get(path).await;
        let ok = response.status() == 200
            && response
                .headers()
                .get("content-type")
                .is_some_and(|t| t.to_str().unwrap_or("").starts_with("text/html"));
        let html = response.text().await.unwrap();
        sweep.settle().await;
        if !ok {
            continue;
        }
        for form in forms_in(&html, path) {
            // Signing out would end the sweep's session.
            if form.action == "/logout" {
                continue;
            }
            if !forms_seen.insert(format!("{} {}", form.action, form.fields.len())) {
                continue;
            }
            fields_seen += form.fields.len();
            let file = form.file_field.clone().unwrap_or_else(|| "file".into());
            for (what, fields) in variants(&form, &values) {
                let what = format!("POST {} as {role:?}: {what}", form.action);
                let response = if form.multipart {
                    let csv = csv_with(fixtures.engagement, kpi, 3, "1");
                    post_multipart(&client, &form.action, &fields, (&file, &csv)).await
                } else {
                    post(&client, &form.action, encode(&fields)).await
                };
                sweep.check(what, response).await;
            }
            if form.multipart && form.action != "/values/import" {
                // A form that keeps files: files of the wrong kind, and hostile names.
                file_forms.insert(form.action.clone());
                let fields: Vec<(&str, &str)> = form
                    .fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                for (label, name, content) in hostile_files() {
                    let response = client
                        .post_file(&form.action, &fields, &file, &name, &content)
                        .await;
                    sweep
                        .check(
                            format!("POST {} as {role:?}: {label}", form.action),
                            response,
                        )
                        .await;
                }
            }
            if form.multipart && form.action == "/values/import" {
                // The file's cells: each value in each column of an otherwise good line.
                for column in 0..5 {
                    for (label, value) in &values {
                        let csv = csv_with(fixtures.engagement, kpi, column, value);
                        let response =
                            post_multipart(&client, &form.action, &form.fields, (&file, &csv))
                                .await;
                        sweep
                            .check(
                                format!("import as {role:?}: CSV column {column} = {label}"),
                                response,
                            )
                            .await;
                    }
                }
            }
        }
    }
    Covered {
        forms: forms_seen.len(),
        file_forms,
        fields: fields_seen,
        requests: sweep.requests,
        refused: sweep.refused,
        failures: sweep.failures,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_hostile_value_in_any_form_or_query_parameter_gets_a_5xx_or_writes_when_refused() {
    let started = Instant::now();
    // Joined, not spawned: the four run side by side in this task while the servers'
    // work runs on the runtime's threads.
    let (a, b, c, d) = tokio::join!(
        sweep_as(0, ROLES[0]),
        sweep_as(1, ROLES[1]),
        sweep_as(2, ROLES[2]),
        sweep_as(3, ROLES[3]),
    );
    let mut total = Covered::default();
    for covered in [a, b, c, d] {
        total.forms += covered.forms;
        total.file_forms.extend(covered.file_forms);
        total.fields += covered.fields;
        total.requests += covered.requests;
        total.refused += covered.refused;
        total.failures.extend(covered.failures);
    }
    eprintln!(
        "hostile sweep: {} forms ({} fields) and {} query parameters over the roles, {} values, {} requests ({} refused) in {:.1} s",
        total.forms,
        total.fields,
        QUERY_PARAMETERS.len(),
        hostile_values().len(),
        total.requests,
        total.refused,
        started.elapsed().as_secs_f64()
    );
    assert!(total.forms > 20, "the sweep found the forms");
    // The fixture finding's evidence form (the vendor's and the admin's), the audit's
    // working papers (the admin's), a new document and a document's renewal (everyone's)
    // were swept with hostile files.
    assert!(
        [
            "/evidence",
            "/working-papers",
            "/documents/new",
            "/versions"
        ]
        .iter()
        .all(|end| total.file_forms.iter().any(|a| a.ends_with(end))),
        "the sweep found the forms that keep files: {:?}",
        total.file_forms
    );
    assert!(total.failures.is_empty(), "{:#?}", total.failures);
}

// The API sweep: the routes under /api/v1 of the router's own list, so a new one is swept
// as soon as it is registered.

/// Query parameters the API's handlers read, or may, beside the pages'.
const API_QUERY_PARAMETERS: &[&str] = &[
    "cursor",
    "limit",
    "page_size",
    "engagement",
    "kpi",
    "since",
    "until",
    "order",
    "state",
    "side",
];

/// A live read-and-write token for `user_id`, stored as the account page stores one.
async fn api_token(app: &TestApp, user_id: i64, name: &str) -> String {
    let secret = format!(
        "trellis_{}{}",
        uuid::Uuid::new_v4().simple(),
        &uuid::Uuid::new_v4().simple().to_string()[..11]
    );
    sqlx::query(
        "insert into api_tokens (user_id, name, prefix, secret_hash, scope, created_at, expires_at)
         values ($1, $2, left($3, 12), sha256(convert_to($3, 'UTF8')), 'read+write', $4, $4 + interval '30 days')",
    )
    .bind(user_id)
    .bind(name)
    .bind(&secret)
    .bind(app.clock.now())
    .execute(&app.pool)
    .await
    .unwrap();
    secret
}

/// A path segment, percent-encoded.
fn segment(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The API's routes with their parameters filled from the fixtures: `{id}` as the pages'
/// fixtures fill it for the same resource, any other parameter with 1.
fn api_path(fixtures: &Fixtures, route: &str) -> String {
    let rest = route.trim_start_matches("/api/v1");
    let filled = format!("/api/v1{}", fixtures.fill(rest));
    fill_other_parameters(&filled, "1")
}

fn fill_other_parameters(path: &str, with: &str) -> String {
    path.split('/')
        .map(|part| {
            if part.starts_with('{') && part.ends_with('}') {
                with.to_string()
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The route with each of its parameters in turn set to `value`, the others filled.
fn with_parameter(fixtures: &Fixtures, route: &str, value: &str) -> Vec<String> {
    let parts: Vec<&str> = route.split('/').collect();
    let filled: Vec<String> = api_path(fixtures, route)
        .split('/')
        .map(str::to_string)
        .collect();
    (0..parts.len())
        .filter(|&i| parts[i].starts_with('{'))
        .map(|i| {
            let mut each = filled.clone();
            each[i] = segment(value);
            each.join("/")
        })
        .collect()
}

/// A sample of what `schema` describes, from its examples where it gives them.
fn sample(doc: &serde_json::Value, schema: &serde_json::Value, depth: usize) -> serde_json::Value {
    use serde_json::{Value, json};
    if depth > 8 {
        return Value::Null;
    }
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or_default();
        return sample(doc, &doc["components"]["schemas"][name], depth + 1);
    }
    if let Some(example) = schema.get("example") {
        return example.clone();
    }
    if let Some(example) = schema["examples"].as_array().and_then(|e| e.first()) {
        return example.clone();
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(first) = schema[key]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["type"] != "null"))
        {
            return sample(doc, first, depth + 1);
        }
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null")
            .unwrap_or("null")
            .to_string(),
        Value::String(kind) => kind.clone(),
        _ if schema.get("properties").is_some() => "object".into(),
        _ => "null".into(),
    };
    match kind.as_str() {
        "object" => {
            let mut object = serde_json::Map::new();
            if let Some(properties) = schema["properties"].as_object() {
                for (name, property) in properties {
                    object.insert(name.clone(), sample(doc, property, depth + 1));
                }
            }
            Value::Object(object)
        }
        "array" => json!([sample(doc, &schema["items"], depth + 1)]),
        "integer" => json!(1),
        "number" => json!(1),
        "boolean" => json!(true),
        "string" => match schema["format"].as_str() {
            Some("date") => json!("2026-10-01"),
            Some("date-time") => json!("2026-10-01T00:00:00Z"),
            _ => json!("sweep"),
        },
        _ => Value::Null,
    }
}

/// The request body the OpenAPI document describes for `method route`, if it has one.
fn valid_body(
    doc: Option<&serde_json::Value>,
    method: &str,
    route: &str,
) -> Option<serde_json::Value> {
    let doc = doc?;
    let operation = &doc["paths"][route][method.to_lowercase()];
    let content = &operation["requestBody"]["content"]["application/json"];
    if let Some(example) = content.get("example") {
        return Some(example.clone());
    }
    let schema = content.get("schema")?;
    Some(sample(doc, schema, 0))
}

/// Where each field of `body` sits: top-level fields, and those of objects in arrays or
/// objects one level down (the lines of a batch).
fn field_paths(body: &serde_json::Value) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    if let Some(object) = body.as_object() {
        for (name, value) in object {
            paths.push(vec![name.clone()]);
            let inner = match value {
                serde_json::Value::Array(items) => items.first().map(|i| (i, "0")),
                serde_json::Value::Object(_) => Some((value, "")),
                _ => None,
            };
            if let Some((serde_json::Value::Object(fields), index)) = inner {
                for field in fields.keys() {
                    let mut path = vec![name.clone()];
                    if !index.is_empty() {
                        path.push(index.into());
                    }
                    path.push(field.clone());
                    paths.push(path);
                }
            }
        }
    }
    paths
}

fn slot<'a>(body: &'a mut serde_json::Value, path: &[String]) -> Option<&'a mut serde_json::Value> {
    let mut at = body;
    for step in path {
        at = match at {
            serde_json::Value::Array(items) => items.get_mut(step.parse::<usize>().ok()?)?,
            serde_json::Value::Object(fields) => fields.get_mut(step)?,
            _ => return None,
        };
    }
    Some(at)
}

/// The bodies sent to a write route: malformed and wrong wholes, then each field of the
/// valid body set to each hostile value, to a wrong type, to a number past every type, and
/// left out.
fn api_bodies(
    base: &serde_json::Value,
    values: &[(&'static str, String)],
) -> Vec<(String, &'static str, Vec<u8>)> {
    const JSON: &str = "application/json";
    let mut out: Vec<(String, &'static str, Vec<u8>)> = vec![
        ("non-JSON".into(), JSON, b"{not json".to_vec()),
        (
            "invalid UTF-8".into(),
            JSON,
            b"{\"a\": \"\xff\xfe\"}".to_vec(),
        ),
        ("null".into(), JSON, b"null".to_vec()),
        ("[]".into(), JSON, b"[]".to_vec()),
        ("{}".into(), JSON, b"{}".to_vec()),
        ("a number".into(), JSON, b"12".to_vec()),
        (
            "a form body".into(),
            "application/x-www-form-urlencoded",
            b"a=1".to_vec(),
        ),
        ("the valid body".into(), JSON, base.to_string().into_bytes()),
    ];
    for (label, value) in values {
        let body = serde_json::to_vec(value).unwrap();
        out.push((format!("the whole body = {label}"), JSON, body));
    }
    const RAW: &str = "\"@@raw@@\"";
    for path in field_paths(base) {
        let name = path.join(".");
        let mut replaced = |what: String, value: serde_json::Value, raw: Option<&str>| {
            let mut body = base.clone();
            if let Some(at) = slot(&mut body, &path) {
                *at = value;
                let mut text = body.to_string();
                if let Some(raw) = raw {
                    text = text.replace(RAW, raw);
                }
                out.push((format!("{name} = {what}"), JSON, text.into_bytes()));
            }
        };
        for (label, value) in values {
            replaced(label.to_string(), serde_json::json!(value), None);
        }
        for (label, value) in [
            ("null", serde_json::Value::Null),
            ("true", serde_json::json!(true)),
            ("[]", serde_json::json!([])),
            ("{}", serde_json::json!({})),
            ("-1", serde_json::json!(-1)),
            ("a string", serde_json::json!("x")),
        ] {
            replaced(label.into(), value, None);
        }
        for raw in [
            "1e309",
            "9223372036854775808",
            "-9223372036854775809",
            "0.1e-400",
        ] {
            replaced(
                format!("raw {raw}"),
                serde_json::json!("@@raw@@"),
                Some(raw),
            );
        }
        let mut missing = base.clone();
        if let Some((last, parent)) = path.split_last()
            && let Some(serde_json::Value::Object(fields)) = slot(&mut missing, parent)
        {
            fields.remove(last);
            out.push((
                format!("{name} missing"),
                JSON,
                missing.to_string().into_bytes(),
            ));
        }
    }
    out
}

struct ApiClient {
    http: reqwest::Client,
    address: String,
    secret: String,
}

impl ApiClient {
    async fn send(
        &self,
        method: &reqwest::Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.address))
            .bearer_auth(&self.secret);
        if let Some((kind, body)) = body {
            request = request.header("content-type", kind).body(body);
        }
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }
}

impl Sweep<'_> {
    /// Like `check`, and every error of the API is a problem document.
    async fn check_api(&mut self, what: String, response: reqwest::Response) {
        let status = response.status();
        let problem = response
            .headers()
            .get("content-type")
            .is_some_and(|t| t == "application/problem+json");
        if (status.is_client_error() || status.is_server_error()) && !problem {
            self.failures.push(format!(
                "{what}: answered {status} without a problem document"
            ));
        }
        self.check(what, response).await;
    }
}

/// One token's sweep over every API route.
async fn sweep_api_as(
    sweep: &mut Sweep<'_>,
    api: &ApiClient,
    who: &str,
    fixtures: &Fixtures,
    routes: &[(reqwest::Method, &'static str)],
    doc: Option<&serde_json::Value>,
) {
    let values = hostile_values();
    let parameters: Vec<&str> = QUERY_PARAMETERS
        .iter()
        .chain(API_QUERY_PARAMETERS)
        .copied()
        .collect();
    for (method, route) in routes {
        if method == reqwest::Method::GET {
            let path = api_path(fixtures, route);
            for (label, value) in &values {
                for hostile in with_parameter(fixtures, route, value) {
                    if hostile.len() > 60_000 {
                        continue;
                    }
                    let response = api.send(method, &hostile, None).await;
                    sweep
                        .check_api(
                            format!("GET {route} as {who}, a path parameter = {label}"),
                            response,
                        )
                        .await;
                }
                let size = serde_urlencoded::to_string([("", value)]).unwrap().len() + 10;
                if size * parameters.len() > 60_000 {
                    // One parameter at a time would be as long as an address may be: one.
                    if size > 60_000 {
                        continue;
                    }
                }
                for chunk in parameters.chunks((60_000 / size).max(1)) {
                    let query: Vec<(&str, &str)> =
                        chunk.iter().map(|p| (*p, value.as_str())).collect();
                    let url = format!("{path}?{}", serde_urlencoded::to_string(&query).unwrap());
                    let response = api.send(method, &url, None).await;
                    sweep
                        .check_api(
                            format!("GET {route} as {who}, {chunk:?} = {label}"),
                            response,
                        )
                        .await;
                }
            }
            let doubled = parameters
                .iter()
                .map(|p| format!("{p}=1&{p}=2"))
                .collect::<Vec<_>>()
                .join("&");
            let response = api.send(method, &format!("{path}?{doubled}"), None).await;
            sweep
                .check_api(
                    format!("GET {route} as {who}, every parameter twice"),
                    response,
                )
                .await;
        } else {
            let path = api_path(fixtures, route);
            let base = valid_body(doc, method.as_str(), route).unwrap_or(serde_json::json!({}));
            for (what, kind, body) in api_bodies(&base, &values) {
                let response = api.send(method, &path, Some((kind, body))).await;
                sweep
                    .check_api(format!("{method} {route} as {who}: {what}"), response)
                    .await;
            }
            for (label, value) in &values {
                for hostile in with_parameter(fixtures, route, value) {
                    if hostile.len() > 60_000 {
                        continue;
                    }
                    let body = Some(("application/json", base.to_string().into_bytes()));
                    let response = api.send(method, &hostile, body).await;
                    sweep
                        .check_api(
                            format!("{method} {route} as {who}, a path parameter = {label}"),
                            response,
                        )
                        .await;
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_hostile_value_in_any_api_route_gets_a_5xx_or_writes_when_refused() {
    let started = Instant::now();
    let app = spawn_app_with(|config| {
        config.test_routes = false;
        config.api_rate_limit = 1_000_000;
    })
    .await;
    let fixtures = Fixtures::create(&app).await;
    let vendor_user = app.create_user(Role::Vendor, Some("Sweep Vendor")).await;
    sqlx::query("update users set vendor_id = $1 where id = $2")
        .bind(fixtures.vendor)
        .bind(vendor_user.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let tokens = [
        (
            "a manager's token",
            api_token(&app, fixtures.user, "Sweep manager").await,
        ),
        (
            "a vendor's token",
            api_token(&app, vendor_user.id, "Sweep vendor").await,
        ),
    ];
    let routes: Vec<(reqwest::Method, &'static str)> = app
        .routes
        .iter()
        .filter(|(_, path)| path.starts_with("/api/v1"))
        .cloned()
        .collect();
    assert!(
        routes.len() >= 3,
        "the sweep found the API's routes: {routes:?}"
    );
    let http = reqwest::Client::new();
    let doc: Option<serde_json::Value> = match http
        .get(format!("{}/api/openapi.json", app.address))
        .send()
        .await
    {
        Ok(response) if response.status() == 200 => response
            .text()
            .await
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok()),
        _ => None,
    };
    let clients: Vec<(&str, ApiClient)> = tokens
        .iter()
        .map(|(who, secret)| {
            let client = ApiClient {
                http: http.clone(),
                address: app.address.clone(),
                secret: secret.clone(),
            };
            (*who, client)
        })
        .collect();
    // A first use records the token's last use; the clock stands still, so no other does.
    for (_, api) in &clients {
        let _ = api
            .send(&reqwest::Method::GET, "/api/v1/engagements", None)
            .await;
    }
    let fingerprint = Fingerprint::without(&app, &["api_rate_windows"]).await;
    let xid = next_xid(&app).await;
    let current = fingerprint.take(&app).await;
    let mut sweep = Sweep {
        app: &app,
        fingerprint,
        current,
        xid,
        requests: 0,
        refused: 0,
        failures: Vec::new(),
    };
    for (who, api) in &clients {
        sweep_api_as(&mut sweep, api, who, &fixtures, &routes, doc.as_ref()).await;
    }
    eprintln!(
        "API sweep: {} routes, 2 tokens, {} requests ({} refused) in {:.1} s",
        routes.len(),
        sweep.requests,
        sweep.refused,
        started.elapsed().as_secs_f64()
    );
    assert!(sweep.failures.is_empty(), "{:#?}", sweep.failures);
}

#[tokio::test]
async fn another_vendor_s_token_gets_404_on_every_api_route_with_the_first_vendor_s_ids() {
    let app = spawn_app_with(|config| {
        config.test_routes = false;
        config.api_rate_limit = 1_000_000;
    })
    .await;
    let fixtures = Fixtures::create(&app).await;
    let other = app.create_user(Role::Vendor, Some("Vendor B Ltd")).await;
    assert_ne!(other.vendor_id, Some(fixtures.vendor));
    let api = ApiClient {
        http: reqwest::Client::new(),
        address: app.address.clone(),
        secret: api_token(&app, other.id, "Vendor B's tool").await,
    };
    let fixture_name: String = sqlx::query_scalar("select name from engagements where id = $1")
        .bind(fixtures.engagement)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let _ = api
        .send(&reqwest::Method::GET, "/api/v1/engagements", None)
        .await;
    // A write gets the body its route documents, so that only the foreign id can refuse it.
    let doc: Option<serde_json::Value> = match api
        .send(&reqwest::Method::GET, "/api/openapi.json", None)
        .await
    {
        response if response.status() == 200 => response
            .text()
            .await
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok()),
        _ => None,
    };
    let fingerprint = Fingerprint::without(&app, &["api_rate_windows"]).await;
    let before = fingerprint.take(&app).await;
    let mut wrong = Vec::new();
    let mut checked = 0;
    for (method, route) in app.routes.iter().filter(|(_, p)| p.starts_with("/api/v1")) {
        let path = api_path(&fixtures, route);
        let body = (method != reqwest::Method::GET).then(|| {
            let body =
                valid_body(doc.as_ref(), method.as_str(), route).unwrap_or(serde_json::json!({}));
            ("application/json", body.to_string().into_bytes())
        });
        let response = api.send(method, &path, body).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        if route.contains('{') {
            checked += 1;
            if status != 404 {
                wrong.push(format!("{method} {path}: {status}"));
            }
        } else if method == reqwest::Method::GET && text.contains(&fixture_name) {
            wrong.push(format!("{method} {path} shows vendor A's engagement"));
        }
    }
    assert!(checked >= 2, "id-bearing routes were tried");
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(fingerprint.take(&app).await, before, "nothing was written");
}

// Each case below answered 500 once.

/// The default fields of the form posting to `action` on `page`.
async fn form_on(client: &TestClient, page: &str, action: &str) -> Vec<(String, String)> {
    let html = client.get_html(page).await;
    forms_in(&html, page)
        .into_iter()
        .find(|f| f.action == action)
        .unwrap_or_else(|| panic!("{page} has a form posting to {action}"))
        .fields
}

fn set(fields: &mut Vec<(String, String)>, name: &str, value: &str) {
    match fields.iter_mut().find(|(k, _)| k == name) {
        Some(field) => field.1 = value.to_string(),
        None => fields.push((name.to_string(), value.to_string())),
    }
}

/// A monthly engagement of the vendor user's vendor, owned by the manager, with a KPI
/// each side records; the clock on 3 November 2026, so October is closed.
struct Case {
    app: TestApp,
    manager: TestClient,
    vendor: TestClient,
    engagement: i64,
    manager_kpi: i64,
    vendor_kpi: i64,
}

async fn case() -> Case {
    let app = spawn_app_with(|_| {}).await;
    app.clock
        .set(chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 3, 9, 0, 0).unwrap());
    let (vendor, vendor_user) = app.signed_in(Role::Vendor).await;
    let (manager, manager_user) = app.signed_in(Role::Manager).await;
    let engagement =
        crate::helpers::engagement(&app, vendor_user.vendor_id.unwrap(), manager_user.id).await;
    let manager_kpi = crate::helpers::kpi(
        &app,
        engagement,
        "Availability",
        "higher",
        "99.9",
        "99.5",
        "60",
    )
    .await;
    let vendor_kpi =
        crate::helpers::kpi(&app, engagement, "Resolve", "lower", "4", "8", "40").await;
    sqlx::query("update kpis set source = 'vendor' where id = $1")
        .bind(vendor_kpi)
        .execute(&app.pool)
        .await
        .unwrap();
    Case {
        app,
        manager,
        vendor,
        engagement,
        manager_kpi,
        vendor_kpi,
    }
}

async fn import(client: &TestClient, csv: &str) -> (u16, Vec<String>) {
    let token = client.csrf_token("/values/import").await;
    let response = client
        .post_multipart(
            "/values/import",
            &[("csrf_token", token.as_str())],
            ("csv", "values.csv", csv.as_bytes()),
        )
        .await;
    let status = response.status().as_u16();
    let html = response.text().await.unwrap();
    (status, crate::helpers::texts(&html, "#import-errors li"))
}

#[tokio::test]
async fn a_nul_byte_in_a_search_parameter_is_a_400_that_names_it() {
    let app = spawn_app_with(|_| {}).await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    for (path, parameter) in [
        ("/engagements?q=%00", "q"),
        ("/vendors?q=%00", "q"),
        ("/admin/users?q=%00", "q"),
        ("/admin/audit?actor=%00", "actor"),
        ("/engagements?q=a%07b", "q"),
    ] {
        let response = admin.get(path).await;
        assert_eq!(response.status(), 400, "{path}");
        let html = response.text().await.unwrap();
        assert!(
            html.contains(&format!(
                "the parameter “{parameter}” contains a control character"
            )),
            "{path}: {html}"
        );
    }
    let response = admin
        .get(&format!("/engagements?q={}", "x".repeat(10_001)))
        .await;
    assert_eq!(response.status(), 400, "an overlong parameter");
}

#[tokio::test]
async fn a_nul_byte_in_a_check_in_s_progress_is_refused_and_nothing_is_saved() {
    let c = case().await;
    let page = format!("/engagements/{}/checkins/new", c.engagement);
    let mut fields = form_on(&c.manager, &page, &page).await;
    set(&mut fields, "held_on", "2026-11-02");
    set(&mut fields, "progress", "went\0well");
    let response = post(&c.manager, &page, encode(&fields)).await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("the field “progress” contains a control character"),
        "{html}"
    );
    assert_eq!(c.app.count("select count(*) from checkins").await, 0);
}

#[tokio::test]
async fn a_nul_byte_in_a_proposal_title_is_refused_and_nothing_is_saved() {
    let c = case().await;
    let page = format!("/engagements/{}/proposals/new", c.engagement);
    let mut fields = form_on(&c.vendor, &page, &page).await;
    set(&mut fields, "kind", "risk");
    set(&mut fields, "title", "\0");
    set(&mut fields, "description", "d");
    set(&mut fields, "proposed_action", "a");
    set(&mut fields, "expected_impact", "i");
    let response = post(&c.vendor, &page, encode(&fields)).await;
    assert_eq!(response.status(), 422);
    assert_eq!(c.app.count("select count(*) from proposals").await, 0);
}

#[tokio::test]
async fn an_action_item_due_in_year_minus_5000_gets_a_field_error() {
    let c = case().await;
    let page = format!("/engagements/{}/checkins/new", c.engagement);
    let mut fields = form_on(&c.manager, &page, &page).await;
    set(&mut fields, "held_on", "2026-11-02");
    set(&mut fields, "progress", "Went well");
    set(&mut fields, "item_title_0", "Renew the certificate");
    set(&mut fields, "item_due_0", "-5000-01-01");
    let response = post(&c.manager, &page, encode(&fields)).await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert_eq!(
        crate::helpers::texts(&html, "#field-item_due_0-error"),
        vec!["Enter a date as YYYY-MM-DD, from 1900 to 2200."]
    );
    assert_eq!(c.app.count("select count(*) from checkins").await, 0);
}

#[tokio::test]
async fn a_login_e_mail_of_6000_characters_or_with_a_nul_is_refused_before_anything_is_counted() {
    let app = spawn_app_with(|_| {}).await;
    let client = app.client();
    let long = format!("{}@example.com", "a".repeat(6_000));
    let response = client.login(&long, "a password of some length").await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert_eq!(
        crate::helpers::texts(&html, "#field-email-error"),
        vec!["An e-mail address has at most 254 characters."]
    );
    let response = client
        .login("admin\0@example.com", "a password of some length")
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(app.count("select count(*) from login_counters").await, 0);
}

#[tokio::test]
async fn periods_outside_1900_to_2200_show_the_latest_period_instead() {
    let c = case().await;
    for path in [
        format!("/engagements/{}/scorecard?period=-4713-01", c.engagement),
        format!("/engagements/{}/scorecard?period=275760-01", c.engagement),
        format!("/engagements/{}/values?period=-5000-01", c.engagement),
        format!("/engagements/{}/values?period=0000-01", c.engagement),
    ] {
        let html = c.manager.get_html(&path).await;
        assert!(
            html.contains("2026-10"),
            "{path} shows the latest closed period"
        );
    }
}

#[tokio::test]
async fn a_value_posted_for_period_minus_5000_is_refused() {
    let c = case().await;
    let page = format!("/engagements/{}/values", c.engagement);
    let mut fields = form_on(&c.manager, &page, &page).await;
    set(&mut fields, "period", "-5000-01");
    set(&mut fields, &format!("value_{}", c.manager_kpi), "99.9");
    let response = post(&c.manager, &page, encode(&fields)).await;
    assert_eq!(response.status(), 422);
    assert_eq!(c.app.count("select count(*) from kpi_values").await, 0);
}

#[tokio::test]
async fn the_csv_import_applies_the_values_form_s_checks() {
    let c = case().await;
    let e = c.engagement;
    let k = c.manager_kpi;
    let csv = format!(
        "engagement_id,kpi_id,period_start,value,note\n\
         {e},{k},-5000-01-01,1,\n\
         {e},{k},0001-01-01,1,\n\
         {e},{k},2025-06-01,1,\n\
         {e},{k},2026-10-01,79228162514264337593543950335,\n\
         {e},{k},2026-09-01,1,\"a\0b\"\n\
         {e},{k},2026-08-01,1,\"two\nlines\"\n\
         {e},{k},2026-07-01,1e309,\n"
    );
    let (status, lines) = import(&c.manager, &csv).await;
    assert_eq!(status, 422);
    assert_eq!(
        lines,
        vec![
            "Line 2: period_start is not a date (YYYY-MM-DD, from 1900 to 2200)",
            "Line 3: period_start is not a date (YYYY-MM-DD, from 1900 to 2200)",
            "Line 4: period 2025-06 is outside the engagement's life",
            "Line 5: value is not below one trillion",
            "Line 6: note contains a control character (such as a NUL byte), which Trellis does not accept",
            "Line 7: note contains a control character (such as a NUL byte), which Trellis does not accept",
            "Line 8: value is not a number",
        ]
    );
    assert_eq!(c.app.count("select count(*) from kpi_values").await, 0);

    // The form refuses the same period, which its list never offers.
    let page = format!("/engagements/{e}/values");
    let html = c.manager.get_html(&page).await;
    assert!(
        !html.contains("2025-06"),
        "periods before the engagement are not offered"
    );
    let mut fields = form_on(&c.manager, &page, &page).await;
    set(&mut fields, "period", "2025-06");
    set(&mut fields, &format!("value_{k}"), "1");
    assert_eq!(post(&c.manager, &page, encode(&fields)).await.status(), 422);

    let (status, _) = import(
        &c.manager,
        &format!("engagement_id,kpi_id,period_start,value\n{e},{k},2026-10-01,99.8\n"),
    )
    .await;
    assert_eq!(status, 303, "a good line is still imported");
}

#[tokio::test]
async fn an_audit_filter_from_year_minus_5000_gets_a_field_error() {
    let app = spawn_app_with(|_| {}).await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let response = admin.get("/admin/audit?from=-5000-01-01").await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("Enter a date as YYYY-MM-DD, from 1900 to 2200."),
        "{html}"
    );
}

#[tokio::test]
async fn two_due_diligence_criteria_can_swap_names() {
    let app = spawn_app_with(|_| {}).await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let mut fields = form_on(&admin, "/admin/criteria", "/admin/criteria").await;
    let name = |fields: &[(String, String)], n: &str| {
        fields
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let (first, second) = (name(&fields, "name_0"), name(&fields, "name_1"));
    set(&mut fields, "name_0", &second);
    set(&mut fields, "name_1", &first);
    let response = post(&admin, "/admin/criteria", encode(&fields)).await;
    assert_eq!(response.status(), 303);
    let names: Vec<String> =
        sqlx::query_scalar("select name from dd_criteria where active order by position limit 2")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(names, vec![second, first]);
}

#[tokio::test]
async fn a_csv_export_defuses_signed_notes_that_are_not_plain_numbers() {
    let c = case().await;
    for (start, note) in [
        ("2026-10-01", "-inf"),
        ("2026-09-01", "+nan"),
        ("2026-08-01", "-infinity"),
        ("2026-07-01", "-4.5"),
    ] {
        sqlx::query(
            "insert into kpi_values (kpi_id, period_start, value, note, state, recorded_by, recorded_at)
             values ($1, $2::date, 1, $3, 'unverified', (select min(id) from users), now())",
        )
        .bind(c.vendor_kpi)
        .bind(start)
        .bind(note)
        .execute(&c.app.pool)
        .await
        .unwrap();
    }
    let csv = c
        .manager
        .get(&format!("/engagements/{}/scorecard.csv", c.engagement))
        .await
        .text()
        .await
        .unwrap();
    for defused in [",'-inf,", ",'+nan,", ",'-infinity,", ",-4.5,"] {
        assert!(csv.contains(defused), "{defused} in {csv}");
    }
}
