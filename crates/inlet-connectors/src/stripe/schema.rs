//! From a Stripe object to a row: the rules of ARCHITECTURE.md ("The destination schema").
//!
//! * a reference (`customer: "cus_…"`, or the object when expanded) becomes `customer_id`;
//! * a one-level object (`address`) is flattened to `address_city`, `address_line1`, …;
//! * a child list Stripe truncates (`subscription.items`, `invoice.lines`) is left to its
//!   own table;
//! * everything else is kept under its own name, and typed by the column it lands in.
//!
//! The declared columns come from [`super::catalog`]; a field Stripe adds later still
//! arrives (under its flattened name) and gets a column when it first appears.

use std::collections::HashMap;

use inlet_core::{Column, ColumnType, StreamSpec};
use serde_json::{Map, Value};

use super::catalog::STREAMS;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Plain(ColumnType),
    Ref,
}

#[derive(Clone, Debug)]
pub struct Schema {
    pub spec: StreamSpec,
    top: HashMap<String, Kind>,
    /// Flattened objects: their fields' kinds.
    nested: HashMap<String, HashMap<String, Kind>>,
    /// Fields held by another table (`items`, `lines`).
    children: &'static [&'static str],
}

impl Schema {
    /// The schema of `stream`, if the catalog has it.
    pub fn of(stream: &str) -> Option<Schema> {
        let (name, words) = STREAMS.iter().find(|(name, _)| *name == stream)?;
        let mut schema = Schema {
            spec: StreamSpec::new(*name, Vec::new()),
            top: HashMap::new(),
            nested: HashMap::new(),
            children: match stream {
                "subscription" => &["items"],
                "invoice" => &["lines"],
                _ => &[],
            },
        };
        for word in words.split_whitespace() {
            let (path, code) = word.rsplit_once(':')?;
            let kind = match code {
                "r" => Kind::Ref,
                code => Kind::Plain(column_type(code)?),
            };
            let column = match kind {
                Kind::Ref => format!("{}_id", path.replace('.', "_")),
                Kind::Plain(_) => path.replace('.', "_"),
            };
            let ty = match kind {
                Kind::Ref => ColumnType::Text,
                Kind::Plain(ty) => ty,
            };
            schema.spec.columns.push(Column::new(column, ty));
            match path.split_once('.') {
                Some((object, field)) => {
                    let fields = schema.nested.entry(object.to_string()).or_default();
                    fields.insert(field.to_string(), kind);
                }
                None => {
                    schema.top.insert(path.to_string(), kind);
                }
            }
        }
        Some(schema)
    }

    /// The row for `object`: its fields, flattened and renamed by the rules above. The
    /// object is taken, not copied: a page's objects become rows without holding both.
    pub fn row(&self, object: Map<String, Value>) -> Map<String, Value> {
        let mut row = Map::with_capacity(object.len() + 8);
        for (field, value) in object {
            if self.children.contains(&field.as_str()) {
                continue;
            }
            if let Some(Kind::Ref) = self.top.get(&field) {
                row.insert(format!("{field}_id"), reference(value));
                continue;
            }
            match (self.nested.get(&field), value) {
                (Some(kinds), Value::Object(inner)) => {
                    for (key, v) in inner {
                        match kinds.get(&key) {
                            Some(Kind::Ref) => {
                                row.insert(format!("{field}_{key}_id"), reference(v))
                            }
                            _ => row.insert(format!("{field}_{key}"), v),
                        };
                    }
                }
                // An absent one-level object leaves its columns null.
                (Some(_), Value::Null) => {}
                (_, value) => {
                    row.insert(field, value);
                }
            }
        }
        row
    }
}

/// The id a reference holds: the string itself, or the `id` of an expanded object.
fn reference(value: Value) -> Value {
    match value {
        Value::Object(mut o) => o.remove("id").unwrap_or(Value::Null),
        other => other,
    }
}

fn column_type(code: &str) -> Option<ColumnType> {
    Some(match code {
        "t" => ColumnType::Text,
        "i" => ColumnType::Bigint,
        "ts" => ColumnType::Timestamptz,
        "b" => ColumnType::Boolean,
        "n" => ColumnType::Numeric,
        "j" => ColumnType::Jsonb,
        "a" => ColumnType::TextArray,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_stream_in_the_catalog_parses() {
        for (name, words) in STREAMS {
            let schema = Schema::of(name).unwrap_or_else(|| panic!("{name} parses"));
            assert_eq!(schema.spec.columns.len(), words.split_whitespace().count());
        }
    }

    #[test]
    fn references_flatten_and_children_follow_the_rules() {
        let schema = Schema::of("subscription").expect("subscription");
        let sub = json!({
            "id": "sub_1", "object": "subscription", "customer": {"id": "cus_1", "object": "customer"},
            "default_payment_method": "pm_1", "latest_invoice": null,
            "pause_collection": {"behavior": "void", "resumes_at": 1700000000, "new_field": 3},
            "cancellation_details": null, "items": {"object": "list", "data": []},
            "metadata": {"k": "v"}, "brand_new": true
        });
        let row = schema.row(sub.as_object().expect("object").clone());
        assert_eq!(
            Value::Object(row),
            json!({
                "id": "sub_1", "object": "subscription", "customer_id": "cus_1",
                "default_payment_method_id": "pm_1", "latest_invoice_id": null,
                "pause_collection_behavior": "void", "pause_collection_resumes_at": 1700000000,
                "pause_collection_new_field": 3, "metadata": {"k": "v"}, "brand_new": true
            })
        );
        let ty = |name: &str| {
            schema
                .spec
                .columns
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.ty)
        };
        assert_eq!(ty("customer_id"), Some(ColumnType::Text));
        assert_eq!(ty("created"), Some(ColumnType::Timestamptz));
        assert_eq!(
            ty("pause_collection_resumes_at"),
            Some(ColumnType::Timestamptz)
        );
        assert_eq!(ty("metadata"), Some(ColumnType::Jsonb));
        assert_eq!(ty("items"), None, "subscription items have their own table");
    }
}
