//! The one error shape: RFC 9457 `application/problem+json` with a stable `code` and the request
//! id. Handlers return `ApiError`; `crate::http::problems` turns the framework's own errors into
//! the same shape. A 5xx body never carries internals: the cause goes to the log.

use std::fmt;

use poem::http::{HeaderName, HeaderValue, StatusCode, header};
use poem::{IntoResponse, Response};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, Object};

use crate::http::request_id;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem.
#[derive(Debug, Clone, Object)]
pub struct Problem {
    /// A URI naming the problem kind: `urn:beebox:problem:{code}`.
    #[oai(rename = "type")]
    pub kind: String,
    /// The HTTP status phrase.
    pub title: String,
    pub status: u16,
    /// What went wrong, for a person.
    pub detail: String,
    /// Stable machine-readable code, e.g. `matter_not_found`.
    pub code: String,
    /// The `X-Request-Id` of the request, to quote when asking for help.
    #[oai(skip_serializing_if_is_none)]
    pub request_id: Option<String>,
    /// Field-level problems, when the request had several.
    #[oai(default, skip_serializing_if_is_empty)]
    pub errors: Vec<FieldProblem>,
}

#[derive(Debug, Clone, Object)]
pub struct FieldProblem {
    /// The field or part concerned, e.g. `applicant.phone` or `storage`.
    pub field: String,
    pub message: String,
}

impl FieldProblem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("urn:beebox:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_string(),
            request_id: request_id::current(),
            errors: Vec::new(),
        }
    }

    pub fn into_response_with(self, headers: &[(HeaderName, HeaderValue)]) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = self.to_json_string();
        let mut response = Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, PROBLEM_JSON)
            .body(body);
        for (name, value) in headers {
            response.headers_mut().insert(name.clone(), value.clone());
        }
        response
    }
}

/// An error a handler returns. Build it with the constructors below.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<FieldProblem>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, detail)
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// A 401 with the `WWW-Authenticate` challenge HTTP requires.
    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    /// A 422 naming the fields at fault.
    pub fn invalid_fields(errors: Vec<FieldProblem>) -> Self {
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        let detail = format!("Some fields are invalid: {}.", fields.join(", "));
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            detail,
        )
        .with_errors(errors)
    }

    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail)
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    pub fn gone(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, code, detail)
    }

    pub fn unavailable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, detail)
    }

    /// A 413: a page or file over the size limit.
    pub fn page_too_large(max: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "page_too_large",
            format!("A page may be at most {max} bytes."),
        )
    }

    /// A 500 whose cause is logged under the request id and never shown to the client.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side. Quote the request id when you report it.",
        )
    }

    pub fn with_errors(mut self, errors: Vec<FieldProblem>) -> Self {
        self.errors = errors;
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    fn problem(&self) -> Problem {
        let mut problem = Problem::new(self.status, self.code, self.detail.clone());
        problem.errors = self.errors.clone();
        problem
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for ApiError {}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        self.problem().into_response_with(&self.headers)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.problem().into_response_with(&self.headers)
    }
}

impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        let content = || {
            vec![MetaMediaType {
                content_type: PROBLEM_JSON,
                schema: <Problem as poem_openapi::types::Type>::schema_ref(),
            }]
        };
        MetaResponses {
            responses: vec![
                MetaResponse {
                    description: "A client error, as an RFC 9457 problem with a stable `code`.",
                    status: None,
                    status_range: Some("4XX".into()),
                    content: content(),
                    headers: vec![],
                },
                MetaResponse {
                    description: "A server error, as an RFC 9457 problem.",
                    status: None,
                    status_range: Some("5XX".into()),
                    content: content(),
                    headers: vec![],
                },
            ],
        }
    }

    fn register(registry: &mut Registry) {
        <Problem as poem_openapi::types::Type>::register(registry);
    }
}

/// Start-up has not connected to the database yet: 503, worth a retry in a few seconds.
impl From<crate::store::DatabaseNotReady> for ApiError {
    fn from(_: crate::store::DatabaseNotReady) -> Self {
        Self::unavailable(
            "database_unavailable",
            "The service is starting and its database is not ready yet. Please retry shortly.",
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("5"))
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(error: sea_orm::DbErr) -> Self {
        if crate::store::is_unavailable(&error) {
            tracing::error!(error = %crate::store::describe_error(&error), "database unavailable");
            return Self::unavailable(
                "database_unavailable",
                "The database is unavailable. Please retry shortly.",
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        Self::internal(crate::store::describe_error(&error))
    }
}

/// What the media checks refuse, each with its code.
impl From<crate::media::MediaError> for ApiError {
    fn from(error: crate::media::MediaError) -> Self {
        use crate::media::MediaError;
        let detail = error.to_string();
        match error {
            MediaError::Empty => Self::unprocessable("empty_file", detail),
            MediaError::TooLarge { max, .. } => Self::page_too_large(max),
            MediaError::UnsupportedType => Self::unprocessable(
                "unsupported_file_type",
                "The file is not a JPEG, PNG, HEIC, WebP or PDF (judged by its content, not its name).",
            ),
            MediaError::NotAllowed { .. } => Self::unprocessable("file_type_not_allowed", detail),
            MediaError::Corrupt(_) => Self::unprocessable("corrupt_file", detail),
            MediaError::TooManyPixels { .. } => Self::unprocessable("image_too_large", detail),
            MediaError::Io(e) => crate::storage::StorageError::from(e).into(),
        }
    }
}

impl From<crate::storage::StorageError> for ApiError {
    fn from(error: crate::storage::StorageError) -> Self {
        use crate::storage::StorageError;
        match error {
            StorageError::NotFound => Self::not_found("object_not_found", "No such object."),
            StorageError::InvalidKey(_) => Self::not_found("object_not_found", "No such object."),
            StorageError::Unavailable(reason) => {
                tracing::error!(%reason, "object store unavailable");
                Self::unavailable(
                    "storage_unavailable",
                    "File storage is unavailable. Please retry shortly.",
                )
                .with_header(header::RETRY_AFTER, HeaderValue::from_static("5"))
            }
            StorageError::Io(e) => Self::internal(e),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The workflow's refusals, each with its one status and code: a refused move answers
/// `invalid_state` from every route that can ask for it.
impl From<crate::cases::CaseError> for ApiError {
    fn from(error: crate::cases::CaseError) -> Self {
        use crate::cases::CaseError as E;
        let fields = |issues: Vec<crate::cases::FieldIssue>| -> Vec<FieldProblem> {
            issues
                .into_iter()
                .map(|i| FieldProblem::new(i.field, i.message))
                .collect()
        };
        match error {
            E::NotFound => Self::not_found("application_not_found", "No such application."),
            E::Refused(refused) => Self::conflict(
                "invalid_state",
                format!(
                    "The application is {}: it cannot take `{}` now.",
                    refused.from,
                    refused.action.as_str()
                ),
            ),
            E::WrongState { state, needs } => Self::conflict(
                "invalid_state",
                format!("The application is {state}: this is done while it is {needs}."),
            ),
            E::Concurrent => Self::conflict(
                "concurrent_change",
                "The application changed while this request ran. Reload it and try again.",
            ),
            E::Invalid(issues) => Self::invalid_fields(fields(issues)),
            E::MaterialsIncomplete(issues) => {
                let names: Vec<&str> = issues.iter().map(|p| p.field.as_str()).collect();
                let detail = format!("Some materials are not complete: {}.", names.join(", "));
                Self::unprocessable("materials_incomplete", detail).with_errors(fields(issues))
            }
            E::ClaimRequired => Self::conflict(
                "claim_required",
                "Claim the case first; your claim may have expired.",
            ),
            E::ClaimedByOther => {
                Self::conflict("claimed_by_other", "Another reviewer holds this case.")
            }
            E::AlreadyDecided(outcome) => Self::conflict(
                "already_decided",
                format!("The department already decided this case: {outcome}."),
            ),
            E::PickupNotNeeded => Self::conflict(
                "pickup_not_needed",
                "This item's originals are not posted; it goes to the department directly.",
            ),
            E::PickupAlreadyScheduled => Self::conflict(
                "pickup_already_scheduled",
                "A pickup is already booked; change it with PUT or cancel it with DELETE.",
            ),
            E::PickupInProgress => Self::conflict(
                "pickup_in_progress",
                "The courier has already collected the originals; the pickup can no longer change.",
            ),
            E::PickupNotFound => {
                Self::not_found("pickup_not_found", "This application has no pickup booked.")
            }
            E::DropOffNotOffered => Self::conflict(
                "drop_off_not_offered",
                "This item's originals cannot be left in the box; book a pickup instead.",
            ),
            E::DropOffNotFound => {
                Self::not_found("drop_off_not_found", "This application has no drop-off.")
            }
            E::DropOffCollected => Self::conflict(
                "drop_off_collected",
                "Reception has already taken the envelope from the box.",
            ),
            E::OriginalsNotArrived => Self::conflict(
                "originals_not_arrived",
                "The courier has not delivered the originals to the centre yet.",
            ),
            E::NoDeliveryAddress => Self::conflict(
                "no_delivery_address",
                "The application has no return address and no pickup to post the result to.",
            ),
            E::NoResultToConfirm => Self::conflict(
                "no_result_to_confirm",
                "No result was posted for this application; there is no receipt to confirm.",
            ),
            E::NotEditable(state) => Self::conflict(
                "application_not_editable",
                format!("The application is {state}; its pages can no longer change."),
            ),
            E::MaterialNotReturned(code) => Self::conflict(
                "material_not_returned",
                format!(
                    "Pre-review did not return `{code}`; only the returned materials may change."
                ),
            ),
            E::MaterialNotFound(code) => Self::not_found(
                "material_not_found",
                format!("This service item has no material `{code}`."),
            ),
            E::TooManyPages(detail) => Self::unprocessable("too_many_pages", detail),
            E::PageNotFound => Self::not_found("page_not_found", "No such page."),
            E::PageOrderMismatch => Self::unprocessable(
                "page_order_mismatch",
                "page_ids must list every page of this material exactly once.",
            ),
            E::DuplicatePage => Self::conflict(
                "duplicate_page",
                "This application already has a page with exactly these bytes.",
            ),
            E::PageTooLarge(max) => Self::page_too_large(max),
            E::TooManyResultFiles(max) => Self::unprocessable(
                "too_many_result_files",
                format!("A case holds at most {max} result files; delete one first."),
            ),
            E::DuplicateResultFile => Self::conflict(
                "duplicate_result_file",
                "This case already has a result file with exactly these bytes.",
            ),
            E::ResultFileNotFound => {
                Self::not_found("result_file_not_found", "No such result file.")
            }
            E::Sha256Mismatch => Self::unprocessable(
                "sha256_mismatch",
                "The uploaded bytes do not have the announced SHA-256.",
            ),
            E::UploadInterrupted(cause) => Self::bad_request(
                "upload_interrupted",
                format!("The upload broke off: {cause}"),
            ),
            E::SubmitWithFiling(filing) => Self::conflict(
                "submit_with_filing",
                format!(
                    "This item is part of a bundle: submit it with the others, \
                     POST /v1/filings/{filing}/submit."
                ),
            ),
            E::PickupWithFiling(filing) => Self::conflict(
                "pickup_with_filing",
                format!(
                    "This item's originals go with the other items of its bundle: book, change or \
                     cancel the pickup with /v1/filings/{filing}/pickup."
                ),
            ),
            E::FilingNotReady(issues) => {
                let names: Vec<&str> = issues.iter().map(|p| p.field.as_str()).collect();
                let detail = format!(
                    "One pickup collects every item's originals once all passed pre-review; not yet: {}.",
                    names.join(", ")
                );
                Self::conflict("filing_not_ready", detail).with_errors(fields(issues))
            }
            E::FilingNotFound => Self::not_found("filing_not_found", "No such filing."),
            E::DocumentNotFound => Self::not_found("document_not_found", "No such document."),
            E::DocumentUnusable(why) => document_unusable(why),
            E::AuthorizationRequired(standing) => {
                use crate::domain::agent::Standing;
                let why = match standing {
                    Standing::Pending => "the resident has not confirmed it yet",
                    Standing::Revoked => "the resident revoked it",
                    Standing::Expired => "it has expired; ask the resident to confirm again",
                    Standing::Granted => "it is in order",
                };
                Self::unprocessable(
                    "authorization_required",
                    format!("This needs the resident's authorization of the agent: {why}."),
                )
            }
            E::AuthorizationMethod => Self::conflict(
                "authorization_method",
                "This case is authorized on a signed form: upload it as `power-of-attorney`.",
            ),
            E::AlreadyAuthorized => Self::conflict(
                "already_authorized",
                "The resident has already authorized this case.",
            ),
            E::CodeInvalid => Self::not_found(
                "code_invalid",
                "No such confirmation code: it may be mistyped, used or expired. Ask the agent for a new one.",
            ),
            E::NothingToCollect => Self::conflict(
                "nothing_to_collect",
                "No case of this service point is waiting for its originals to be collected.",
            ),
            E::NotAgentFiled => Self::conflict(
                "not_agent_filed",
                "This application was not filed by an agent; there is no authorization to revoke.",
            ),
            E::CasesInProgress(issues) => Self::conflict(
                "account_has_open_cases",
                "The account can be deleted once none of its cases is with the centre, the \
                 courier or the department; these are still in progress.",
            )
            .with_errors(fields(issues)),
            E::Media(e) => e.into(),
            E::Storage(e) => e.into(),
            E::Store(e) => e.into(),
            E::Internal(cause) => Self::internal(cause),
        }
    }
}

/// Why a wallet document cannot fill a material, one code each.
fn document_unusable(why: crate::domain::document::Unusable) -> ApiError {
    use crate::domain::document::{DocumentState, Unusable};
    let (code, detail) = match why {
        Unusable::NotAccepted => (
            "reuse_not_accepted",
            "This material takes fresh pages only: upload them.",
        ),
        Unusable::TypeMismatch => (
            "document_type_mismatch",
            "This document is not of the type this material asks for.",
        ),
        Unusable::Ended(DocumentState::Withdrawn) => (
            "document_withdrawn",
            "You withdrew this document from your wallet.",
        ),
        Unusable::Ended(DocumentState::Invalidated) => (
            "document_invalidated",
            "A reviewer found this document unusable; upload fresh pages.",
        ),
        Unusable::Ended(_) => (
            "document_replaced",
            "A later verification replaced this document; use the newer one.",
        ),
        Unusable::Expired => (
            "document_expired",
            "This document is no longer valid for this material: upload fresh pages.",
        ),
    };
    ApiError::unprocessable(code, detail)
}
