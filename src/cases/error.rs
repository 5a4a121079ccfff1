//! What the case workflow refuses, as one type. `api::problem` maps each variant to its HTTP
//! status and stable `code` in one place, so a refusal reads the same from every route.

use crate::domain::application::{ApplicationState, TransitionRefused};

/// A field of the request that the workflow found at fault (the API names it in `errors`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldIssue {
    pub field: String,
    pub message: String,
}

impl FieldIssue {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// No such application, or not one this actor may see: the same answer for both.
    #[error("no such application")]
    NotFound,
    /// The state machine does not take this action from the case's state.
    #[error(transparent)]
    Refused(#[from] TransitionRefused),
    /// The case is not in the state an action on it needs (an action that moves nothing, such
    /// as attaching a result file or claiming): refused like a move.
    #[error("the application is {state}; this needs it {needs}")]
    WrongState {
        state: ApplicationState,
        needs: ApplicationState,
    },
    /// Someone else changed the case between our read and our write.
    #[error("the application changed while this request ran")]
    Concurrent,
    /// Fields of the request that do not fit the case.
    #[error("some fields are invalid")]
    Invalid(Vec<FieldIssue>),
    /// Required materials without enough pages, at submission.
    #[error("some materials are not complete")]
    MaterialsIncomplete(Vec<FieldIssue>),
    /// A reviewer decides only on a case they hold a live claim on.
    #[error("claim the case first")]
    ClaimRequired,
    /// Another reviewer holds the case.
    #[error("another reviewer holds this case")]
    ClaimedByOther,
    /// The department decided already, differently.
    #[error("the department already decided this case: {0}")]
    AlreadyDecided(String),
    /// The item's originals are not posted.
    #[error("this item's originals are not posted")]
    PickupNotNeeded,
    /// A different pickup is booked already.
    #[error("a pickup is already booked")]
    PickupAlreadyScheduled,
    /// The courier collected the originals: the pickup can no longer change.
    #[error("the courier has already collected the originals")]
    PickupInProgress,
    /// No pickup is booked.
    #[error("this application has no pickup booked")]
    PickupNotFound,
    /// The item does not take its originals in the box.
    #[error("this item's originals cannot be left in the box")]
    DropOffNotOffered,
    /// No drop-off was chosen (or it was taken back).
    #[error("this application has no drop-off")]
    DropOffNotFound,
    /// The box was emptied and the envelope found: the drop-off can no longer change.
    #[error("the envelope was already taken from the box")]
    DropOffCollected,
    /// The originals are on their way but the courier has not delivered them yet.
    #[error("the courier has not delivered the originals yet")]
    OriginalsNotArrived,
    /// A result leg needs somewhere to go.
    #[error("no return address and no pickup address to post the result to")]
    NoDeliveryAddress,
    /// Receipt is confirmed only of a result that was posted.
    #[error("no posted result to confirm")]
    NoResultToConfirm,
    /// Pages change only while the application is a draft or returned.
    #[error("the application is {0}; its pages can no longer change")]
    NotEditable(ApplicationState),
    /// A returned application changes only the materials its reasons name.
    #[error("pre-review did not return `{0}`")]
    MaterialNotReturned(String),
    #[error("this service item has no material `{0}`")]
    MaterialNotFound(String),
    /// The material or the application is full; says which.
    #[error("{0}")]
    TooManyPages(String),
    #[error("no such page")]
    PageNotFound,
    /// A new order must list each of the material's pages once.
    #[error("the new order does not list each page of the material once")]
    PageOrderMismatch,
    /// The application has a page with exactly these bytes.
    #[error("a page with exactly these bytes exists")]
    DuplicatePage,
    /// A page over the size limit (bytes).
    #[error("a page may be at most {0} bytes")]
    PageTooLarge(u64),
    /// A case holds at most this many result files.
    #[error("a case holds at most {0} result files")]
    TooManyResultFiles(usize),
    #[error("a result file with exactly these bytes exists")]
    DuplicateResultFile,
    #[error("no such result file")]
    ResultFileNotFound,
    /// The client's upload broke off.
    #[error("the upload broke off: {0}")]
    UploadInterrupted(String),
    /// A direct upload's bytes are not the ones its ticket announced.
    #[error("the uploaded bytes do not have the announced SHA-256")]
    Sha256Mismatch,
    /// A draft item of a bundle is submitted with its filing, not alone.
    #[error("submit this item with its filing {0}")]
    SubmitWithFiling(uuid::Uuid),
    /// A bundle's items book their pickup together, with the filing.
    #[error("book this item's pickup with its filing {0}")]
    PickupWithFiling(uuid::Uuid),
    /// Some of the filing's items that post originals have not passed pre-review yet.
    #[error("some items are not ready for the pickup")]
    FilingNotReady(Vec<FieldIssue>),
    /// No such bundle filing of this citizen.
    #[error("no such filing")]
    FilingNotFound,
    /// No such document in the citizen's wallet, or not one this actor may use.
    #[error("no such document")]
    DocumentNotFound,
    /// The document cannot fill this material, and why.
    #[error("this document cannot fill the material: {0:?}")]
    DocumentUnusable(crate::domain::document::Unusable),
    /// The resident has not authorized the agent (yet, or any more): pending, revoked or
    /// expired.
    #[error("the resident's authorization is {}", .0.as_str())]
    AuthorizationRequired(crate::domain::agent::Standing),
    /// A confirmation code is for a case the resident confirms in the mini-program.
    #[error("this case is authorized on a signed form")]
    AuthorizationMethod,
    /// The resident has confirmed already.
    #[error("the resident has already authorized this case")]
    AlreadyAuthorized,
    /// A confirmation code that is wrong, used or expired: all alike.
    #[error("no such confirmation code")]
    CodeInvalid,
    /// No case of the service point is waiting for its originals to be collected.
    #[error("nothing to collect")]
    NothingToCollect,
    /// The case was not filed by an agent: there is no authorization to revoke.
    #[error("this case was not filed by an agent")]
    NotAgentFiled,
    /// An account is deleted only once none of its cases is with the centre, the courier or
    /// the department: these are (field: the case id, message: its state).
    #[error("some cases are in progress")]
    CasesInProgress(Vec<FieldIssue>),
    /// What the media checks refused.
    #[error(transparent)]
    Media(crate::media::MediaError),
    #[error(transparent)]
    Storage(crate::storage::StorageError),
    #[error(transparent)]
    Store(#[from] sea_orm::DbErr),
    /// A broken invariant (a row the schema promises is missing): a 500, logged.
    #[error("{0}")]
    Internal(String),
}

impl CaseError {
    pub fn refused(from: ApplicationState, action: crate::domain::application::Action) -> Self {
        Self::Refused(TransitionRefused { from, action })
    }
}

pub type CaseResult<T> = Result<T, CaseError>;
