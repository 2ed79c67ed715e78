//! The portal's object types (HubSpot's standard ones and the seeded custom object) and the
//! association types between them, with HubSpot's ids, names and modified-date properties.

/// One object type as the APIs name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectType {
    /// The plural API name (`contacts`, `line_items`, or a custom object's name).
    pub name: String,
    /// `0-1` for contacts, `2-<n>` for a custom object.
    pub type_id: String,
    /// `p<portal>_<name>` for custom objects.
    pub fully_qualified: Option<String>,
    /// The singular label (`Contact`).
    pub singular: String,
    /// `lastmodifieddate` for contacts, `hs_lastmodifieddate` for everything else.
    pub modified: &'static str,
    /// `createdate` or `hs_createdate`.
    pub created: &'static str,
    /// What a list returns when no `properties` are asked for.
    pub defaults: Vec<&'static str>,
    /// The scope a token needs to read it.
    pub scope: &'static str,
}

impl ObjectType {
    pub fn custom(&self) -> bool {
        self.fully_qualified.is_some()
    }

    /// Whether `text` names this type: its name, its id, its qualified name, `p_<name>`,
    /// or, for a standard type, its singular (`contact`, `line_item`), which HubSpot takes
    /// in paths too (Airbyte's connector reads `/crm/v3/objects/contact`).
    pub fn answers_to(&self, text: &str) -> bool {
        text == self.name
            || text == self.type_id
            || self.fully_qualified.as_deref() == Some(text)
            || (self.custom() && text.strip_prefix("p_") == Some(self.name.as_str()))
            || (!self.custom()
                && text.len() == self.singular.len()
                && text == self.singular.to_lowercase().replace(' ', "_"))
    }
}

/// `(name, type id, singular, created property, defaults, scope)` of the standard types.
type Standard = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static str,
);

const ACTIVITY: &[&str] = &["hs_createdate", "hs_lastmodifieddate", "hs_object_id"];

const STANDARD: [Standard; 12] = [
    (
        "contacts",
        "0-1",
        "Contact",
        "createdate",
        &[
            "createdate",
            "email",
            "firstname",
            "hs_object_id",
            "lastmodifieddate",
            "lastname",
        ],
        "crm.objects.contacts.read",
    ),
    (
        "companies",
        "0-2",
        "Company",
        "createdate",
        &[
            "createdate",
            "domain",
            "hs_lastmodifieddate",
            "hs_object_id",
            "name",
        ],
        "crm.objects.companies.read",
    ),
    (
        "deals",
        "0-3",
        "Deal",
        "createdate",
        &[
            "amount",
            "closedate",
            "createdate",
            "dealname",
            "dealstage",
            "hs_lastmodifieddate",
            "hs_object_id",
            "pipeline",
        ],
        "crm.objects.deals.read",
    ),
    (
        "tickets",
        "0-5",
        "Ticket",
        "createdate",
        &[
            "content",
            "createdate",
            "hs_lastmodifieddate",
            "hs_object_id",
            "hs_pipeline",
            "hs_pipeline_stage",
            "hs_ticket_category",
            "hs_ticket_priority",
            "subject",
        ],
        "tickets",
    ),
    (
        "products",
        "0-7",
        "Product",
        "createdate",
        &[
            "createdate",
            "description",
            "hs_lastmodifieddate",
            "hs_object_id",
            "name",
            "price",
        ],
        "e-commerce",
    ),
    (
        "line_items",
        "0-8",
        "Line Item",
        "createdate",
        &[
            "amount",
            "createdate",
            "hs_lastmodifieddate",
            "hs_object_id",
            "hs_product_id",
            "name",
            "price",
            "quantity",
        ],
        "e-commerce",
    ),
    (
        "quotes",
        "0-14",
        "Quote",
        "hs_createdate",
        &[
            "hs_createdate",
            "hs_expiration_date",
            "hs_lastmodifieddate",
            "hs_object_id",
            "hs_public_url_key",
            "hs_status",
            "hs_title",
        ],
        "crm.objects.quotes.read",
    ),
    (
        "calls",
        "0-48",
        "Call",
        "hs_createdate",
        ACTIVITY,
        "crm.objects.contacts.read",
    ),
    (
        "emails",
        "0-49",
        "Email",
        "hs_createdate",
        ACTIVITY,
        "crm.objects.contacts.read",
    ),
    (
        "meetings",
        "0-47",
        "Meeting",
        "hs_createdate",
        ACTIVITY,
        "crm.objects.contacts.read",
    ),
    (
        "notes",
        "0-46",
        "Note",
        "hs_createdate",
        ACTIVITY,
        "crm.objects.contacts.read",
    ),
    (
        "tasks",
        "0-27",
        "Task",
        "hs_createdate",
        ACTIVITY,
        "crm.objects.contacts.read",
    ),
];

/// The seeded custom object's name.
pub(crate) const CUSTOM_NAME: &str = "cars";

/// Every type a seeded portal has, standard first, then the custom object.
pub(crate) fn object_types(portal_id: u64) -> Vec<ObjectType> {
    let mut types: Vec<ObjectType> = STANDARD
        .iter()
        .map(
            |&(name, type_id, singular, created, defaults, scope)| ObjectType {
                name: name.to_string(),
                type_id: type_id.to_string(),
                fully_qualified: None,
                singular: singular.to_string(),
                modified: if name == "contacts" {
                    "lastmodifieddate"
                } else {
                    "hs_lastmodifieddate"
                },
                created,
                defaults: defaults.to_vec(),
                scope,
            },
        )
        .collect();
    types.push(ObjectType {
        name: CUSTOM_NAME.to_string(),
        type_id: format!("2-{}", 1000 + portal_id % 9000),
        fully_qualified: Some(format!("p{portal_id}_{CUSTOM_NAME}")),
        singular: "Car".to_string(),
        modified: "hs_lastmodifieddate",
        created: "hs_createdate",
        defaults: vec![
            "hs_createdate",
            "hs_lastmodifieddate",
            "hs_object_id",
            "model",
        ],
        scope: "crm.objects.custom.read",
    });
    types
}

/// One association type, in one direction; [`ASSOCIATIONS`] lists both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AssociationKind {
    pub from: &'static str,
    pub to: &'static str,
    pub type_id: u32,
    /// The same association read from the other side.
    pub inverse: u32,
    pub category: &'static str,
    pub label: Option<&'static str>,
    /// Unlabeled kinds are what `associations/default` creates and what the seed uses.
    pub default: bool,
}

const fn kind(
    from: &'static str,
    to: &'static str,
    type_id: u32,
    inverse: u32,
    category: &'static str,
    label: Option<&'static str>,
    default: bool,
) -> AssociationKind {
    AssociationKind {
        from,
        to,
        type_id,
        inverse,
        category,
        label,
        default,
    }
}

const H: &str = "HUBSPOT_DEFINED";
const U: &str = "USER_DEFINED";

/// Forward kinds; [`kinds`] adds each one's inverse. The custom object's pair is named by
/// [`CUSTOM_NAME`].
const ASSOCIATIONS: [AssociationKind; 17] = [
    kind("contacts", "companies", 279, 280, H, None, true),
    kind("contacts", "companies", 1, 2, H, Some("Primary"), false),
    kind(
        "contacts",
        "companies",
        101,
        102,
        U,
        Some("Billing contact"),
        false,
    ),
    kind("deals", "contacts", 3, 4, H, None, true),
    kind("deals", "companies", 341, 342, H, None, true),
    kind("deals", "companies", 5, 6, H, Some("Primary"), false),
    kind("tickets", "contacts", 16, 15, H, None, true),
    kind("tickets", "companies", 339, 340, H, None, true),
    kind("deals", "line_items", 19, 20, H, None, true),
    kind("quotes", "deals", 64, 63, H, None, true),
    kind("line_items", "products", 851, 852, H, None, true),
    kind("calls", "contacts", 194, 193, H, None, true),
    kind("emails", "contacts", 198, 197, H, None, true),
    kind("meetings", "contacts", 200, 199, H, None, true),
    kind("notes", "contacts", 202, 201, H, None, true),
    kind("tasks", "contacts", 204, 203, H, None, true),
    kind(CUSTOM_NAME, "contacts", 110, 111, U, None, true),
];

/// Every association kind in both directions.
pub(crate) fn kinds() -> Vec<AssociationKind> {
    ASSOCIATIONS
        .iter()
        .flat_map(|k| {
            [
                *k,
                AssociationKind {
                    from: k.to,
                    to: k.from,
                    type_id: k.inverse,
                    inverse: k.type_id,
                    ..*k
                },
            ]
        })
        .collect()
}

/// The kind with this id between these types.
pub(crate) fn kind_of(from: &str, to: &str, type_id: u32) -> Option<AssociationKind> {
    kinds()
        .into_iter()
        .find(|k| k.from == from && k.to == to && k.type_id == type_id)
}

/// The unlabeled kind between two types, if they can be associated at all.
pub(crate) fn default_kind(from: &str, to: &str) -> Option<AssociationKind> {
    kinds()
        .into_iter()
        .find(|k| k.from == from && k.to == to && k.default)
}

/// HubSpot's name for one direction, e.g. `contact_to_company` (v3 inline associations).
pub(crate) fn v3_type_name(from: &ObjectType, to: &ObjectType) -> String {
    let single = |t: &ObjectType| t.singular.to_lowercase().replace(' ', "_");
    format!("{}_to_{}", single(from), single(to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_inverse_and_ids_are_unique_per_pair() {
        let all = kinds();
        for k in &all {
            let back = kind_of(k.to, k.from, k.inverse).expect("inverse exists");
            assert_eq!(back.inverse, k.type_id);
            let same = all
                .iter()
                .filter(|o| o.from == k.from && o.to == k.to && o.type_id == k.type_id)
                .count();
            assert_eq!(same, 1, "{k:?}");
        }
        let types = object_types(62515);
        assert!(types.iter().any(|t| t.answers_to("p_cars")));
        assert!(types.iter().any(|t| t.answers_to("p62515_cars")));
        assert!(types
            .iter()
            .any(|t| t.answers_to("0-1") && t.name == "contacts"));
    }
}
