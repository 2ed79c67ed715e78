//! The org's schema: objects and their fields as describe reports them. Standard objects
//! (Account, Contact, Opportunity, Lead, Case, User, Attachment), a custom object
//! `Invoice__c` with a field of every custom type (formulas, a geolocation, rich and long
//! text, an encrypted string), and `AccountHistory`, which is queryable but not
//! replicateable. Compound fields (addresses, geolocations) are listed with their
//! components, which carry `compoundFieldName`, as Salesforce does.

/// A field's `type` in describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Id,
    Reference,
    String,
    Textarea,
    Picklist,
    Multipicklist,
    Email,
    Phone,
    Url,
    EncryptedString,
    Boolean,
    Int,
    Double,
    Currency,
    Percent,
    Date,
    Datetime,
    Time,
    Address,
    Location,
    Base64,
    AnyType,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Id => "id",
            Kind::Reference => "reference",
            Kind::String => "string",
            Kind::Textarea => "textarea",
            Kind::Picklist => "picklist",
            Kind::Multipicklist => "multipicklist",
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::Url => "url",
            Kind::EncryptedString => "encryptedstring",
            Kind::Boolean => "boolean",
            Kind::Int => "int",
            Kind::Double => "double",
            Kind::Currency => "currency",
            Kind::Percent => "percent",
            Kind::Date => "date",
            Kind::Datetime => "datetime",
            Kind::Time => "time",
            Kind::Address => "address",
            Kind::Location => "location",
            Kind::Base64 => "base64",
            Kind::AnyType => "anyType",
        }
    }

    pub fn soap_type(self) -> &'static str {
        match self {
            Kind::Id | Kind::Reference => "tns:ID",
            Kind::Boolean => "xsd:boolean",
            Kind::Int => "xsd:int",
            Kind::Double | Kind::Currency | Kind::Percent => "xsd:double",
            Kind::Date => "xsd:date",
            Kind::Datetime => "xsd:dateTime",
            Kind::Time => "xsd:time",
            Kind::Address => "urn:address",
            Kind::Location => "urn:location",
            Kind::Base64 => "xsd:base64Binary",
            Kind::AnyType => "xsd:anyType",
            _ => "xsd:string",
        }
    }

    /// Compound fields: read-only, returned as objects by REST, refused by Bulk API 2.0.
    pub fn is_compound(self) -> bool {
        matches!(self, Kind::Address | Kind::Location)
    }

    pub fn is_text(self) -> bool {
        matches!(
            self,
            Kind::Id
                | Kind::Reference
                | Kind::String
                | Kind::Textarea
                | Kind::Picklist
                | Kind::Multipicklist
                | Kind::Email
                | Kind::Phone
                | Kind::Url
                | Kind::EncryptedString
        )
    }
}

/// How a formula field is computed (at read time, from the record and its parents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Formula {
    /// `a * b / divisor`: numeric fields of the same record.
    Product { a: String, b: String, divisor: i64 },
    /// A field of the parent record `reference` points to (a cross-object formula, whose
    /// value changes without the child's `SystemModstamp` moving).
    Parent { reference: String, field: String },
}

#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub name: String,
    pub label: String,
    pub kind: Kind,
    pub length: u32,
    pub precision: u32,
    pub scale: u32,
    pub custom: bool,
    pub nillable: bool,
    pub system: bool,
    pub formula: Option<(String, Formula)>,
    pub compound: Option<String>,
    pub reference_to: Option<String>,
    pub relationship: Option<String>,
    pub picklist: Vec<&'static str>,
    pub html: bool,
    pub external_id: bool,
}

impl Field {
    pub fn new(name: &str, kind: Kind) -> Field {
        let (length, precision, scale) = match kind {
            Kind::Id | Kind::Reference => (18, 0, 0),
            Kind::String | Kind::Picklist | Kind::EncryptedString => (255, 0, 0),
            Kind::Multipicklist => (4099, 0, 0),
            Kind::Textarea => (32_000, 0, 0),
            Kind::Email | Kind::Url => (255, 0, 0),
            Kind::Phone => (40, 0, 0),
            Kind::Currency => (0, 18, 2),
            Kind::Double => (0, 18, 0),
            Kind::Percent => (0, 5, 2),
            Kind::Int => (0, 9, 0),
            _ => (0, 0, 0),
        };
        Field {
            name: name.to_string(),
            label: label_of(name),
            kind,
            length,
            precision,
            scale,
            custom: name.ends_with("__c") || name.ends_with("__s"),
            nillable: !matches!(kind, Kind::Id | Kind::Boolean),
            system: false,
            formula: None,
            compound: None,
            reference_to: None,
            relationship: None,
            picklist: Vec::new(),
            html: false,
            external_id: false,
        }
    }

    fn to(mut self, object: &str) -> Field {
        self.reference_to = Some(object.to_string());
        let base = match self.name.strip_suffix("__c") {
            Some(stem) => format!("{stem}__r"),
            None => self.name.trim_end_matches("Id").to_string(),
        };
        self.relationship = Some(base);
        self
    }

    fn values(mut self, values: &[&'static str]) -> Field {
        self.picklist = values.to_vec();
        self
    }

    fn digits(mut self, precision: u32, scale: u32) -> Field {
        self.precision = precision;
        self.scale = scale;
        self
    }

    fn formula(mut self, text: &str, formula: Formula) -> Field {
        self.formula = Some((text.to_string(), formula));
        self
    }

    fn system(mut self) -> Field {
        self.system = true;
        self
    }

    pub fn calculated(&self) -> bool {
        self.formula.is_some()
    }
}

fn label_of(name: &str) -> String {
    let stem = name
        .trim_end_matches("__c")
        .trim_end_matches("__s")
        .replace("__", " ")
        .replace('_', " ");
    let mut label = String::new();
    for (i, c) in stem.chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() && !label.ends_with(' ') {
            label.push(' ');
        }
        label.push(c);
    }
    label
}

#[derive(Debug, Clone)]
pub(crate) struct SObject {
    pub name: String,
    pub label: String,
    pub prefix: &'static str,
    pub custom: bool,
    pub replicateable: bool,
    pub deletable: bool,
    pub mergeable: bool,
    pub fields: Vec<Field>,
}

impl SObject {
    pub fn field(&self, name: &str) -> Option<usize> {
        self.fields
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case(name))
    }
}

const STATES: [&str; 5] = ["CA", "NY", "TX", "WA", "IL"];
const COUNTRIES: [&str; 4] = ["US", "CA", "GB", "DE"];

/// An address compound `{prefix}Address` and its components, in describe's order.
fn address(prefix: &str) -> Vec<Field> {
    let compound = format!("{prefix}Address");
    let part = |suffix: &str, kind: Kind| {
        let mut field = Field::new(&format!("{prefix}{suffix}"), kind);
        field.compound = Some(compound.clone());
        field.custom = false;
        field
    };
    vec![
        part("Street", Kind::Textarea),
        part("City", Kind::String),
        part("State", Kind::String),
        part("PostalCode", Kind::String),
        part("Country", Kind::String),
        part("StateCode", Kind::Picklist).values(&STATES),
        part("CountryCode", Kind::Picklist).values(&COUNTRIES),
        part("Latitude", Kind::Double).digits(18, 15),
        part("Longitude", Kind::Double).digits(18, 15),
        part("GeocodeAccuracy", Kind::Picklist).values(&["Address", "Street", "City", "Zip"]),
        Field::new(&compound, Kind::Address),
    ]
}

/// A custom geolocation `{stem}__c` with its `__Latitude__s`/`__Longitude__s` components.
fn location(stem: &str) -> Vec<Field> {
    let compound = format!("{stem}__c");
    let part = |suffix: &str| {
        let mut field = Field::new(&format!("{stem}__{suffix}__s"), Kind::Double).digits(18, 15);
        field.compound = Some(compound.clone());
        field
    };
    vec![
        part("Latitude"),
        part("Longitude"),
        Field::new(&compound, Kind::Location),
    ]
}

/// `Id`, `IsDeleted` (when deletable) and the audit fields every object has.
fn system_fields(deletable: bool) -> Vec<Field> {
    let mut fields = vec![Field::new("Id", Kind::Id).system()];
    if deletable {
        fields.push(Field::new("IsDeleted", Kind::Boolean).system());
    }
    fields.extend([
        Field::new("CreatedDate", Kind::Datetime).system(),
        Field::new("CreatedById", Kind::Reference)
            .to("User")
            .system(),
        Field::new("LastModifiedDate", Kind::Datetime).system(),
        Field::new("LastModifiedById", Kind::Reference)
            .to("User")
            .system(),
        Field::new("SystemModstamp", Kind::Datetime).system(),
    ]);
    fields
}

fn object(name: &str, prefix: &'static str, deletable: bool, rest: Vec<Field>) -> SObject {
    let mut fields = system_fields(deletable);
    fields.extend(rest);
    SObject {
        name: name.to_string(),
        label: label_of(name),
        prefix,
        custom: name.ends_with("__c"),
        replicateable: true,
        deletable,
        mergeable: false,
        fields,
    }
}

const INDUSTRIES: [&str; 6] = [
    "Agriculture",
    "Banking",
    "Education",
    "Energy",
    "Retail",
    "Technology",
];

pub(crate) fn standard() -> Vec<SObject> {
    use Kind::*;
    let text = |name: &str| Field::new(name, String);
    let mut account = vec![
        Field::new("MasterRecordId", Reference).to("Account"),
        text("Name"),
        Field::new("Type", Picklist).values(&["Prospect", "Customer", "Partner", "Other"]),
        Field::new("ParentId", Reference).to("Account"),
    ];
    account.extend(address("Billing"));
    account.extend(address("Shipping"));
    account.extend([
        Field::new("Phone", Phone),
        Field::new("Fax", Phone),
        text("AccountNumber"),
        Field::new("Website", Url),
        text("Sic"),
        Field::new("Industry", Picklist).values(&INDUSTRIES),
        Field::new("AnnualRevenue", Currency),
        Field::new("NumberOfEmployees", Int).digits(8, 0),
        Field::new("Ownership", Picklist).values(&["Public", "Private", "Subsidiary"]),
        text("TickerSymbol"),
        Field::new("Description", Textarea),
        Field::new("Rating", Picklist).values(&["Hot", "Warm", "Cold"]),
        text("Site"),
        Field::new("OwnerId", Reference).to("User"),
        Field::new("LastActivityDate", Date),
        Field::new("Customer_Since__c", Date),
        Field::new("Tier__c", Picklist).values(&["Gold", "Silver", "Bronze"]),
        Field::new("Active__c", Boolean),
    ]);
    let mut account = object("Account", "001", true, account);
    account.mergeable = true;

    let mut contact = vec![
        Field::new("MasterRecordId", Reference).to("Contact"),
        Field::new("AccountId", Reference).to("Account"),
        text("LastName"),
        text("FirstName"),
        text("Name"),
    ];
    contact.extend(address("Mailing"));
    contact.extend([
        Field::new("Phone", Phone),
        Field::new("Email", Email),
        text("Title"),
        Field::new("Birthdate", Date),
        Field::new("LeadSource", Picklist).values(&["Web", "Phone Inquiry", "Partner Referral"]),
        Field::new("DoNotCall", Boolean),
        Field::new("Description", Textarea),
        Field::new("ReportsToId", Reference).to("Contact"),
        Field::new("OwnerId", Reference).to("User"),
    ]);
    let mut contact = object("Contact", "003", true, contact);
    contact.mergeable = true;

    let opportunity = object(
        "Opportunity",
        "006",
        true,
        vec![
            Field::new("AccountId", Reference).to("Account"),
            text("Name"),
            Field::new("StageName", Picklist).values(&[
                "Prospecting",
                "Qualification",
                "Negotiation/Review",
                "Closed Won",
                "Closed Lost",
            ]),
            Field::new("Amount", Currency),
            Field::new("Probability", Percent).digits(3, 0),
            Field::new("ExpectedRevenue", Currency).formula(
                "Amount * Probability / 100",
                Formula::Product {
                    a: "Amount".into(),
                    b: "Probability".into(),
                    divisor: 100,
                },
            ),
            Field::new("CloseDate", Date),
            Field::new("IsClosed", Boolean),
            Field::new("IsWon", Boolean),
            text("NextStep"),
            Field::new("OwnerId", Reference).to("User"),
        ],
    );

    let mut lead = vec![
        Field::new("MasterRecordId", Reference).to("Lead"),
        text("LastName"),
        text("FirstName"),
        text("Name"),
        text("Company"),
    ];
    lead.extend(address(""));
    lead.extend([
        Field::new("Email", Email),
        Field::new("Status", Picklist).values(&["Open", "Working", "Converted"]),
        Field::new("IsConverted", Boolean),
        Field::new("ConvertedAccountId", Reference).to("Account"),
        Field::new("AnnualRevenue", Currency),
        Field::new("NumberOfEmployees", Int).digits(8, 0),
        Field::new("OwnerId", Reference).to("User"),
    ]);
    let mut lead = object("Lead", "00Q", true, lead);
    lead.mergeable = true;

    let case = object(
        "Case",
        "500",
        true,
        vec![
            Field::new("MasterRecordId", Reference).to("Case"),
            text("CaseNumber"),
            Field::new("AccountId", Reference).to("Account"),
            Field::new("ContactId", Reference).to("Contact"),
            text("Subject"),
            Field::new("Description", Textarea),
            Field::new("Status", Picklist).values(&["New", "Working", "Escalated", "Closed"]),
            Field::new("Priority", Picklist).values(&["High", "Medium", "Low"]),
            Field::new("Origin", Picklist).values(&["Phone", "Email", "Web"]),
            Field::new("IsClosed", Boolean),
            Field::new("ClosedDate", Datetime),
            Field::new("OwnerId", Reference).to("User"),
        ],
    );

    let user = object(
        "User",
        "005",
        false,
        vec![
            text("Username"),
            text("LastName"),
            text("FirstName"),
            text("Name"),
            text("Alias"),
            Field::new("Email", Email),
            Field::new("IsActive", Boolean),
            Field::new("TimeZoneSidKey", Picklist).values(&[
                "America/Los_Angeles",
                "America/New_York",
                "Europe/London",
            ]),
            Field::new("UserType", Picklist).values(&["Standard", "PowerPartner"]),
        ],
    );

    let attachment = object(
        "Attachment",
        "00P",
        true,
        vec![
            Field::new("ParentId", Reference).to("Account"),
            text("Name"),
            text("ContentType"),
            Field::new("BodyLength", Int),
            Field::new("Body", Base64),
            Field::new("OwnerId", Reference).to("User"),
        ],
    );

    let mut invoice = vec![
        text("Name"),
        Field::new("OwnerId", Reference).to("User"),
        Field::new("Account__c", Reference).to("Account"),
        Field::new("Amount__c", Currency).digits(16, 2),
        Field::new("Tax_Rate__c", Percent).digits(5, 2),
        Field::new("Total__c", Currency).digits(18, 2).formula(
            "Amount__c * Tax_Rate__c / 100",
            Formula::Product {
                a: "Amount__c".into(),
                b: "Tax_Rate__c".into(),
                divisor: 100,
            },
        ),
        Field::new("Account_Name__c", String).formula(
            "Account__r.Name",
            Formula::Parent {
                reference: "Account__c".into(),
                field: "Name".into(),
            },
        ),
        Field::new("Quantity__c", Double).digits(18, 0),
        Field::new("Weight_Kg__c", Double).digits(12, 3),
        Field::new("Paid__c", Boolean),
        Field::new("Due_Date__c", Date),
        Field::new("Sent_At__c", Datetime),
        Field::new("Cutoff_Time__c", Time),
        Field::new("Billing_Email__c", Email),
        Field::new("Billing_Phone__c", Phone),
        Field::new("Portal_Link__c", Url),
        Field::new("Status__c", Picklist).values(&["Draft", "Sent", "Paid", "Void"]),
        Field::new("Tags__c", Multipicklist).values(&["Urgent", "Export", "Discounted", "Net-30"]),
        Field::new("Notes__c", Textarea),
        Field::new("Summary__c", Textarea),
        Field::new("Reference__c", String),
        Field::new("Secret_Code__c", EncryptedString),
    ];
    invoice.extend(location("Site"));
    if let Some(summary) = invoice.iter_mut().find(|f| f.name == "Summary__c") {
        summary.html = true;
    }
    if let Some(reference) = invoice.iter_mut().find(|f| f.name == "Reference__c") {
        reference.external_id = true;
    }
    let invoice = object("Invoice__c", "a01", true, invoice);

    let mut history = object(
        "AccountHistory",
        "017",
        true,
        vec![
            Field::new("AccountId", Reference).to("Account"),
            text("Field"),
            Field::new("OldValue", AnyType),
            Field::new("NewValue", AnyType),
        ],
    );
    // History objects are queryable but not replicateable, and have no LastModified*.
    history.replicateable = false;
    history
        .fields
        .retain(|f| !f.name.starts_with("LastModified") && f.name != "SystemModstamp");

    vec![
        account,
        contact,
        opportunity,
        lead,
        case,
        user,
        attachment,
        invoice,
        history,
    ]
}
