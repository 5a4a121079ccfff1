//! Pages: upload path A (multipart through the service), path B (presigned PUT + complete),
//! what every page goes through, deleting, reordering and submitting.

mod checks;
mod direct;
mod flow;
mod on_s3;
