//! `/v1/applications/{id}/materials/{code}/pages` (upload path A, wx.uploadFile-compatible),
//! `/v1/applications/{id}/pages/{page_id}` (delete) and `.../pages/order` (reorder).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::Stream;
use poem::error::ParseMultipartError;
use poem::http::header;
use poem::web::Data;
use poem::{Request, RequestBody};
use poem_openapi::error::ContentTypeError;
use poem_openapi::param::Path;
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::applications::receive::FieldSource;
use crate::api::problem::{ApiError, ApiResult, FieldProblem};
use crate::api::security::CitizenAuth;
use crate::domain::text::{self, Lines};
use crate::http::rate_limit::Limit;
use crate::state::AppState;
use crate::storage::ObjectKey;
use crate::store::pages::page;

pub struct PagesApi;

/// A stored page.
#[derive(Debug, Clone, Object)]
pub struct Page {
    pub id: Uuid,
    pub material_code: String,
    /// 1-based position within the material.
    pub index: i32,
    /// As judged from the bytes: `image/jpeg`, `image/png`, `image/heic`, `image/webp` or
    /// `application/pdf`.
    pub content_type: String,
    /// Bytes stored, after metadata removal.
    pub size: i64,
    /// Lower-case hex SHA-256 of the bytes stored.
    pub sha256: String,
    /// Upright pixel size, for photos.
    #[oai(skip_serializing_if_is_none)]
    pub width: Option<i32>,
    #[oai(skip_serializing_if_is_none)]
    pub height: Option<i32>,
    /// The file name the client gave, if any, as sent (one line, no control or bidi
    /// characters). Escape it wherever it is shown (HTML, CSV, a shell): it is the uploader's text.
    #[oai(skip_serializing_if_is_none)]
    pub original_name: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Set when the page came from a document of the citizen's wallet (the same stored object).
    #[oai(skip_serializing_if_is_none)]
    pub document_id: Option<Uuid>,
}

/// A page as the owner sees it, with short-lived links to view it.
#[derive(Debug, Clone, Object)]
pub struct PageWithLinks {
    #[oai(flatten)]
    pub page: Page,
    /// Presigned GET of the page, valid for 5 minutes.
    #[oai(skip_serializing_if_is_none)]
    pub url: Option<String>,
    /// Presigned GET of a ~320 px JPEG thumbnail, valid for 5 minutes (none for HEIC and PDF).
    #[oai(skip_serializing_if_is_none)]
    pub thumbnail_url: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct PageOrder {
    /// Every page of the material, in the new order.
    pub page_ids: Vec<Uuid>,
}

#[derive(Debug, Clone, Object)]
pub struct PageList {
    pub items: Vec<Page>,
}

#[derive(ApiResponse)]
pub enum PageCreated {
    /// The page, cleaned and stored.
    #[oai(status = 201)]
    Created(Json<Page>),
}

#[derive(ApiResponse)]
pub enum PageDeleted {
    #[oai(status = 204)]
    Deleted,
}

/// `multipart/form-data` with the page in the field `file`; other fields are ignored, as
/// `wx.uploadFile` sends its `formData` alongside. Parsed by multer straight from the body's
/// chunks (poem's `Multipart` re-reads the body in 4 KiB pieces), with poem's errors.
pub struct PageForm(multer::Multipart<'static>);

impl PageForm {
    /// The `file` field, skipping any other fields before it. Its file name is kept as sent
    /// (staff see it), so it must be one line without control or bidi characters.
    pub async fn file(mut self) -> Result<multer::Field<'static>, ApiError> {
        while let Some(field) = self.0.next_field().await.map_err(|e| {
            ApiError::bad_request(
                "malformed_multipart",
                format!(
                    "The multipart body could not be read: {}",
                    ParseMultipartError::Multipart(e)
                ),
            )
        })? {
            if field.name() == Some("file") {
                if let Some(name) = field.file_name()
                    && let Err(rule) = text::check(name, Lines::Single)
                {
                    return Err(ApiError::invalid_fields(vec![FieldProblem::new(
                        "file",
                        format!("its file name {rule}"),
                    )]));
                }
                return Ok(field);
            }
        }
        Err(ApiError::bad_request(
            "file_missing",
            "The multipart body has no `file` field.",
        ))
    }
}

impl Payload for PageForm {
    const CONTENT_TYPE: &'static str = "multipart/form-data";

    fn check_content_type(content_type: &str) -> bool {
        content_type.starts_with("multipart/form-data")
    }

    fn schema_ref() -> MetaSchemaRef {
        let mut file = MetaSchema::new_with_format("string", "binary");
        file.description = Some("The page: a JPEG, PNG, HEIC, WebP or PDF file.");
        let mut schema = MetaSchema::new("object");
        schema.required = vec!["file"];
        schema.properties = vec![("file", MetaSchemaRef::Inline(Box::new(file)))];
        MetaSchemaRef::Inline(Box::new(schema))
    }

    fn register(_registry: &mut Registry) {}
}

impl ParsePayload for PageForm {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        // What `poem::web::Multipart::from_request` checks, in its order.
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<mime::Mime>().ok())
            .ok_or(ParseMultipartError::ContentTypeRequired)?;
        if content_type.essence_str() != mime::MULTIPART_FORM_DATA {
            return Err(ParseMultipartError::InvalidContentType(
                content_type.essence_str().to_string(),
            )
            .into());
        }
        let boundary = multer::parse_boundary(content_type.as_ref())
            .map_err(ParseMultipartError::Multipart)?;
        Ok(Self(multer::Multipart::new(
            Metered::new(Box::pin(body.take()?.into_bytes_stream())),
            boundary,
        )))
    }
}

/// The largest piece of the body multer is handed at once.
const MULTER_PIECE: usize = 64 * 1024;

/// Hands multer the body one piece of at most `MULTER_PIECE` bytes per poll. multer copies
/// every chunk that is ready into its own buffer before it answers, and the HTTP server's chunks
/// run to hundreds of KiB: from a fast client on a busy instance it would hold megabytes per
/// upload. This way it holds about one piece, and a slow reader slows the client down instead.
struct Metered<S> {
    inner: S,
    rest: Bytes,
    just_gave: bool,
}

impl<S> Metered<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            rest: Bytes::new(),
            just_gave: false,
        }
    }
}

impl<S: Stream<Item = std::io::Result<Bytes>> + Unpin> Stream for Metered<S> {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if std::mem::take(&mut self.just_gave) {
            // Ends multer's read loop; the task is polled again at once.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if self.rest.is_empty() {
            match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => self.rest = chunk,
                other => return other,
            }
        }
        let take = self.rest.len().min(MULTER_PIECE);
        let piece = self.rest.split_to(take);
        self.just_gave = true;
        Poll::Ready(Some(Ok(piece)))
    }
}

// What poem-openapi's own payloads get from its (private) `impl_apirequest_for_payload!`.
impl<'a> ApiExtractor<'a> for PageForm {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <Self as Payload>::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: <Self as Payload>::CONTENT_TYPE,
                schema: <Self as Payload>::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        match request.content_type() {
            Some(content_type) if Self::check_content_type(content_type) => {
                <Self as ParsePayload>::from_request(request, body).await
            }
            Some(content_type) => Err(ContentTypeError::NotSupported {
                content_type: content_type.to_string(),
            }
            .into()),
            None => Err(ContentTypeError::ExpectContentType.into()),
        }
    }
}

pub const LINK_TTL: Duration = Duration::from_secs(300);

#[OpenApi(tag = "ApiTags::Applications")]
impl PagesApi {
    /// Upload one page of a material (path A). Send the file in the multipart field `file`.
    #[oai(
        path = "/v1/applications/:id/materials/:material_code/pages",
        method = "post"
    )]
    async fn upload(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
        material_code: Path<String>,
        form: PageForm,
    ) -> ApiResult<PageCreated> {
        state.rate_limits.citizen(Limit::PageUploads, auth.0.id)?;
        state.note_upload();
        let db = state.db()?;
        let target = (state.cases)
            .target(db, auth.0.id, id.0, &material_code.0)
            .await?;
        let field = form.file().await?;
        let original_name = field.file_name().map(str::to_string);
        let page = (state.cases)
            .receive_page(db, target, FieldSource(field), original_name)
            .await?;
        Ok(PageCreated::Created(Json(view(&page))))
    }

    /// Remove a page while the application is editable. The material's other pages close up.
    #[oai(path = "/v1/applications/:id/pages/:page_id", method = "delete")]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
        page_id: Path<Uuid>,
    ) -> ApiResult<PageDeleted> {
        (state.cases)
            .delete_page(state.db()?, auth.0.id, id.0, page_id.0)
            .await?;
        Ok(PageDeleted::Deleted)
    }

    /// Put a material's pages in a new order. `page_ids` lists every page of the material once.
    #[oai(
        path = "/v1/applications/:id/materials/:material_code/pages/order",
        method = "put"
    )]
    async fn reorder(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
        material_code: Path<String>,
        body: Json<PageOrder>,
    ) -> ApiResult<Json<PageList>> {
        let reordered = (state.cases)
            .reorder_pages(
                state.db()?,
                auth.0.id,
                id.0,
                &material_code.0,
                &body.page_ids,
            )
            .await?;
        let items = reordered.iter().map(view).collect();
        Ok(Json(PageList { items }))
    }
}

pub fn view(page: &page::Model) -> Page {
    Page {
        id: page.id,
        material_code: page.material_code.clone(),
        index: page.position,
        content_type: page.content_type.clone(),
        size: page.size,
        sha256: page.sha256.clone(),
        width: page.width,
        height: page.height,
        original_name: page.original_name.clone(),
        created_at: page.created_at,
        document_id: page.document_id,
    }
}

/// The page with presigned links; a store that cannot sign leaves them out.
pub async fn with_links(state: &AppState, page: &page::Model) -> PageWithLinks {
    PageWithLinks {
        page: view(page),
        url: link(state, Some(&page.object_key)).await,
        thumbnail_url: link(state, page.thumbnail_key.as_deref()).await,
    }
}

/// A presigned GET of `key` for `LINK_TTL`; none without a key or a store that can sign.
pub async fn link(state: &AppState, key: Option<&str>) -> Option<String> {
    let key = ObjectKey::parse(key?.to_string()).ok()?;
    state
        .store
        .presign_get(&key, LINK_TTL)
        .await
        .ok()
        .map(|p| p.url)
}
