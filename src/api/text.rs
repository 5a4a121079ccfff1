//! `MultiLine`: a request field a person writes across lines (a note, a reason). The contract
//! marks it `format: multi-line`; every other string field of a request body is one line.
//! `crate::http::text_input` reads that mark and checks each field at the edge, naming it; the
//! type also refuses bad text itself, so it holds only what `domain::text` allows.

use std::borrow::Cow;
use std::ops::Deref;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

use crate::domain::text::{self, Lines};

/// The OpenAPI `format` of multi-line text.
pub const MULTI_LINE_FORMAT: &str = "multi-line";

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct MultiLine(String);

impl MultiLine {
    pub fn parse(text: String) -> Result<Self, &'static str> {
        text::check(&text, Lines::Multi)?;
        Ok(Self(text))
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl Deref for MultiLine {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for MultiLine {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for MultiLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<MultiLine> for String {
    fn from(text: MultiLine) -> Self {
        text.0
    }
}

impl Type for MultiLine {
    const IS_REQUIRED: bool = true;
    // The raw value is the string, so `max_length` and friends apply as to a `String`.
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        format!("string_{MULTI_LINE_FORMAT}").into()
    }

    fn schema_ref() -> MetaSchemaRef {
        let mut schema = MetaSchema::new_with_format("string", MULTI_LINE_FORMAT);
        schema.description = Some(
            "Text that may span lines: tab and line breaks allowed, other control characters and bidi controls refused.",
        );
        MetaSchemaRef::Inline(Box::new(schema))
    }

    fn as_raw_value(&self) -> Option<&String> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
        Box::new(std::iter::once(&self.0))
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl ParseFromJSON for MultiLine {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(text) => Self::parse(text).map_err(ParseError::custom),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for MultiLine {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}
