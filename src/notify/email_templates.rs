//! The texts of our emails: `templates/email/NAME.txt`, compiled into the binary and rendered
//! with minijinja. Each file is `Subject: ...`, a blank line, then the plain-text body.
//! Rendering never escapes (these are not HTML) and a missing field renders as empty, never as
//! an error: a notification with a gap beats one that is never sent.

use std::sync::LazyLock;

use anyhow::{Context as _, anyhow, bail};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

pub struct RenderedEmail {
    pub subject: String,
    pub body: String,
}

/// One list of names gives both the public `TEMPLATE_NAMES` and the compiled-in sources, so a
/// name can never lack its file.
macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        /// Every template name, for a test that renders each with a sample context.
        pub const TEMPLATE_NAMES: &[&str] = &[$($name),*];

        const SOURCES: &[(&str, &str)] = &[
            $(($name, include_str!(concat!("../../templates/email/", $name, ".txt")))),*
        ];
    };
}

templates!(
    "citizen_submitted",
    "citizen_returned",
    "citizen_rejected",
    "citizen_prereview_passed",
    "citizen_originals_in_transit",
    "citizen_received",
    "citizen_refused",
    "citizen_result_in_delivery",
    "citizen_completed",
    "citizen_drop_off_reminder",
    "staff_digest",
    "staff_sla_overdue",
    "admin_dead_job",
);

/// Built on first use; a template that does not parse makes every render an error (and the
/// unit tests below fail), rather than a panic in the worker.
static ENVIRONMENT: LazyLock<Result<Environment<'static>, String>> =
    LazyLock::new(build_environment);

/// Renders template `name` with `context`; an unknown name or a template error is an Err.
pub fn render(name: &str, context: &serde_json::Value) -> anyhow::Result<RenderedEmail> {
    let env = ENVIRONMENT
        .as_ref()
        .map_err(|e| anyhow!("the email templates do not compile: {e}"))?;
    if !TEMPLATE_NAMES.contains(&name) {
        bail!("there is no email template named {name:?}");
    }
    let render_part = |part: &str| -> anyhow::Result<String> {
        env.get_template(&format!("{name}/{part}"))
            .and_then(|t| t.render(context))
            .with_context(|| format!("rendering the {part} of email template {name}"))
    };
    // A value with a line break must not split the subject (it is a single header line).
    let subject = render_part("subject")?
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if subject.is_empty() {
        bail!("email template {name} rendered an empty subject");
    }
    let body = format!("{}\n", render_part("body")?.trim_end());
    Ok(RenderedEmail { subject, body })
}

fn build_environment() -> Result<Environment<'static>, String> {
    let mut env = Environment::new();
    // Chainable: `item.material` on a missing item is empty too, not an error.
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    // Block tags on their own lines leave no blank lines behind.
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    for (name, source) in SOURCES {
        let (subject, body) =
            split_source(source).map_err(|e| format!("templates/email/{name}.txt: {e}"))?;
        env.add_template_owned(format!("{name}/subject"), subject)
            .map_err(|e| format!("templates/email/{name}.txt (subject): {e}"))?;
        env.add_template_owned(format!("{name}/body"), body)
            .map_err(|e| format!("templates/email/{name}.txt (body): {e}"))?;
    }
    Ok(env)
}

/// `Subject: S\n\nBODY` -> (`S`, `BODY`).
fn split_source(source: &'static str) -> Result<(&'static str, &'static str), &'static str> {
    let (first, rest) = source
        .split_once('\n')
        .ok_or("a template is a subject line, a blank line and a body")?;
    let subject = first
        .trim_end_matches('\r')
        .strip_prefix("Subject:")
        .ok_or("the first line must start with `Subject:`")?
        .trim();
    let body = rest
        .strip_prefix("\r\n")
        .or_else(|| rest.strip_prefix('\n'))
        .ok_or("the subject line must be followed by a blank line")?;
    Ok((subject, body))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn sample(name: &str) -> Value {
        let items = json!([
            {"application_no": "BB20261128-0001", "matter_name": "居住证办理", "submitted_at": "2026-11-28 09:12", "due_at": "2026-11-30 09:12"},
            {"application_no": "BB20261128-0002", "matter_name": "新生儿落户", "submitted_at": "2026-11-28 10:40", "due_at": "2026-11-30 10:40"},
        ]);
        match name {
            "staff_digest" => json!({
                "department": "户政科", "count": 2, "since": "2026-11-28 09:00", "items": items,
            }),
            "staff_sla_overdue" => json!({"department": "户政科", "items": items}),
            "admin_dead_job" => json!({
                "job_id": "0192f0a0-7c1e-7000-8000-000000000001", "kind": "send_email",
                "attempts": 8, "last_error": "mail not sent yet: Connection error",
                "retry_hint": "检查 SMTP 服务器是否可达",
            }),
            _ => json!({
                "applicant_name": "张三", "matter_name": "居住证办理",
                "application_no": "BB20261128-0001", "status": "已退回",
                "time": "2026-11-28 14:30", "reason": "材料不清晰",
                "drop_code": "K7M2-9QX0", "drop_place": "一楼自助服务区投递箱",
                "drop_emptied_at": "09:30、15:30",
                "reasons": [
                    {"material": "身份证正面", "reason": "照片模糊，请重新拍摄"},
                    {"material": "租房合同", "reason": "缺少签字页"},
                ],
            }),
        }
    }

    #[test]
    fn every_template_renders_a_one_line_subject_and_keeps_the_chinese() {
        for name in TEMPLATE_NAMES {
            let email = render(name, &sample(name)).unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert!(!email.subject.is_empty(), "{name}");
            assert!(!email.subject.contains('\n'), "{name}: {}", email.subject);
            assert!(!email.body.trim().is_empty(), "{name}");
            assert!(!email.body.contains("{{"), "{name}: {}", email.body);
            assert!(!email.body.contains("{%"), "{name}: {}", email.body);
            let context = sample(name);
            let marker = ["matter_name", "department", "job_id"]
                .iter()
                .find_map(|k| context[k].as_str())
                .unwrap();
            assert!(email.subject.contains(marker), "{name}: {}", email.subject);
            assert!(email.body.contains(marker), "{name}: {}", email.body);
        }
    }

    #[test]
    fn every_template_survives_an_empty_context() {
        for name in TEMPLATE_NAMES {
            for context in [json!({}), json!({"reasons": [], "reason": "", "items": []})] {
                let email = render(name, &context)
                    .unwrap_or_else(|e| panic!("{name} with {context}: {e:#}"));
                assert!(!email.subject.is_empty(), "{name}");
                assert!(!email.body.contains("undefined"), "{name}: {}", email.body);
            }
        }
    }

    #[test]
    fn returned_lists_every_material_and_says_to_resubmit() {
        let email = render("citizen_returned", &sample("citizen_returned")).unwrap();
        assert!(
            email.body.contains("1. 身份证正面：照片模糊，请重新拍摄"),
            "{}",
            email.body
        );
        assert!(
            email.body.contains("2. 租房合同：缺少签字页"),
            "{}",
            email.body
        );
        assert!(email.body.contains("重新提交"));
        assert!(email.body.contains("小程序"));
        assert!(email.body.starts_with("张三，您好："));
    }

    #[test]
    fn rejected_gives_the_reason_and_prereview_passed_mentions_the_courier() {
        let rejected = render("citizen_rejected", &sample("citizen_rejected")).unwrap();
        assert!(
            rejected.body.contains("原因：材料不清晰"),
            "{}",
            rejected.body
        );
        let passed = render("citizen_prereview_passed", &sample("x")).unwrap();
        assert!(passed.body.contains("上门收件"), "{}", passed.body);
        let submitted = render("citizen_submitted", &sample("x")).unwrap();
        assert!(submitted.body.contains("预审"), "{}", submitted.body);
    }

    #[test]
    fn the_drop_off_reminder_gives_the_code_the_box_and_the_way_out() {
        let name = "citizen_drop_off_reminder";
        let email = render(name, &sample(name)).unwrap();
        assert!(email.subject.contains("K7M2-9QX0"), "{}", email.subject);
        assert!(email.body.contains("投递码：K7M2-9QX0"), "{}", email.body);
        assert!(email.body.contains("投递地点：一楼自助服务区投递箱"));
        assert!(email.body.contains("开箱时间：每日 09:30、15:30"));
        assert!(email.body.contains("取消投递"), "{}", email.body);
    }

    #[test]
    fn an_empty_name_falls_back_to_a_polite_greeting() {
        let mut context = sample("citizen_submitted");
        context["applicant_name"] = json!("");
        let email = render("citizen_submitted", &context).unwrap();
        assert!(email.body.starts_with("申请人，您好："), "{}", email.body);
    }

    #[test]
    fn staff_and_admin_texts_carry_their_numbers() {
        let digest = render("staff_digest", &sample("staff_digest")).unwrap();
        assert!(digest.subject.contains("2 件"), "{}", digest.subject);
        assert!(digest.body.contains("BB20261128-0002"));
        assert!(digest.body.contains("2026-11-30 10:40"));
        let overdue = render("staff_sla_overdue", &sample("staff_sla_overdue")).unwrap();
        assert!(overdue.subject.contains("2 件"), "{}", overdue.subject);
        let dead = render("admin_dead_job", &sample("admin_dead_job")).unwrap();
        assert!(dead.body.contains("尝试 8 次"), "{}", dead.body);
        assert!(
            dead.body
                .contains("POST /v1/admin/jobs/0192f0a0-7c1e-7000-8000-000000000001/retry")
        );
    }

    #[test]
    fn a_line_break_in_a_value_does_not_split_the_subject() {
        let mut context = sample("citizen_submitted");
        context["matter_name"] = json!("居住证\r\nBcc: x@example.com");
        let email = render("citizen_submitted", &context).unwrap();
        assert!(!email.subject.contains('\n') && !email.subject.contains('\r'));
    }

    #[test]
    fn an_unknown_template_is_an_error() {
        assert!(render("no_such_template", &json!({})).is_err());
    }

    #[test]
    fn every_file_in_templates_email_is_listed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/email");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut listed: Vec<String> = TEMPLATE_NAMES.iter().map(|n| format!("{n}.txt")).collect();
        listed.sort();
        assert_eq!(files, listed);
    }
}
