//! The console in a real browser: each test runs one Playwright script of `tests/console/`.

use crate::support::browser::run_browser;
use crate::support::quick_app;

#[tokio::test(flavor = "multi_thread")]
async fn a_reviewer_works_the_queue_with_the_keyboard_and_keeps_drafts_through_a_lost_session() {
    let app = quick_app().await;
    run_browser(&app, "review.mjs").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_shows_my_departments_filings_stages_and_returns() {
    let app = quick_app().await;
    run_browser(&app, "dashboard.mjs").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scanned_waybill_that_matches_nothing_says_so_and_changes_nothing() {
    let app = quick_app().await;
    run_browser(&app, "scan.mjs").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_back_office_day_runs_in_the_console() {
    let app = quick_app().await;
    run_browser(&app, "day.mjs").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reviewer_sees_a_reused_document_and_invalidates_it() {
    let app = quick_app().await;
    run_browser(&app, "wallet.mjs").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reviewer_sees_which_bundle_a_case_came_in() {
    let app = quick_app().await;
    run_browser(&app, "bundle.mjs").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reviewer_sees_who_filed_a_case_for_a_resident_and_how_it_was_authorized() {
    let app = quick_app().await;
    run_browser(&app, "agent.mjs").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_registers_a_service_point_and_its_agent() {
    let app = quick_app().await;
    run_browser(&app, "points.mjs").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reception_empties_the_box_and_each_envelope_is_answered_plainly() {
    let app = quick_app().await;
    run_browser(&app, "box.mjs").await;
}
