//! Property definitions (what `GET /crm/v3/properties/{objectType}` answers) and the
//! metadata JSON for each. Which properties each type has is in [`super::standard`]; how
//! their values are made is in [`super::values`].

use serde_json::{json, Value};

use super::clock::iso;
use super::values::Gen;

/// One property of one object type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PropertyDef {
    pub name: String,
    pub label: String,
    /// `string`, `number`, `date`, `datetime`, `bool`, `enumeration`, `phone_number`.
    pub kind: String,
    /// `text`, `textarea`, `number`, `date`, `booleancheckbox`, `select`, `radio`,
    /// `checkbox` (multi-select, `;`-joined), `phonenumber`, `calculation_equation`.
    pub field_type: String,
    pub group: String,
    pub description: String,
    /// `(value, label)` for enumerations.
    pub options: Vec<(String, String)>,
    /// How seeded records get a value (or [`Gen::Unset`] for properties made later).
    pub gen: Gen,
    /// Percent of seeded records that have a value.
    pub fill: u8,
    pub hubspot_defined: bool,
    /// Set by HubSpot itself (ids, dates, merged ids): never writable.
    pub read_only: bool,
    pub display_order: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl PropertyDef {
    pub fn new(name: &str, label: &str, kind: &str, field_type: &str, gen: Gen) -> PropertyDef {
        PropertyDef {
            name: name.to_string(),
            label: label.to_string(),
            kind: kind.to_string(),
            field_type: field_type.to_string(),
            group: String::new(),
            description: String::new(),
            options: Vec::new(),
            gen,
            fill: 90,
            hubspot_defined: true,
            read_only: false,
            display_order: -1,
            created_at: 0,
            updated_at: 0,
        }
    }

    pub fn options(mut self, options: &[(&str, &str)]) -> PropertyDef {
        self.options = options
            .iter()
            .map(|(v, l)| (v.to_string(), l.to_string()))
            .collect();
        self
    }

    pub fn fill(mut self, percent: u8) -> PropertyDef {
        self.fill = percent;
        self
    }

    pub fn read_only(mut self) -> PropertyDef {
        self.read_only = true;
        self
    }

    /// Multi-select checkbox values hold several options joined by `;`.
    pub fn multi(&self) -> bool {
        self.kind == "enumeration" && self.field_type == "checkbox"
    }

    /// The `Property` JSON of the properties API.
    pub fn to_json(&self) -> Value {
        let options: Vec<Value> = self
            .options
            .iter()
            .enumerate()
            .map(|(i, (value, label))| {
                json!({"label": label, "value": value, "description": "", "displayOrder": i, "hidden": false})
            })
            .collect();
        json!({
            "updatedAt": iso(self.updated_at),
            "createdAt": iso(self.created_at),
            "name": self.name,
            "label": self.label,
            "type": self.kind,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group,
            "options": options,
            "displayOrder": self.display_order,
            "calculated": false,
            "externalOptions": self.name == "hubspot_owner_id",
            "hasUniqueValue": self.name == "hs_object_id",
            "hidden": false,
            "hubspotDefined": self.hubspot_defined,
            "modificationMetadata": {
                "archivable": !self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only,
            },
            "formField": !self.read_only,
            "dataSensitivity": "non_sensitive",
        })
    }
}

/// The kinds (and field types) filler custom properties cycle through, so a portal with
/// hundreds of properties has every type many times.
const FILLER: [(&str, &str); 9] = [
    ("string", "text"),
    ("number", "number"),
    ("datetime", "date"),
    ("date", "date"),
    ("bool", "booleancheckbox"),
    ("enumeration", "select"),
    ("enumeration", "checkbox"),
    ("string", "textarea"),
    ("phone_number", "phonenumber"),
];

const FILLER_OPTIONS: [(&str, &str); 4] = [
    ("alpha", "Alpha"),
    ("beta", "Beta"),
    ("gamma", "Gamma"),
    ("delta", "Delta"),
];

/// Custom property number `n` (`custom_field_007`), of the `n`-th filler kind.
pub(crate) fn filler(n: usize) -> PropertyDef {
    let (kind, field_type) = FILLER[n % FILLER.len()];
    let mut def = PropertyDef::new(
        &format!("custom_field_{n:03}"),
        &format!("Custom field {n}"),
        kind,
        field_type,
        Gen::for_kind(kind),
    )
    .fill(40);
    def.hubspot_defined = false;
    def.group = "custom_fields".to_string();
    if kind == "enumeration" {
        def = def.options(&FILLER_OPTIONS);
    }
    def
}

/// Checks a definition posted by a test or the control API; the message says what is wrong.
pub(crate) fn validate_kind(kind: &str, field_type: &str) -> Result<(), String> {
    const KINDS: [&str; 7] = [
        "string",
        "number",
        "date",
        "datetime",
        "bool",
        "enumeration",
        "phone_number",
    ];
    const FIELDS: [&str; 12] = [
        "booleancheckbox",
        "calculation_equation",
        "checkbox",
        "date",
        "file",
        "html",
        "number",
        "phonenumber",
        "radio",
        "select",
        "text",
        "textarea",
    ];
    if !KINDS.contains(&kind) {
        return Err(format!(
            "type must be one of {}, not {kind:?}",
            KINDS.join(", ")
        ));
    }
    if !FIELDS.contains(&field_type) {
        return Err(format!(
            "fieldType must be one of {}, not {field_type:?}",
            FIELDS.join(", ")
        ));
    }
    Ok(())
}
