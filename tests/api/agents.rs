//! Filing at a village service point (代办): an admin registers the point and its agent; the
//! agent files for residents, who authorize it in the mini-program with a code or on a signed
//! form; the reviewer sees who filed for whom and how it was authorized; every agent action is
//! audited as done on behalf of the resident.

use serde_json::{Value, json};

use crate::support::agents::{
    agent, agent_submit, agent_upload, code_for, file_for, fill, point_address, service_point,
};
use crate::support::answers::json_of;
use crate::support::cases::{CIVIL, Desk, ELDERLY_CARD, SOCIAL, SOCIAL_CARD, claim_next, decide};
use crate::support::courier::{dispatch_now, shipments_until};
use crate::support::staff::{PASSWORD, staff_token};
use crate::support::wait::poll;
use crate::support::{TestApp, assert_problem, quick_app};

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

async fn agent_case(app: &TestApp, agent: &str, id: &str) -> Value {
    json_of(
        app.get_as(agent, &format!("/v1/agent/applications/{id}"))
            .await,
        200,
    )
    .await
}

/// Waits (up to 30 s) until the agent sees case `id` in `state`.
async fn wait_until(app: &TestApp, agent: &str, id: &str, state: &str) {
    poll(
        std::time::Duration::from_secs(30),
        std::time::Duration::from_millis(100),
        || async move {
            let case = agent_case(app, agent, id).await;
            if case["state"] == state {
                Ok(())
            } else {
                Err(case["state"].clone())
            }
        },
    )
    .await
    .unwrap_or_else(|s| panic!("{id} stayed {s}, never {state}"));
}

/// Waits (up to 30 s) until the agent sees case `id`'s `leg` delivered: that leg.
async fn leg_delivered(app: &TestApp, agent: &str, id: &str, leg: &str) -> Value {
    let path = format!("/v1/agent/applications/{id}/shipments");
    let path = &path;
    poll(
        std::time::Duration::from_secs(30),
        std::time::Duration::from_millis(100),
        || async move {
            let list = json_of(app.get_as(agent, path).await, 200).await;
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["leg"] == leg && s["status"] == "delivered")
                .cloned()
                .ok_or(list)
        },
    )
    .await
    .unwrap_or_else(|list| panic!("{id}'s {leg} leg never delivered: {list:#}"))
}

async fn accept(app: &TestApp, citizen: &str, code: &str) -> reqwest::Response {
    app.post_as(citizen, "/v1/authorizations/accept", &json!({"code": code}))
        .await
}

#[tokio::test]
async fn an_agent_files_for_two_residents_authorized_by_code_and_by_signed_form() {
    let app = quick_app().await;
    let admin = staff_token(&app, "sp.admin", "admin", "").await;
    let point = service_point(&app, &admin, "longwangba").await;
    let ma = agent(&app, &admin, "agent.ma", &point).await;

    // Resident A has the mini-program; resident B signs a form.
    let a = file_for(&app, &ma, ELDERLY_CARD, "李秀英", "mini_program").await;
    let b = file_for(&app, &ma, ELDERLY_CARD, "王德福", "signed_form").await;
    let (a_id, b_id) = (id_of(&a), id_of(&b));
    for case in [&a, &b] {
        assert_eq!(case["agent_filing"]["service_point"]["id"], point.as_str());
        assert_eq!(case["agent_filing"]["agent_name"], "agent.ma");
        assert_eq!(case["agent_filing"]["authorization"]["status"], "pending");
        // The result comes back to the service point.
        assert_eq!(case["return_address"], point_address("马站长"));
        // The agent sees the ID number masked, as staff do.
        assert!(
            case["applicant"]["id_number"]
                .as_str()
                .unwrap()
                .contains('*')
        );
    }
    // The item's own power of attorney, optional when someone files in person, is required
    // (and its original) for the case on a signed form only.
    let form = |case: &Value| -> (Value, Value) {
        let m = case["materials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["code"] == "power-of-attorney")
            .expect("the elderly card names a power of attorney")
            .clone();
        (m["required"].clone(), m["original_required"].clone())
    };
    assert_eq!(form(&a), (json!(false), json!(false)));
    assert_eq!(form(&b), (json!(true), json!(true)));
    fill(&app, &ma, &a, 10).await;
    fill(&app, &ma, &b, 90).await;

    // Not before resident A confirms.
    let refused = assert_problem(
        agent_submit(&app, &ma, &a_id).await,
        422,
        "authorization_required",
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("not confirmed")
    );

    // Resident A reads what is filed for them, and by whom, then accepts.
    let code = code_for(&app, &ma, &a_id).await;
    let resident_a = app.citizen_token("resident-a").await;
    let offer = json_of(
        app.post_as(
            &resident_a,
            "/v1/authorizations/preview",
            &json!({"code": code.to_lowercase()}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(offer["matter_code"], ELDERLY_CARD);
    assert_eq!(offer["resident_name"], "李**");
    assert_eq!(offer["agent_filing"]["agent_name"], "agent.ma");
    assert_eq!(
        offer["agent_filing"]["service_point"]["name"],
        "longwangba 便民服务站"
    );
    let mine = json_of(accept(&app, &resident_a, &code).await, 200).await;
    assert_eq!(mine["id"], a_id.as_str());
    assert_eq!(mine["agent_filing"]["authorization"]["status"], "granted");
    // The case is now the resident's own: in their list, with the ID number in full.
    let list = json_of(app.get_as(&resident_a, "/v1/applications").await, 200).await;
    assert_eq!(list["items"][0]["id"], a_id.as_str());
    assert_eq!(mine["applicant"]["id_number"], "11010519491231002X");
    // A code works once.
    assert_problem(accept(&app, &resident_a, &code).await, 404, "code_invalid").await;

    json_of(agent_submit(&app, &ma, &a_id).await, 200).await;
    // A signed form goes to pre-review, where it is accepted or returned.
    let b_submitted = json_of(agent_submit(&app, &ma, &b_id).await, 200).await;
    assert_eq!(b_submitted["state"], "submitted");

    // The reviewer sees who filed for whom and how it was authorized.
    let reviewer = staff_token(&app, "civil.rev", "reviewer", CIVIL).await;
    for (id, method, status) in [
        (&a_id, "mini_program", "granted"),
        (&b_id, "signed_form", "pending"),
    ] {
        assert_eq!(
            claim_next(&app, &reviewer).await.as_deref(),
            Some(id.as_str())
        );
        let case = json_of(
            app.get_as(&reviewer, &format!("/v1/review/applications/{id}"))
                .await,
            200,
        )
        .await;
        let filing = &case["application"]["agent_filing"];
        assert_eq!(filing["agent_name"], "agent.ma");
        assert_eq!(filing["service_point"]["code"], "longwangba");
        assert_eq!(filing["authorization"]["method"], method);
        assert_eq!(filing["authorization"]["status"], status);
        let created_by = case["events"][0]["actor_kind"].as_str().unwrap();
        assert_eq!(created_by, "staff", "the agent started it");
        json_of(
            decide(
                &app,
                &reviewer,
                Desk::Review,
                id,
                json!({"outcome": "approve"}),
            )
            .await,
            200,
        )
        .await;
    }
    // Pre-review's approval accepted the signed form.
    let b_now = agent_case(&app, &ma, &b_id).await;
    assert_eq!(b_now["agent_filing"]["authorization"]["status"], "granted");
    assert_eq!(b_now["state"], "prereview_passed");

    // The agent's list is their point's cases.
    let listed = json_of(app.get_as(&ma, "/v1/agent/applications").await, 200).await;
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [b_id.as_str(), a_id.as_str()]);

    // One courier visit to the service point collects both cases' originals.
    let offered = json_of(app.get_as(&ma, "/v1/agent/pickup-slots").await, 200).await;
    assert_eq!(offered["city"], "固原市");
    let slot = offered["items"][0].clone();
    let window = json!({"window": {"date": slot["date"], "slot": slot["slot"]}});
    let booked = json_of(app.post_as(&ma, "/v1/agent/pickups", &window).await, 201).await;
    assert_eq!(booked["carries"], json!([a_id, b_id]));
    assert_eq!(booked["address"], point_address("马站长"));
    assert_problem(
        app.post_as(&ma, "/v1/agent/pickups", &window).await,
        409,
        "nothing_to_collect",
    )
    .await;
    // The agent follows the one parcel: both cases' originals arrive together.
    let mut waybills = Vec::new();
    for id in [&a_id, &b_id] {
        let legs = leg_delivered(&app, &ma, id, "materials").await;
        waybills.push(legs["waybill_no"].clone());
    }
    assert_eq!(waybills[0], waybills[1], "one parcel: {waybills:?}");
    let desk = staff_token(&app, "civil.desk", "reception", CIVIL).await;
    for id in [&a_id, &b_id] {
        let path = format!("/v1/reception/applications/{id}/receive");
        json_of(
            app.post_as(&desk, &path, &json!({"matches": true})).await,
            200,
        )
        .await;
    }
    dispatch_now(&app, "agents").await;
    wait_until(&app, &ma, &b_id, "at_department").await;

    // The department approves both; the results come back to the service point.
    let approver = staff_token(&app, "civil.approver", "approver", CIVIL).await;
    for id in [&a_id, &b_id] {
        wait_until(&app, &ma, id, "at_department").await;
        let body = json!({"outcome": "approved", "note": "准予办理"});
        json_of(
            decide(&app, &approver, Desk::Department, id, body).await,
            200,
        )
        .await;
    }
    for id in [&a_id, &b_id] {
        leg_delivered(&app, &ma, id, "result").await;
    }
    // The resident who confirmed follows their own case's parcels too.
    shipments_until(&app, &resident_a, &a_id, "result delivered", |items| {
        items
            .iter()
            .any(|s| s["leg"] == "result" && s["status"] == "delivered")
    })
    .await;
    // The agent hands each result over; a second hand-over answers the same.
    for id in [&a_id, &b_id] {
        let path = format!("/v1/agent/applications/{id}/handover");
        let handed = json_of(app.post_as(&ma, &path, &json!({})).await, 200).await;
        assert!(handed["agent_filing"]["handed_over_at"].is_string());
        assert_eq!(handed["state"], "completed");
        let again = json_of(app.post_as(&ma, &path, &json!({})).await, 200).await;
        assert_eq!(
            again["agent_filing"]["handed_over_at"],
            handed["agent_filing"]["handed_over_at"]
        );
    }

    // Resident A and the agent were told of every step, each at their own address.
    let told = poll(
        std::time::Duration::from_secs(30),
        std::time::Duration::from_millis(100),
        || async {
            let path = format!("/v1/applications/{a_id}/notifications");
            let list = json_of(app.get_as(&resident_a, &path).await, 200).await;
            let sent = |channel: &str| -> Vec<String> {
                list["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|n| n["channel"] == channel && n["status"] == "sent")
                    .map(|n| n["event"].as_str().unwrap().to_string())
                    .collect()
            };
            let (resident, agent) = (sent("email"), sent("agent"));
            if agent.contains(&"completed".to_string())
                && resident.contains(&"completed".to_string())
            {
                Ok((resident, agent))
            } else {
                Err(list)
            }
        },
    )
    .await
    .unwrap_or_else(|list| panic!("not everyone was told: {list:#}"));
    for event in [
        "submitted",
        "prereview_passed",
        "originals_in_transit",
        "completed",
    ] {
        assert!(
            told.0.iter().any(|e| e == event),
            "resident: {event} in {:?}",
            told.0
        );
        assert!(
            told.1.iter().any(|e| e == event),
            "agent: {event} in {:?}",
            told.1
        );
    }

    // Every agent action is in the audit log, on behalf of the resident.
    let audit = json_of(
        app.get_as(&admin, &format!("/v1/admin/audit?application={a_id}"))
            .await,
        200,
    )
    .await;
    let entries = audit["items"].as_array().unwrap();
    let agent_actions: Vec<&Value> = entries
        .iter()
        .filter(|e| e["actor_name"] == "agent.ma")
        .collect();
    let actions: Vec<&str> = agent_actions
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for wanted in [
        "agent.create",
        "agent.upload_page",
        "agent.issue_code",
        "agent.submit",
        "agent.handover",
    ] {
        assert!(actions.contains(&wanted), "{wanted} in {actions:?}");
    }
    for entry in &agent_actions {
        if entry["outcome"] == "success" {
            assert!(entry["on_behalf_of"].is_string(), "{entry}");
        } else {
            // The refused submit before the resident confirmed is recorded with its reason.
            assert_eq!(entry["action"], "agent.submit", "{entry}");
            assert_eq!(entry["detail"], "authorization_required", "{entry}");
        }
    }
    // The dashboard counts the filings per service point, for the departments one reads.
    let counted = json_of(app.get_as(&reviewer, "/v1/stats/service-points").await, 200).await;
    assert_eq!(counted["total"], 2, "{counted}");
    assert_eq!(counted["items"][0]["code"], "longwangba");
    assert_eq!(counted["items"][0]["filings"], 2);
    let elsewhere = staff_token(&app, "social.rev", "reviewer", SOCIAL).await;
    let none = json_of(
        app.get_as(&elsewhere, "/v1/stats/service-points").await,
        200,
    )
    .await;
    assert_eq!(none["items"], json!([]));

    // Since the resident confirmed, their own account is the one acted for.
    let accepted = entries
        .iter()
        .find(|e| e["action"] == "authorization.accept")
        .expect("the resident's acceptance is audited");
    let resident_id = accepted["actor_id"].clone();
    let submitted = entries
        .iter()
        .find(|e| e["action"] == "agent.submit")
        .unwrap();
    assert_eq!(submitted["on_behalf_of"], resident_id);
}

#[tokio::test]
async fn agents_see_their_own_points_cases_and_citizens_only_their_own() {
    let app = quick_app().await;
    let admin = staff_token(&app, "sp.admin2", "admin", "").await;
    let here = service_point(&app, &admin, "point-here").await;
    let there = service_point(&app, &admin, "point-there").await;
    let ma = agent(&app, &admin, "agent.here", &here).await;
    let other = agent(&app, &admin, "agent.there", &there).await;
    let a = file_for(&app, &ma, ELDERLY_CARD, "李秀英", "mini_program").await;
    let b = file_for(&app, &ma, ELDERLY_CARD, "王德福", "mini_program").await;
    let (a_id, b_id) = (id_of(&a), id_of(&b));

    // Another point's agent: 404 on read and write, an empty list.
    for path in [
        format!("/v1/agent/applications/{a_id}"),
        format!("/v1/agent/applications/{a_id}/events"),
    ] {
        assert_problem(
            app.get_as(&other, &path).await,
            404,
            "application_not_found",
        )
        .await;
    }
    assert_problem(
        agent_submit(&app, &other, &a_id).await,
        404,
        "application_not_found",
    )
    .await;
    assert_problem(
        agent_upload(&app, &other, &a_id, "id-card", 1).await,
        404,
        "application_not_found",
    )
    .await;
    let listed = json_of(app.get_as(&other, "/v1/agent/applications").await, 200).await;
    assert_eq!(listed["items"], json!([]));

    // Two residents of one agent: each sees their own case only.
    let resident_a = app.citizen_token("resident-a2").await;
    let resident_b = app.citizen_token("resident-b2").await;
    let code_a = code_for(&app, &ma, &a_id).await;
    let code_b = code_for(&app, &ma, &b_id).await;
    json_of(accept(&app, &resident_a, &code_a).await, 200).await;
    json_of(accept(&app, &resident_b, &code_b).await, 200).await;
    assert_problem(
        app.get_as(&resident_a, &format!("/v1/applications/{b_id}"))
            .await,
        404,
        "application_not_found",
    )
    .await;
    json_of(
        app.get_as(&resident_b, &format!("/v1/applications/{b_id}"))
            .await,
        200,
    )
    .await;

    // Staff of other roles, and citizens, are not agents.
    let reviewer = staff_token(&app, "rev.x", "reviewer", CIVIL).await;
    assert_problem(
        app.get_as(&reviewer, "/v1/agent/applications").await,
        403,
        "role_required",
    )
    .await;
    assert_problem(
        app.get_as(&resident_a, "/v1/agent/applications").await,
        403,
        "staff_only",
    )
    .await;
    // A point files only its departments' items.
    let body = json!({
        "matter_code": SOCIAL_CARD,
        "resident": {"name": "赵四", "phone": "13700137000"},
        "authorization": "mini_program",
    });
    assert_problem(
        app.post_as(&ma, "/v1/agent/applications", &body).await,
        422,
        "matter_not_at_service_point",
    )
    .await;
}

#[tokio::test]
async fn codes_are_single_use_short_lived_and_rate_limited_and_a_revocation_stops_the_agent() {
    let app = quick_app().await;
    let admin = staff_token(&app, "sp.admin3", "admin", "").await;
    let point = service_point(&app, &admin, "point-codes").await;
    let ma = agent(&app, &admin, "agent.codes", &point).await;
    let case = file_for(&app, &ma, ELDERLY_CARD, "李秀英", "mini_program").await;
    let id = id_of(&case);
    fill(&app, &ma, &case, 30).await;
    let resident = app.citizen_token("resident-c").await;

    // An expired code is refused like a wrong one.
    let code = code_for(&app, &ma, &id).await;
    app.state
        .clock
        .advance(std::time::Duration::from_secs(11 * 60));
    assert_problem(accept(&app, &resident, &code).await, 404, "code_invalid").await;
    // A new code replaces the old one.
    let first = code_for(&app, &ma, &id).await;
    let second = code_for(&app, &ma, &id).await;
    assert_ne!(first, second);
    assert_problem(accept(&app, &resident, &first).await, 404, "code_invalid").await;

    // Guessing is refused, then slowed to a stop.
    let guesser = app.citizen_token("guesser").await;
    let mut statuses = Vec::new();
    for n in 0..8 {
        let guess = format!("ZZZZZZZ{n}");
        let response = app
            .post_as(
                &guesser,
                "/v1/authorizations/preview",
                &json!({"code": guess}),
            )
            .await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses[..5], [404; 5], "{statuses:?}");
    assert_eq!(statuses[7], 429, "{statuses:?}");

    // The resident accepts, then revokes: the agent can no longer submit, and the case says so.
    json_of(accept(&app, &resident, &second).await, 200).await;
    let revoked = json_of(
        app.post_as(
            &resident,
            &format!("/v1/applications/{id}/authorization/revoke"),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        revoked["agent_filing"]["authorization"]["status"],
        "revoked"
    );
    let refused = assert_problem(
        agent_submit(&app, &ma, &id).await,
        422,
        "authorization_required",
    )
    .await;
    assert!(refused["detail"].as_str().unwrap().contains("revoked"));
    assert_problem(
        agent_upload(&app, &ma, &id, "id-card", 99).await,
        422,
        "authorization_required",
    )
    .await;
    for action in ["authorization/code", "cancel"] {
        let path = format!("/v1/agent/applications/{id}/{action}");
        assert_problem(
            app.post_as(&ma, &path, &json!({})).await,
            422,
            "authorization_required",
        )
        .await;
    }
    // The resident may still go on alone.
    json_of(
        app.post_as(
            &resident,
            &format!("/v1/applications/{id}/submit"),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
}

#[tokio::test]
async fn an_authorization_expires_and_a_disabled_agent_is_out_at_once() {
    let app = quick_app().await;
    let admin = staff_token(&app, "sp.admin4", "admin", "").await;
    let point = service_point(&app, &admin, "point-expiry").await;
    let ma = agent(&app, &admin, "agent.expiry", &point).await;
    let case = file_for(&app, &ma, ELDERLY_CARD, "李秀英", "mini_program").await;
    let id = id_of(&case);
    fill(&app, &ma, &case, 50).await;
    let resident = app.citizen_token("resident-d").await;
    let code = code_for(&app, &ma, &id).await;
    json_of(accept(&app, &resident, &code).await, 200).await;

    // 90 days later the authorization has lapsed: the agent asks the resident again.
    app.state
        .clock
        .advance(std::time::Duration::from_secs(91 * 24 * 3600));
    let refused = assert_problem(
        agent_submit(&app, &ma, &id).await,
        422,
        "authorization_required",
    )
    .await;
    assert!(refused["detail"].as_str().unwrap().contains("expired"));
    let now = agent_case(&app, &ma, &id).await;
    assert_eq!(now["agent_filing"]["authorization"]["status"], "expired");
    let again = code_for(&app, &ma, &id).await;
    // The renewal is the same resident's: nobody else takes the case with it.
    let stranger = app.citizen_token("stranger-d").await;
    assert_problem(accept(&app, &stranger, &again).await, 404, "code_invalid").await;
    json_of(accept(&app, &resident, &again).await, 200).await;
    json_of(agent_submit(&app, &ma, &id).await, 200).await;

    // Disabling the agent ends their token at once.
    let staff = json_of(app.get_as(&admin, "/v1/admin/staff").await, 200).await;
    let member = staff["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["username"] == "agent.expiry")
        .unwrap();
    assert_eq!(member["roles"], json!(["agent"]));
    assert_eq!(member["service_point_id"], point.as_str());
    let disable = format!("/v1/admin/staff/{}/disable", member["id"].as_str().unwrap());
    json_of(app.post_as(&admin, &disable, &json!({})).await, 200).await;
    assert_problem(
        app.get_as(&ma, "/v1/agent/applications").await,
        401,
        "account_disabled",
    )
    .await;
}

#[tokio::test]
async fn an_agent_account_has_one_service_point_and_no_other_role() {
    let app = quick_app().await;
    let admin = staff_token(&app, "sp.admin5", "admin", "").await;
    let point = service_point(&app, &admin, "point-roles").await;
    let new = |roles: Value, departments: Value, point: Option<&str>| {
        json!({
            "username": "agent.bad", "display_name": "x", "password": PASSWORD,
            "roles": roles, "departments": departments, "service_point_id": point,
        })
    };
    for (body, field) in [
        (
            new(json!(["agent", "reviewer"]), json!([]), Some(&point)),
            "roles",
        ),
        (
            new(json!(["agent"]), json!([CIVIL]), Some(&point)),
            "departments",
        ),
        (new(json!(["agent"]), json!([]), None), "service_point_id"),
        (
            new(
                json!(["agent"]),
                json!([]),
                Some("0190f7a0-0000-7000-8000-000000000000"),
            ),
            "service_point_id",
        ),
        (
            new(json!(["reviewer"]), json!([CIVIL]), Some(&point)),
            "service_point_id",
        ),
    ] {
        let problem = assert_problem(
            app.post_as(&admin, "/v1/admin/staff", &body).await,
            422,
            "validation_failed",
        )
        .await;
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{field} in {problem}");
    }
    // Service points: a taken code, an unknown department, a bad phone.
    let taken = json!({"code": "point-roles", "name": "x", "address": point_address("x"),
                       "departments": [CIVIL]});
    assert_problem(
        app.post_as(&admin, "/v1/admin/service-points", &taken)
            .await,
        409,
        "service_point_code_taken",
    )
    .await;
    let mut bad = point_address("x");
    bad["phone"] = json!("123");
    let body = json!({"code": "point-bad", "name": "x", "address": bad,
                      "departments": ["no-such-department"]});
    let problem = assert_problem(
        app.post_as(&admin, "/v1/admin/service-points", &body).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"].as_array().unwrap().len(), 2, "{problem}");
    // Only admins manage service points.
    let reviewer = staff_token(&app, "rev.sp", "reviewer", CIVIL).await;
    assert_problem(
        app.get_as(&reviewer, "/v1/admin/service-points").await,
        403,
        "role_required",
    )
    .await;
    let listed = json_of(app.get_as(&admin, "/v1/admin/service-points").await, 200).await;
    assert_eq!(listed["items"][0]["code"], "point-roles");
}
