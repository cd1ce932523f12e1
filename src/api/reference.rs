//! `GET /api/reference`: the API's reference for people, rendered from the same OpenAPI
//! document `/api/openapi.json` serves (read as JSON, so whatever a module documents shows
//! here without a line of this file changing).

use askama::Template;
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

use super::openapi::DOCUMENT;
use crate::web::error::AppError;
use crate::web::layout::Layout;

/// A piece of a type's text: plain, or the name of a schema the page describes below.
pub struct Piece {
    pub text: String,
    pub schema: Option<String>,
}

impl Piece {
    fn text(text: impl Into<String>) -> Piece {
        Piece {
            text: text.into(),
            schema: None,
        }
    }
}

pub struct Param {
    pub name: String,
    pub location: String,
    pub required: bool,
    pub shape: Vec<Piece>,
    pub description: String,
}

pub struct Body {
    pub status: String,
    pub description: String,
    pub content_type: String,
    pub shape: Vec<Piece>,
}

pub struct Operation {
    pub method: String,
    pub path: String,
    pub anchor: String,
    pub summary: String,
    pub description: String,
    pub params: Vec<Param>,
    pub request: Vec<Body>,
    pub responses: Vec<Body>,
}

pub struct Field {
    pub name: String,
    pub required: bool,
    pub shape: Vec<Piece>,
    pub description: String,
}

pub struct SchemaDoc {
    pub name: String,
    pub description: String,
    /// What it is when it is not an object of fields (an enum, a string).
    pub shape: Vec<Piece>,
    /// The schemas whose fields it includes (`allOf`).
    pub includes: Vec<String>,
    pub fields: Vec<Field>,
}

#[derive(Template)]
#[template(path = "api/reference.html")]
pub struct ReferencePage {
    pub layout: Layout,
    pub title: String,
    pub version: String,
    pub description: String,
    pub operations: Vec<Operation>,
    pub schemas: Vec<SchemaDoc>,
}

pub async fn page() -> Response {
    match reference().render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => AppError::from(error).into_response(),
    }
}

fn text(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap_or_default().to_string()
}

/// The page's model, from the document.
pub fn reference() -> ReferencePage {
    let doc = serde_json::to_value(&*DOCUMENT).unwrap_or_default();
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in ["get", "put", "post", "delete", "patch"] {
            let Some(op) = item.get(method) else { continue };
            operations.push(operation(method, path, item, op));
        }
    }
    let schemas = doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, schema)| schema_doc(name, schema))
        .collect();
    ReferencePage {
        layout: Layout::bare("API reference"),
        title: text(&doc["info"], "title"),
        version: text(&doc["info"], "version"),
        description: text(&doc["info"], "description"),
        operations,
        schemas,
    }
}

fn operation(method: &str, path: &str, item: &Value, op: &Value) -> Operation {
    let params = item["parameters"]
        .as_array()
        .into_iter()
        .chain(op["parameters"].as_array())
        .flatten()
        .map(|p| Param {
            name: text(p, "name"),
            location: text(p, "in"),
            required: p["required"].as_bool().unwrap_or(false),
            shape: shape(&p["schema"]),
            description: text(p, "description"),
        })
        .collect();
    let request = bodies("", &op["requestBody"]);
    let responses = op["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(status, response)| bodies(status, response))
        .collect();
    Operation {
        method: method.to_uppercase(),
        path: path.to_string(),
        anchor: format!(
            "{method}{}",
            path.replace(['/', '{', '}'], "-").trim_end_matches('-')
        ),
        summary: text(op, "summary"),
        description: text(op, "description"),
        params,
        request,
        responses,
    }
}

/// A request body or a response: one row per content type, or one without content.
fn bodies(status: &str, body: &Value) -> Vec<Body> {
    if body.is_null() {
        return Vec::new();
    }
    let row = |content_type: &str, schema: &Value| Body {
        status: status.to_string(),
        description: text(body, "description"),
        content_type: content_type.to_string(),
        shape: if schema.is_null() {
            Vec::new()
        } else {
            shape(schema)
        },
    };
    match body["content"].as_object() {
        Some(content) if !content.is_empty() => content
            .iter()
            .map(|(content_type, media)| row(content_type, &media["schema"]))
            .collect(),
        _ => vec![row("", &Value::Null)],
    }
}

fn schema_doc(name: &str, schema: &Value) -> SchemaDoc {
    let mut includes = Vec::new();
    let mut fields = Vec::new();
    let mut parts = vec![schema];
    parts.extend(schema["allOf"].as_array().into_iter().flatten());
    for part in parts {
        if let Some(name) = ref_name(part) {
            includes.push(name);
        }
        let required: Vec<&str> = part["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for (field, field_schema) in part["properties"].as_object().into_iter().flatten() {
            fields.push(Field {
                name: field.clone(),
                required: required.contains(&field.as_str()),
                shape: shape(field_schema),
                description: text(field_schema, "description"),
            });
        }
    }
    let is_object = schema.get("properties").is_some() || schema.get("allOf").is_some();
    SchemaDoc {
        name: name.to_string(),
        description: text(schema, "description"),
        shape: if is_object { Vec::new() } else { shape(schema) },
        includes,
        fields,
    }
}

fn ref_name(schema: &Value) -> Option<String> {
    schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .map(str::to_string)
}

/// A schema as a short text: its type and format, `or null`, what an array holds, a
/// reference by name, and the constraints a value must meet.
pub fn shape(schema: &Value) -> Vec<Piece> {
    let mut pieces = Vec::new();
    describe(schema, &mut pieces);
    let mut limits = Vec::new();
    for (key, label) in [
        ("minimum", "at least"),
        ("maximum", "at most"),
        ("minLength", "at least"),
        ("maxLength", "at most"),
    ] {
        if let Some(n) = schema.get(key) {
            let unit = if key.ends_with("Length") {
                " characters"
            } else {
                ""
            };
            limits.push(format!("{label} {n}{unit}"));
        }
    }
    if let Some(pattern) = schema["pattern"].as_str() {
        limits.push(format!("matching {pattern}"));
    }
    if !limits.is_empty() {
        pieces.push(Piece::text(format!("; {}", limits.join(", "))));
    }
    pieces
}

fn describe(schema: &Value, pieces: &mut Vec<Piece>) {
    if let Some(name) = ref_name(schema) {
        pieces.push(Piece {
            text: name.clone(),
            schema: Some(name),
        });
        return;
    }
    for (key, joint) in [("oneOf", " or "), ("anyOf", " or "), ("allOf", " and ")] {
        if let Some(alternatives) = schema[key].as_array() {
            // `null` reads best last: "ListRow or null".
            let (nulls, others): (Vec<&Value>, Vec<&Value>) =
                alternatives.iter().partition(|s| s["type"] == "null");
            for (i, alternative) in others.iter().chain(nulls.iter()).enumerate() {
                if i > 0 {
                    pieces.push(Piece::text(joint));
                }
                describe(alternative, pieces);
            }
            return;
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let (nulls, types): (Vec<&str>, Vec<&str>) = types.into_iter().partition(|t| *t == "null");
    if types.is_empty() && nulls.is_empty() {
        pieces.push(Piece::text("any"));
    }
    for (i, t) in types.iter().enumerate() {
        if i > 0 {
            pieces.push(Piece::text(" or "));
        }
        if *t == "array" {
            pieces.push(Piece::text("array of "));
            describe(&schema["items"], pieces);
        } else {
            pieces.push(Piece::text(*t));
        }
    }
    if let Some(format) = schema["format"].as_str() {
        pieces.push(Piece::text(format!(" ({format})")));
    }
    if let Some(values) = schema["enum"].as_array() {
        let names: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        pieces.push(Piece::text(format!(", one of {}", names.join(", "))));
    }
    if !nulls.is_empty() {
        pieces.push(Piece::text(if types.is_empty() {
            "null"
        } else {
            " or null"
        }));
    }
}
