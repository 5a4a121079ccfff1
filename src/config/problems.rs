//! How configuration is refused: every problem found at once, each naming its key and the
//! `BEEBOX_*` variable that sets it. Sections add to one `Problems`; nothing here knows a key.

/// A start-up refusal: every problem found, each naming its key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Malformed(String),
    #[error("{}", list_problems(.0))]
    Invalid(Vec<ConfigProblem>),
}

#[derive(Debug, Clone)]
pub struct ConfigProblem {
    pub key: &'static str,
    pub message: String,
}

/// What the sections' checks found; one validation pass collects into one of these so that an
/// operator sees every problem in one start attempt.
#[derive(Debug, Default)]
pub(super) struct Problems(Vec<ConfigProblem>);

impl Problems {
    pub(super) fn add(&mut self, key: &'static str, message: impl Into<String>) {
        self.0.push(ConfigProblem {
            key,
            message: message.into(),
        });
    }

    pub(super) fn into_result(self) -> Result<(), ConfigError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(self.0))
        }
    }
}

fn list_problems(problems: &[ConfigProblem]) -> String {
    let mut out = format!("configuration refused ({} problem(s)):", problems.len());
    for p in problems {
        out.push_str(&format!(
            "\n  - {} ({}): {}",
            p.key,
            env_name(p.key),
            p.message
        ));
    }
    out
}

/// `storage.s3.bucket` -> `BEEBOX_STORAGE__S3__BUCKET`.
pub fn env_name(key: &str) -> String {
    format!("BEEBOX_{}", key.replace('.', "__").to_uppercase())
}
