use trellis::auth::Role;

use crate::helpers::{TestApp, TestClient, location, spawn_app, texts};

const VENDOR: &[(&str, &str)] = &[
    ("name", "Northwind IT"),
    ("legal_name", "Northwind IT Services GmbH"),
    ("website", "https://northwind.example"),
    ("industry", "Managed services"),
    ("tier", "high"),
    ("status", "onboarding"),
    ("contact_name", "Greta Nord"),
    ("contact_email", "greta@northwind.example"),
    ("contact_phone", "+49 30 1234"),
    ("notes", "Runs our service desk."),
];

async fn add_vendor(admin: &TestClient, fields: &[(&str, &str)]) -> reqwest::Response {
    admin
        .post_form("/vendors/new", "/vendors/new", fields)
        .await
}

fn with(
    fields: &[(&'static str, &'static str)],
    changes: &[(&'static str, &'static str)],
) -> Vec<(&'static str, &'static str)> {
    fields
        .iter()
        .map(|(k, v)| {
            (
                *k,
                changes
                    .iter()
                    .find(|(ck, _)| ck == k)
                    .map_or(*v, |(_, cv)| *cv),
            )
        })
        .collect()
}

async fn criteria_ids(app: &TestApp) -> Vec<i64> {
    sqlx::query_scalar("select id from dd_criteria where active order by position")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_admin_adds_edits_and_evaluates_a_vendor() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let response = add_vendor(&admin, VENDOR).await;
    assert_eq!(response.status(), 303);
    let page = location(&response).to_string();
    let html = admin.get_html(&page).await;
    assert_eq!(texts(&html, "h1"), vec!["Northwind IT"]);
    assert_eq!(texts(&html, ".flash"), vec!["Northwind IT is added."]);
    assert!(html.contains("greta@northwind.example"));

    let edit = admin
        .post_form(
            &format!("{page}/edit"),
            &format!("{page}/edit"),
            &with(VENDOR, &[("status", "active"), ("tier", "critical")]),
        )
        .await;
    assert_eq!(edit.status(), 303);
    let html = admin.get_html(&page).await;
    assert!(texts(&html, ".badge").contains(&"Critical criticality".to_string()));

    // Scores 5,4,3,2,1 on weights 25,20,20,20,15: 25 + 15 + 10 + 5 + 0 = 55.
    let ids = criteria_ids(&app).await;
    let scores = ["5", "4", "3", "2", "1"];
    let mut fields: Vec<(String, String)> = ids
        .iter()
        .zip(scores)
        .flat_map(|(id, s)| {
            [
                (format!("score_{id}"), s.to_string()),
                (format!("evidence_{id}"), format!("evidence {id}")),
            ]
        })
        .collect();
    fields.push(("decision".into(), "selected".into()));
    fields.push((
        "rationale".into(),
        "Strong track record, weaker fit.".into(),
    ));
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let new_evaluation = format!("{page}/evaluations/new");
    let saved = admin
        .post_form(&new_evaluation, &new_evaluation, &borrowed)
        .await;
    assert_eq!(saved.status(), 303);
    let html = admin.get_html(&page).await;
    assert_eq!(texts(&html, ".score"), vec!["55.00"]);
    assert!(texts(&html, ".score-line")[0].contains("Selected"));

    // Changing the criteria later does not rewrite the evaluation.
    sqlx::query("update dd_criteria set name = 'Renamed' where id = $1")
        .bind(ids[0])
        .execute(&app.pool)
        .await
        .unwrap();
    let html = admin.get_html(&page).await;
    assert!(texts(&html, "td[data-label=Criterion]").contains(&"Track record".to_string()));

    let actions: Vec<String> = app
        .audit_actions()
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    for action in ["vendor.create", "vendor.update", "evaluation.create"] {
        assert!(actions.contains(&action.to_string()), "{action}");
    }
    let details: serde_json::Value =
        sqlx::query_scalar("select details from audit_log where action = 'vendor.update'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(details["before"]["status"], "onboarding");
    assert_eq!(details["after"]["status"], "active");
}

#[tokio::test]
async fn a_bad_vendor_form_names_each_problem_and_writes_nothing() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let response = add_vendor(
        &admin,
        &with(
            VENDOR,
            &[
                ("name", " "),
                ("website", "northwind.example"),
                ("contact_email", "greta"),
                ("tier", "urgent"),
                ("status", ""),
            ],
        ),
    )
    .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert_eq!(
        texts(&html, "#field-name-error"),
        vec!["Enter the vendor's name."]
    );
    assert_eq!(
        texts(&html, "#field-website-error"),
        vec!["Enter a web address starting with https://."]
    );
    assert_eq!(
        texts(&html, "#field-contact_email-error"),
        vec!["Enter an e-mail address like name@example.com."]
    );
    assert_eq!(
        texts(&html, "#field-tier-error"),
        vec!["Choose a criticality tier."]
    );
    assert_eq!(
        texts(&html, "#field-status-error"),
        vec!["Choose a status."]
    );
    assert!(
        html.contains("value=\"Northwind IT Services GmbH\""),
        "input is kept"
    );
    assert_eq!(app.count("select count(*) from vendors").await, 0);
}

#[tokio::test]
async fn vendor_names_are_unique_whatever_their_case_and_a_double_submit_makes_one() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let token = admin.csrf_token("/vendors/new").await;
    let mut fields = vec![("csrf_token", token.as_str())];
    fields.extend_from_slice(VENDOR);
    assert_eq!(admin.post_raw("/vendors/new", &fields).await.status(), 303);
    let again = admin.post_raw("/vendors/new", &fields).await;
    assert_eq!(again.status(), 422);
    let shouting = add_vendor(&admin, &with(VENDOR, &[("name", "NORTHWIND it")])).await;
    assert_eq!(
        texts(&shouting.text().await.unwrap(), "#field-name-error"),
        vec!["A vendor with this name already exists."]
    );
    assert_eq!(app.count("select count(*) from vendors").await, 1);
}

#[tokio::test]
async fn the_vendor_list_searches_filters_sorts_and_paginates() {
    let app = spawn_app().await;
    let (manager, _) = app.signed_in(Role::Manager).await;
    for i in 0..28 {
        let tier = ["critical", "high", "medium", "low"][i % 4];
        let status = if i % 2 == 0 { "active" } else { "prospect" };
        sqlx::query("insert into vendors (name, tier, status) values ($1, $2, $3)")
            .bind(format!("Vendor {i:02}"))
            .bind(tier)
            .bind(status)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    let first = manager.get_html("/vendors").await;
    assert_eq!(texts(&first, "tbody tr").len(), 25);
    assert_eq!(texts(&first, "td[data-label=Name]")[0], "Vendor 00");
    let second = manager.get_html("/vendors?page=2").await;
    assert_eq!(texts(&second, "tbody tr").len(), 3);
    let critical = manager
        .get_html("/vendors?tier=critical&status=active")
        .await;
    assert_eq!(texts(&critical, ".result-count"), vec!["7 vendors"]);
    let search = manager.get_html("/vendors?q=vendor+1").await;
    assert_eq!(texts(&search, "tbody tr").len(), 10);
    let by_tier = manager.get_html("/vendors?sort=tier").await;
    assert!(
        texts(&by_tier, "td[data-label=Criticality]")[..7]
            .iter()
            .all(|t| t == "Critical")
    );
    let bogus = manager
        .get_html("/vendors?sort=name;drop table vendors")
        .await;
    assert_eq!(
        texts(&bogus, "td[data-label=Name]")[0],
        "Vendor 00",
        "an unknown sort falls back to the name"
    );
    assert_eq!(
        texts(
            &manager.get_html("/vendors").await,
            "a.button[href='/vendors/new']"
        )
        .len(),
        0,
        "managers read, admins edit"
    );
}

#[tokio::test]
async fn exiting_a_vendor_asks_first_then_disables_its_users_and_ends_their_sessions() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let user = app.create_user(Role::Vendor, Some("Northwind IT")).await;
    let vendor_client = app.client_for(&user).await;
    let vendor_id = user.vendor_id.unwrap();
    sqlx::query("update vendors set status = 'offboarding' where id = $1")
        .bind(vendor_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let edit = format!("/vendors/{vendor_id}/edit");
    let fields = with(VENDOR, &[("status", "exited")]);

    let asked = admin.post_form(&edit, &edit, &fields).await;
    assert_eq!(asked.status(), 422);
    let html = asked.text().await.unwrap();
    assert!(
        texts(&html, "#confirm-exit")[0].contains("disables its 1 user and signs them out"),
        "{html}"
    );
    assert_eq!(
        vendor_client.get("/").await.status(),
        200,
        "nothing happened yet"
    );

    let mut confirmed = fields.clone();
    confirmed.push(("confirm_exit", "yes"));
    assert_eq!(
        admin.post_form(&edit, &edit, &confirmed).await.status(),
        303
    );
    assert_eq!(location(&vendor_client.get("/").await), "/login");
    let disabled: bool =
        sqlx::query_scalar("select disabled_at is not null from users where id = $1")
            .bind(user.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(disabled);
}

#[tokio::test]
async fn the_criteria_weights_must_total_100() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let ids = criteria_ids(&app).await;
    let mut fields: Vec<(String, String)> = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        fields.push((format!("id_{i}"), id.to_string()));
        fields.push((format!("name_{i}"), format!("Criterion {i}")));
        fields.push((format!("weight_{i}"), "30".into()));
    }
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let refused = admin
        .post_form("/admin/criteria", "/admin/criteria", &borrowed)
        .await;
    assert_eq!(refused.status(), 422);
    assert_eq!(
        texts(&refused.text().await.unwrap(), "#total-error"),
        vec!["The weights total 150; they must total 100."]
    );

    let mut fields: Vec<(String, String)> = Vec::new();
    for (i, id) in ids.iter().enumerate().take(4) {
        fields.push((format!("id_{i}"), id.to_string()));
        fields.push((format!("name_{i}"), format!("Criterion {i}")));
        fields.push((format!("weight_{i}"), "20".into()));
    }
    fields.push(("id_4".into(), ids[4].to_string()));
    fields.push(("name_4".into(), "Dropped".into()));
    fields.push(("weight_4".into(), "0".into()));
    fields.push(("remove_4".into(), "yes".into()));
    fields.push(("name_5".into(), "Price".into()));
    fields.push(("weight_5".into(), "20".into()));
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        admin
            .post_form("/admin/criteria", "/admin/criteria", &borrowed)
            .await
            .status(),
        303
    );
    let names: Vec<String> =
        sqlx::query_scalar("select name from dd_criteria where active order by position")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        names,
        vec![
            "Criterion 0",
            "Criterion 1",
            "Criterion 2",
            "Criterion 3",
            "Price"
        ]
    );
    assert!(
        app.audit_actions()
            .await
            .contains(&("criteria.update".into(), "success".into()))
    );
}

#[tokio::test]
async fn an_evaluation_needs_every_score_a_decision_and_a_rationale() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let vendor: i64 =
        sqlx::query_scalar("insert into vendors (name) values ('Bluepeak') returning id")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let ids = criteria_ids(&app).await;
    let path = format!("/vendors/{vendor}/evaluations/new");
    let first_score = format!("score_{}", ids[0]);
    let response = admin
        .post_form(
            &path,
            &path,
            &[(first_score.as_str(), "9"), ("decision", "maybe")],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert_eq!(
        texts(&html, &format!("#field-score_{}-error", ids[0])),
        vec!["Score this criterion from 1 to 5."]
    );
    assert_eq!(
        texts(&html, &format!("#field-score_{}-error", ids[4])),
        vec!["Score this criterion from 1 to 5."]
    );
    assert_eq!(
        texts(&html, "#field-decision-error"),
        vec!["Choose a decision."]
    );
    assert_eq!(
        texts(&html, "#field-rationale-error"),
        vec!["Say why: the rationale is kept with the decision."]
    );
    assert_eq!(app.count("select count(*) from evaluations").await, 0);
}

#[tokio::test]
async fn a_vendor_user_sees_no_vendor_pages_and_gets_404_for_any_vendor_id() {
    let app = spawn_app().await;
    let (vendor_client, me) = app.signed_in(Role::Vendor).await;
    let other: i64 =
        sqlx::query_scalar("insert into vendors (name) values ('Other Co') returning id")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let admin = app.create_user(Role::Admin, None).await;
    let evaluation: i64 = sqlx::query_scalar(
        "insert into evaluations (vendor_id, decision, rationale, score, author_id, created_at, form_key) values ($1, 'selected', 'x', 50, $2, now(), gen_random_uuid()) returning id",
    )
    .bind(other)
    .bind(admin.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(vendor_client.get("/vendors").await.status(), 403);
    for id in [other, me.vendor_id.unwrap(), 999_999] {
        for path in [
            format!("/vendors/{id}"),
            format!("/vendors/{id}/edit"),
            format!("/vendors/{id}/evaluations/new"),
        ] {
            assert_eq!(vendor_client.get(&path).await.status(), 404, "{path}");
        }
    }
    assert_eq!(
        vendor_client
            .get(&format!("/evaluations/{evaluation}"))
            .await
            .status(),
        404
    );
    let edit = format!("/vendors/{other}/edit");
    let response = vendor_client.post_form("/", &edit, VENDOR).await;
    assert_eq!(response.status(), 404);
    let name: String = sqlx::query_scalar("select name from vendors where id = $1")
        .bind(other)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(name, "Other Co");
}

#[tokio::test]
async fn vendor_pages_cost_the_same_statements_on_small_and_larger_data() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let vendor: i64 =
        sqlx::query_scalar("insert into vendors (name) values ('Counted') returning id")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    admin.get_html("/").await;
    let pages = [
        "/vendors".to_string(),
        format!("/vendors/{vendor}"),
        "/admin/criteria".to_string(),
    ];
    let mut small = Vec::new();
    for page in &pages {
        small.push(app.statements_for(&admin, page).await);
    }
    for i in 0..30 {
        sqlx::query("insert into vendors (name) values ($1)")
            .bind(format!("More {i}"))
            .execute(&app.pool)
            .await
            .unwrap();
        app.create_user(Role::Vendor, Some("Counted")).await;
        sqlx::query("insert into evaluations (vendor_id, decision, rationale, score, author_id, created_at, form_key) select $1, 'on_hold', 'x', 10, min(id), now(), gen_random_uuid() from users")
            .bind(vendor)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    let mut large = Vec::new();
    for page in &pages {
        large.push(app.statements_for(&admin, page).await);
    }
    assert_eq!(small, large);
}

#[tokio::test]
async fn a_double_submitted_evaluation_saves_one() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let vendor: i64 =
        sqlx::query_scalar("insert into vendors (name) values ('Twice Co') returning id")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let path = format!("/vendors/{vendor}/evaluations/new");
    let html = admin.get_html(&path).await;
    let document = scraper::Html::parse_document(&html);
    let key = document
        .select(&scraper::Selector::parse("input[name=form_key]").unwrap())
        .next()
        .and_then(|e| e.value().attr("value"))
        .unwrap()
        .to_string();
    let token = crate::helpers::csrf_in(&html);
    let ids = criteria_ids(&app).await;
    let mut fields: Vec<(String, String)> = ids
        .iter()
        .map(|id| (format!("score_{id}"), "4".to_string()))
        .collect();
    fields.extend([
        ("csrf_token".to_string(), token),
        ("form_key".to_string(), key),
        ("decision".to_string(), "on_hold".to_string()),
        (
            "rationale".to_string(),
            "Waiting for references.".to_string(),
        ),
    ]);
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(admin.post_raw(&path, &borrowed).await.status(), 303);
    assert_eq!(admin.post_raw(&path, &borrowed).await.status(), 303);
    assert_eq!(app.count("select count(*) from evaluations").await, 1);
}

#[tokio::test]
async fn a_criterion_takes_its_score_from_a_completed_questionnaire_of_that_vendor_only() {
    let app = spawn_app().await;
    let (admin, admin_user) = app.signed_in(Role::Admin).await;
    let vendor = |name: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("insert into vendors (name) values ($1) returning id")
                .bind(name)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let (bluepeak, other) = (vendor("Bluepeak").await, vendor("Other Co").await);
    let completed = |vendor: i64, score: &'static str| {
        let pool = app.pool.clone();
        let by = admin_user.id;
        async move {
            sqlx::query_scalar::<_, i64>(
                "insert into questionnaires (template_id, vendor_id, due_on, status, sent_by, sent_at, completed_by,
                                             completed_at, score, form_key)
                 select min(id), $1, current_date, 'completed', $2, now(), $2, now(), $3::numeric, gen_random_uuid()
                 from questionnaire_templates returning id",
            )
            .bind(vendor)
            .bind(by)
            .bind(score)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let ours = completed(bluepeak, "78").await;
    let theirs = completed(other, "95").await;
    let ids = criteria_ids(&app).await;
    let path = format!("/vendors/{bluepeak}/evaluations/new");
    let page = admin.get_html(&path).await;
    assert!(
        page.contains(": 78.0 of 100"),
        "its completed questionnaire is offered"
    );
    assert!(!page.contains("95.0 of 100"), "not another vendor's");

    let fields = |basis: String| {
        let mut fields: Vec<(String, String)> = ids
            .iter()
            .map(|id| (format!("score_{id}"), "3".to_string()))
            .collect();
        fields[0].1 = String::new();
        fields.push((format!("basis_{}", ids[0]), basis));
        fields.push(("decision".into(), "selected".into()));
        fields.push(("rationale".into(), "Strong security baseline".into()));
        fields
    };
    let post = |fields: Vec<(String, String)>| {
        let (admin, path) = (&admin, path.clone());
        async move {
            let refs: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            admin.post_form(&path, &path, &refs).await
        }
    };
    let refused = post(fields(theirs.to_string())).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(
        texts(
            &refused.text().await.unwrap(),
            &format!("#field-basis_{}-error", ids[0])
        ),
        vec!["Choose one of this vendor's completed questionnaires, or none."]
    );
    assert_eq!(post(fields(ours.to_string())).await.status(), 303);
    let (score, questionnaire, evidence): (i32, Option<i64>, String) = sqlx::query_as(
        "select score, questionnaire_id, evidence from evaluation_scores where position = 0",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    // 78 of 100 is 1 + 3.12: 4 of 5.
    assert_eq!((score, questionnaire), (4, Some(ours)));
    assert!(evidence.starts_with("Questionnaire: "), "{evidence}");
}
