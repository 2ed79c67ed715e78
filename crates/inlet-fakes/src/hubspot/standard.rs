//! The properties each object type has in a fresh portal: HubSpot's common ones with their
//! real names and types, the ones HubSpot computes, and (for contacts) enough filler custom
//! properties to reach the portal's configured count.

use super::catalog::ObjectType;
use super::properties::{filler, PropertyDef};
use super::values::Gen;

fn p(name: &str, label: &str, kind: &str, field_type: &str, gen: Gen) -> PropertyDef {
    PropertyDef::new(name, label, kind, field_type, gen)
}

fn text(name: &str, label: &str, gen: Gen) -> PropertyDef {
    p(name, label, "string", "text", gen)
}

fn num(name: &str, label: &str, gen: Gen) -> PropertyDef {
    p(name, label, "number", "number", gen)
}

fn time(name: &str, label: &str) -> PropertyDef {
    p(name, label, "datetime", "date", Gen::Time)
}

fn select(name: &str, label: &str, options: &[(&str, &str)]) -> PropertyDef {
    p(name, label, "enumeration", "select", Gen::Pick).options(options)
}

fn checkbox(name: &str, label: &str, options: &[(&str, &str)]) -> PropertyDef {
    p(name, label, "enumeration", "checkbox", Gen::PickMany).options(options)
}

fn flag(name: &str, label: &str) -> PropertyDef {
    p(name, label, "bool", "booleancheckbox", Gen::Bool)
}

fn owner() -> PropertyDef {
    p(
        "hubspot_owner_id",
        "Owner",
        "enumeration",
        "select",
        Gen::Owner,
    )
}

const LIFECYCLE: [(&str, &str); 8] = [
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
];

const DIRECTION: [(&str, &str); 2] = [("INBOUND", "Inbound"), ("OUTBOUND", "Outbound")];

fn contacts() -> Vec<PropertyDef> {
    vec![
        text("email", "Email", Gen::Email).fill(95),
        text("firstname", "First Name", Gen::FirstName).fill(97),
        text("lastname", "Last Name", Gen::LastName).fill(97),
        p("phone", "Phone Number", "string", "phonenumber", Gen::Phone).fill(60),
        p(
            "mobilephone",
            "Mobile Phone Number",
            "string",
            "phonenumber",
            Gen::Phone,
        )
        .fill(30),
        text("company", "Company Name", Gen::Company).fill(70),
        text("jobtitle", "Job Title", Gen::JobTitle).fill(60),
        text("website", "Website URL", Gen::Url).fill(40),
        text("address", "Street Address", Gen::Words).fill(30),
        text("city", "City", Gen::City).fill(60),
        text("country", "Country/Region", Gen::Country).fill(60),
        text("zip", "Postal Code", Gen::Code).fill(40),
        text("industry", "Industry", Gen::Industry).fill(30),
        select("lifecyclestage", "Lifecycle Stage", &LIFECYCLE).fill(95),
        select(
            "hs_lead_status",
            "Lead Status",
            &[
                ("NEW", "New"),
                ("OPEN", "Open"),
                ("IN_PROGRESS", "In Progress"),
                ("UNQUALIFIED", "Unqualified"),
                ("CONNECTED", "Connected"),
            ],
        )
        .fill(50),
        checkbox(
            "hs_buying_role",
            "Buying Role",
            &[
                ("BUDGET_HOLDER", "Budget Holder"),
                ("CHAMPION", "Champion"),
                ("DECISION_MAKER", "Decision Maker"),
                ("END_USER", "End User"),
                ("INFLUENCER", "Influencer"),
            ],
        )
        .fill(35),
        owner().fill(80),
        flag("hs_email_optout", "Unsubscribed from all email").fill(70),
        flag("hs_is_unworked", "Contact unworked").fill(90),
        num(
            "hs_analytics_num_page_views",
            "Number of Pageviews",
            Gen::Int(0, 400),
        )
        .fill(80),
        num("num_notes", "Number of Sales Activities", Gen::Int(0, 40)).fill(80),
        num("total_revenue", "Total Revenue", Gen::Money(0, 250_000)).fill(25),
        time("hs_analytics_first_timestamp", "Time First Seen").fill(80),
        time("notes_last_updated", "Last Activity Date").fill(60),
        time("recent_conversion_date", "Recent Conversion Date").fill(40),
        p(
            "hs_date_of_birth",
            "Date of birth",
            "date",
            "date",
            Gen::Day,
        )
        .fill(20),
        p("contract_start", "Contract start", "date", "date", Gen::Day).fill(30),
        p(
            "hs_whatsapp_phone_number",
            "WhatsApp Phone Number",
            "phone_number",
            "phonenumber",
            Gen::Phone,
        )
        .fill(15),
        p("message", "Message", "string", "textarea", Gen::Text).fill(25),
        select(
            "hs_language",
            "Preferred language",
            &[
                ("en", "English"),
                ("de", "German"),
                ("fr", "French"),
                ("ja", "Japanese"),
            ],
        )
        .fill(50),
    ]
}

fn companies() -> Vec<PropertyDef> {
    vec![
        text("name", "Company name", Gen::Company).fill(99),
        text("domain", "Company Domain Name", Gen::Domain).fill(90),
        text("industry", "Industry", Gen::Industry).fill(60),
        text("city", "City", Gen::City).fill(70),
        text("country", "Country/Region", Gen::Country).fill(70),
        p("phone", "Phone Number", "string", "phonenumber", Gen::Phone).fill(50),
        num(
            "numberofemployees",
            "Number of Employees",
            Gen::Int(1, 20_000),
        )
        .fill(60),
        num(
            "annualrevenue",
            "Annual Revenue",
            Gen::Money(10_000, 90_000_000),
        )
        .fill(40),
        select("lifecyclestage", "Lifecycle Stage", &LIFECYCLE).fill(90),
        select(
            "type",
            "Type",
            &[
                ("PROSPECT", "Prospect"),
                ("PARTNER", "Partner"),
                ("RESELLER", "Reseller"),
                ("VENDOR", "Vendor"),
                ("OTHER", "Other"),
            ],
        )
        .fill(60),
        owner().fill(80),
        p(
            "description",
            "Description",
            "string",
            "textarea",
            Gen::Text,
        )
        .fill(50),
        flag("is_public", "Is Public").fill(40),
        time("closedate", "Close Date").fill(30),
        num("hs_num_open_deals", "Number of open deals", Gen::Int(0, 12)).fill(90),
    ]
}

fn deals() -> Vec<PropertyDef> {
    vec![
        text("dealname", "Deal Name", Gen::Words).fill(100),
        num("amount", "Amount", Gen::Money(500, 400_000)).fill(85),
        time("closedate", "Close Date").fill(80),
        p(
            "pipeline",
            "Pipeline",
            "enumeration",
            "select",
            Gen::Pipeline,
        )
        .fill(100),
        p(
            "dealstage",
            "Deal Stage",
            "enumeration",
            "radio",
            Gen::Stage,
        )
        .fill(100),
        select(
            "dealtype",
            "Deal Type",
            &[
                ("newbusiness", "New Business"),
                ("existingbusiness", "Existing Business"),
            ],
        )
        .fill(70),
        select(
            "hs_priority",
            "Priority",
            &[("low", "Low"), ("medium", "Medium"), ("high", "High")],
        )
        .fill(60),
        owner().fill(90),
        p(
            "description",
            "Deal Description",
            "string",
            "textarea",
            Gen::Text,
        )
        .fill(40),
        num(
            "hs_deal_stage_probability",
            "Deal Stage Probability",
            Gen::Int(0, 1),
        )
        .fill(100),
        flag("hs_is_closed", "Is Deal Closed?").fill(100),
    ]
}

fn tickets() -> Vec<PropertyDef> {
    vec![
        text("subject", "Ticket name", Gen::Words).fill(100),
        p(
            "content",
            "Ticket description",
            "string",
            "textarea",
            Gen::Text,
        )
        .fill(80),
        p(
            "hs_pipeline",
            "Pipeline",
            "enumeration",
            "select",
            Gen::Pipeline,
        )
        .fill(100),
        p(
            "hs_pipeline_stage",
            "Ticket status",
            "enumeration",
            "select",
            Gen::Stage,
        )
        .fill(100),
        select(
            "hs_ticket_priority",
            "Priority",
            &[
                ("LOW", "Low"),
                ("MEDIUM", "Medium"),
                ("HIGH", "High"),
                ("URGENT", "Urgent"),
            ],
        )
        .fill(80),
        checkbox(
            "hs_ticket_category",
            "Category",
            &[
                ("PRODUCT_ISSUE", "Product issue"),
                ("BILLING_ISSUE", "Billing issue"),
                ("FEATURE_REQUEST", "Feature request"),
                ("GENERAL_INQUIRY", "General inquiry"),
            ],
        )
        .fill(70),
        select(
            "source_type",
            "Source",
            &[
                ("EMAIL", "Email"),
                ("CHAT", "Chat"),
                ("PHONE", "Phone"),
                ("FORM", "Form"),
            ],
        )
        .fill(90),
        owner().fill(70),
        time("closed_date", "Close date").fill(40),
        num(
            "time_to_close",
            "Time to close (HH:mm:ss)",
            Gen::Int(60_000, 900_000_000),
        )
        .fill(40),
    ]
}

fn products() -> Vec<PropertyDef> {
    vec![
        text("name", "Name", Gen::Words).fill(100),
        p(
            "description",
            "Description",
            "string",
            "textarea",
            Gen::Text,
        )
        .fill(70),
        num("price", "Unit price", Gen::Money(5, 5_000)).fill(100),
        text("hs_sku", "SKU", Gen::Code).fill(90),
        num(
            "hs_cost_of_goods_sold",
            "Cost of goods sold",
            Gen::Money(1, 1_000),
        )
        .fill(50),
        select(
            "recurringbillingfrequency",
            "Billing frequency",
            &[
                ("monthly", "Monthly"),
                ("quarterly", "Quarterly"),
                ("annually", "Annually"),
            ],
        )
        .fill(60),
    ]
}

fn line_items() -> Vec<PropertyDef> {
    vec![
        text("name", "Name", Gen::Words).fill(100),
        num("price", "Unit price", Gen::Money(5, 5_000)).fill(100),
        num("quantity", "Quantity", Gen::Int(1, 40)).fill(100),
        num("amount", "Net price", Gen::Money(5, 200_000)).fill(100),
        num("hs_product_id", "Product ID", Gen::Int(1, 1)).fill(0),
        num("discount", "Unit discount", Gen::Money(0, 100)).fill(20),
        text("hs_sku", "SKU", Gen::Code).fill(80),
    ]
}

fn quotes() -> Vec<PropertyDef> {
    vec![
        text("hs_title", "Quote name", Gen::Words).fill(100),
        p(
            "hs_expiration_date",
            "Expiration date",
            "date",
            "date",
            Gen::Day,
        )
        .fill(100),
        select(
            "hs_status",
            "Quote approval status",
            &[
                ("DRAFT", "Draft"),
                ("APPROVAL_NOT_NEEDED", "Approval not needed"),
                ("PENDING_APPROVAL", "Pending approval"),
                ("APPROVED", "Approved"),
                ("REJECTED", "Rejected"),
            ],
        )
        .fill(100),
        text("hs_public_url_key", "Public URL key", Gen::Code).fill(90),
        num("hs_quote_amount", "Quote amount", Gen::Money(100, 300_000)).fill(90),
        select(
            "hs_currency",
            "Currency",
            &[
                ("USD", "US Dollar"),
                ("EUR", "Euro"),
                ("GBP", "British Pound"),
            ],
        )
        .fill(90),
    ]
}

fn activity(name: &str) -> Vec<PropertyDef> {
    let mut props = vec![
        time("hs_timestamp", "Activity date").fill(100),
        owner().fill(80),
    ];
    props.extend(match name {
        "calls" => vec![
            text("hs_call_title", "Call Title", Gen::Words).fill(90),
            p(
                "hs_call_body",
                "Call notes",
                "string",
                "textarea",
                Gen::Text,
            )
            .fill(70),
            num(
                "hs_call_duration",
                "Call duration (ms)",
                Gen::Int(0, 3_600_000),
            )
            .fill(90),
            select("hs_call_direction", "Call direction", &DIRECTION).fill(100),
            select(
                "hs_call_status",
                "Call status",
                &[
                    ("COMPLETED", "Completed"),
                    ("BUSY", "Busy"),
                    ("NO_ANSWER", "No answer"),
                    ("FAILED", "Failed"),
                ],
            )
            .fill(100),
        ],
        "emails" => vec![
            text("hs_email_subject", "Email subject", Gen::Words).fill(95),
            p(
                "hs_email_text",
                "Email body",
                "string",
                "textarea",
                Gen::Text,
            )
            .fill(90),
            select(
                "hs_email_direction",
                "Email direction",
                &[
                    ("EMAIL", "Logged from CRM"),
                    ("INCOMING_EMAIL", "Incoming"),
                    ("FORWARDED_EMAIL", "Forwarded"),
                ],
            )
            .fill(100),
            select(
                "hs_email_status",
                "Email send status",
                &[
                    ("SENT", "Sent"),
                    ("BOUNCED", "Bounced"),
                    ("FAILED", "Failed"),
                ],
            )
            .fill(100),
        ],
        "meetings" => vec![
            text("hs_meeting_title", "Meeting name", Gen::Words).fill(100),
            p(
                "hs_meeting_body",
                "Meeting description",
                "string",
                "textarea",
                Gen::Text,
            )
            .fill(60),
            time("hs_meeting_start_time", "Start time").fill(100),
            time("hs_meeting_end_time", "End time").fill(100),
            select(
                "hs_meeting_outcome",
                "Meeting outcome",
                &[
                    ("SCHEDULED", "Scheduled"),
                    ("COMPLETED", "Completed"),
                    ("RESCHEDULED", "Rescheduled"),
                    ("NO_SHOW", "No show"),
                    ("CANCELED", "Canceled"),
                ],
            )
            .fill(100),
        ],
        "notes" => vec![p("hs_note_body", "Note body", "string", "html", Gen::Text).fill(100)],
        _ => vec![
            text("hs_task_subject", "Task title", Gen::Words).fill(100),
            p("hs_task_body", "Notes", "string", "html", Gen::Text).fill(60),
            select(
                "hs_task_status",
                "Task status",
                &[
                    ("NOT_STARTED", "Not started"),
                    ("IN_PROGRESS", "In progress"),
                    ("WAITING", "Waiting"),
                    ("COMPLETED", "Completed"),
                    ("DEFERRED", "Deferred"),
                ],
            )
            .fill(100),
            select(
                "hs_task_priority",
                "Priority",
                &[
                    ("NONE", "None"),
                    ("LOW", "Low"),
                    ("MEDIUM", "Medium"),
                    ("HIGH", "High"),
                ],
            )
            .fill(100),
            select(
                "hs_task_type",
                "Task type",
                &[("CALL", "Call"), ("EMAIL", "Email"), ("TODO", "To-do")],
            )
            .fill(100),
        ],
    });
    props
}

fn cars() -> Vec<PropertyDef> {
    let mut props = vec![
        text("model", "Model", Gen::Words).fill(100),
        select(
            "make",
            "Make",
            &[
                ("volvo", "Volvo"),
                ("toyota", "Toyota"),
                ("tesla", "Tesla"),
                ("fiat", "Fiat"),
            ],
        )
        .fill(100),
        num("year", "Year", Gen::Int(1995, 2026)).fill(100),
        text("vin", "VIN", Gen::Code).fill(90),
        p("purchase_date", "Purchase date", "date", "date", Gen::Day).fill(70),
        checkbox(
            "features",
            "Features",
            &[
                ("gps", "GPS"),
                ("heated_seats", "Heated seats"),
                ("tow_hitch", "Tow hitch"),
            ],
        )
        .fill(60),
        flag("electric", "Electric").fill(100),
    ];
    for def in &mut props {
        def.hubspot_defined = false;
    }
    props
}

/// Types every HubSpot portal has that the fake keeps no records of, by the names the
/// legacy properties API takes (Airbyte's connector asks for their properties while it
/// discovers, whichever streams are read): `leads`, `deal_split`, `goal_targets`, and the
/// forms' `form`.
pub(crate) const UNMODELLED: [&str; 6] = [
    "leads",
    "lead",
    "deal_split",
    "deal_splits",
    "goal_targets",
    "form",
];

/// The properties of an [`UNMODELLED`] type: only what HubSpot computes on every record.
pub(crate) fn unmodelled() -> Vec<PropertyDef> {
    let mut props = vec![
        num("hs_object_id", "Record ID", Gen::Unset).read_only(),
        time("hs_createdate", "Object create date/time").read_only(),
        time("hs_lastmodifieddate", "Object last modified date/time").read_only(),
    ];
    for def in &mut props {
        def.gen = Gen::Unset;
    }
    props
}

/// What HubSpot computes on every record of `t`: its id, creation and modification times,
/// and for mergeable types the ids it absorbed.
fn computed(t: &ObjectType) -> Vec<PropertyDef> {
    let mut props = vec![
        num("hs_object_id", "Record ID", Gen::Unset).read_only(),
        time(t.created, "Create Date").read_only(),
        time(t.modified, "Last Modified Date").read_only(),
    ];
    if t.created != "hs_createdate" {
        props.push(time("hs_createdate", "Object create date/time").read_only());
    }
    if mergeable(&t.name) {
        props.push(
            p(
                "hs_merged_object_ids",
                "Merged record IDs",
                "enumeration",
                "checkbox",
                Gen::Unset,
            )
            .read_only(),
        );
    }
    for def in &mut props {
        def.gen = Gen::Unset;
    }
    props
}

/// Types whose records can be merged (`POST /crm/v3/objects/{type}/merge`).
pub(crate) fn mergeable(name: &str) -> bool {
    matches!(name, "contacts" | "companies" | "deals" | "tickets")
}

/// Every property of `t` in a fresh portal; contacts get filler custom properties up to
/// `contact_properties` in all.
pub(crate) fn properties(
    t: &ObjectType,
    contact_properties: usize,
    created_at: i64,
) -> Vec<PropertyDef> {
    let mut props = computed(t);
    props.extend(match t.name.as_str() {
        "contacts" => contacts(),
        "companies" => companies(),
        "deals" => deals(),
        "tickets" => tickets(),
        "products" => products(),
        "line_items" => line_items(),
        "quotes" => quotes(),
        "calls" | "emails" | "meetings" | "notes" | "tasks" => activity(&t.name),
        _ => cars(),
    });
    if t.name == "contacts" {
        let standard = props.len();
        props
            .extend((standard..contact_properties.max(standard)).map(|n| filler(n - standard + 1)));
    }
    let group = format!("{}information", t.singular.to_lowercase().replace(' ', ""));
    for (i, def) in props.iter_mut().enumerate() {
        if def.group.is_empty() {
            def.group.clone_from(&group);
        }
        def.display_order = i as i64;
        def.created_at = created_at;
        def.updated_at = created_at;
    }
    props
}
