//! A multipart file field as the bytes `cases::intake` checks and cleans while they arrive
//! (pages on path A, the department's result files).

use bytes::Bytes;

use crate::cases::CaseError;
use crate::cases::intake::clean::ByteSource;

/// The file field of a multipart form.
pub struct FieldSource(pub multer::Field<'static>);

impl ByteSource for FieldSource {
    async fn chunk(&mut self) -> Result<Option<Bytes>, CaseError> {
        self.0
            .chunk()
            .await
            .map_err(|e| CaseError::UploadInterrupted(e.to_string()))
    }
}
