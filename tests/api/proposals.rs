//! Vendor proposals: raised by the vendor's users, answered by the engagement's managers,
//! never visible to another vendor.

use trellis::auth::Role;

use crate::helpers::{engagement, form_key_in, location, spawn_app, texts};

#[tokio::test]
async fn a_vendor_raises_a_proposal_a_manager_answers_and_the_vendor_reads_the_answer() {
    let app = spawn_app().await;
    let (vendor, vendor_user) = app.signed_in(Role::Vendor).await;
    let (manager, manager_user) = app.signed_in(Role::Manager).await;
    let (bystander, _) = app.signed_in(Role::Manager).await;
    let id = engagement(&app, vendor_user.vendor_id.unwrap(), manager_user.id).await;
    sqlx::query("update engagements set status = 'active' where id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    let list = format!("/engagements/{id}/proposals");
    let new = format!("{list}/new");

    let empty = vendor.post_form(&new, &new, &[("title", "  ")]).await;
    assert_eq!(empty.status(), 422);
    let html = empty.text().await.unwrap();
    assert_eq!(
        texts(&html, ".field-error"),
        vec![
            "Choose improvement, risk or issue.",
            "Give the proposal a short title.",
            "Describe what you noticed.",
            "Say what you propose to do.",
            "Say what it would change.",
        ]
    );
    assert_eq!(app.count("select count(*) from proposals").await, 0);

    let key = form_key_in(&vendor.get_html(&new).await);
    let fields = [
        ("form_key", key.as_str()),
        ("kind", "improvement"),
        ("title", "Automate patching"),
        ("description", "Patching takes two evenings a month."),
        ("proposed_action", "Roll out the automated pipeline."),
        ("expected_impact", "Fewer change incidents."),
    ];
    let raised = vendor.post_form(&new, &new, &fields).await;
    assert_eq!(raised.status(), 303);
    assert_eq!(location(&raised), list);
    assert_eq!(
        vendor.post_form(&new, &new, &fields).await.status(),
        303,
        "a double submit"
    );
    assert_eq!(
        app.count("select count(*) from proposals").await,
        1,
        "saved once"
    );
    let proposal: i64 = sqlx::query_scalar("select id from proposals")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let answer = format!("/proposals/{proposal}/answer");

    assert_eq!(
        manager.get(&new).await.status(),
        403,
        "the vendor's side raises them"
    );
    assert!(
        texts(&manager.get_html("/").await, ".card li")
            .contains(&"1 proposal to answer".to_string()),
        "the manager's home asks for an answer"
    );
    assert_eq!(
        texts(&manager.get_html(&list).await, "#proactivity"),
        vec!["Last 90 days: 1 proposal raised by the vendor, 0 accepted."]
    );

    let unexplained = manager
        .post_form(&list, &answer, &[("answer", "declined"), ("note", "")])
        .await;
    assert_eq!(unexplained.status(), 422);
    let html = unexplained.text().await.unwrap();
    assert_eq!(
        texts(&html, ".field-error"),
        vec!["Say why, or what you need to know: the vendor reads this."]
    );
    assert_eq!(
        texts(&html, &format!("#answer-{proposal} option[selected]")),
        vec!["Declined"],
        "the choice is kept"
    );
    assert_eq!(
        bystander
            .post_form(&list, &answer, &[("answer", "accepted")])
            .await
            .status(),
        403,
        "a manager of another engagement"
    );
    assert_eq!(
        vendor
            .post_form(&list, &answer, &[("answer", "accepted")])
            .await
            .status(),
        404
    );
    // Needs information: the vendor replies and the proposal is open again.
    let asked = manager
        .post_form(
            &list,
            &answer,
            &[
                ("answer", "needs_information"),
                ("note", "Which systems would it touch?"),
            ],
        )
        .await;
    assert_eq!(asked.status(), 303);
    assert!(
        texts(&vendor.get_html("/").await, ".card li")
            .contains(&"1 proposal needs more information".to_string()),
        "the vendor's home asks for the information"
    );
    let reply = format!("/proposals/{proposal}/reply");
    let empty = vendor.post_form(&list, &reply, &[("reply", " ")]).await;
    assert_eq!(empty.status(), 422);
    assert_eq!(
        texts(&empty.text().await.unwrap(), ".field-error"),
        vec!["Write the information the managers asked for."]
    );
    assert_eq!(
        manager
            .post_form(&list, &reply, &[("reply", "x")])
            .await
            .status(),
        403,
        "the organisation answers, the vendor replies"
    );
    let replied = vendor
        .post_form(&list, &reply, &[("reply", "Only the patch servers.")])
        .await;
    assert_eq!(replied.status(), 303);
    let status: String = sqlx::query_scalar("select status from proposals where id = $1")
        .bind(proposal)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "open");
    assert_eq!(
        texts(&manager.get_html(&list).await, ".reply p"),
        vec!["Only the patch servers."]
    );

    let answered = manager
        .post_form(
            &list,
            &answer,
            &[
                ("answer", "accepted"),
                ("note", "Go ahead in the next window."),
            ],
        )
        .await;
    assert_eq!(answered.status(), 303);

    let seen = vendor.get_html(&list).await;
    assert_eq!(
        texts(&seen, ".response:not(.reply) p"),
        vec!["Accepted. Go ahead in the next window."]
    );
    assert!(texts(&seen, ".response:not(.reply) footer")[0].starts_with("— Test Manager, "));
    assert_eq!(
        texts(&seen, "#proactivity"),
        vec!["Last 90 days: 1 proposal raised by the vendor, 1 accepted."]
    );
    assert!(
        texts(&seen, "form.answer-form").is_empty(),
        "no answer form for the vendor"
    );
    let actions: Vec<String> = app
        .audit_actions()
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert!(actions.contains(&"proposal.create".to_string()));
    assert!(actions.contains(&"proposal.answer".to_string()));
    assert!(actions.contains(&"proposal.reply".to_string()));
}

#[tokio::test]
async fn another_vendor_sees_no_proposal_and_raises_none() {
    let app = spawn_app().await;
    let (_, manager_user) = app.signed_in(Role::Manager).await;
    let (vendor, _) = app.signed_in(Role::Vendor).await;
    let other = {
        let mut conn = app.pool.acquire().await.unwrap();
        trellis::users::vendor_id_by_name(&mut conn, "Elsewhere")
            .await
            .unwrap()
    };
    let id = engagement(&app, other, manager_user.id).await;
    sqlx::query(
        "insert into proposals (engagement_id, kind, title, description, proposed_action, expected_impact,
                                raised_by, raised_at, form_key)
         values ($1, 'risk', 'Secret risk', 'd', 'a', 'i', $2, now(), gen_random_uuid())",
    )
    .bind(id)
    .bind(manager_user.id)
    .execute(&app.pool)
    .await
    .unwrap();
    for path in [
        format!("/engagements/{id}/proposals"),
        format!("/engagements/{id}/proposals/new"),
    ] {
        let response = vendor.get(&path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert!(!response.text().await.unwrap().contains("Secret risk"));
    }
    let own = format!("/engagements/{}/proposals/new", id + 1000);
    assert_eq!(vendor.get(&own).await.status(), 404);
    assert_eq!(
        vendor
            .post_form(
                "/",
                &format!("/engagements/{id}/proposals/new"),
                &[
                    ("kind", "risk"),
                    ("title", "x"),
                    ("description", "x"),
                    ("proposed_action", "x"),
                    ("expected_impact", "x")
                ],
            )
            .await
            .status(),
        404
    );
    assert_eq!(app.count("select count(*) from proposals").await, 1);
}
