//! Every client-visible contact field, declared once: its name, what it
//! accepts, its limit, and whether create and patch take it. Validation,
//! storage, responses and docs all read this table.

/// Values `contact_type` accepts.
pub const CONTACT_TYPES: &[&str] = &["lead", "client", "candidate", "investor", "end_user"];
/// Values `portal_role` accepts.
pub const PORTAL_ROLES: &[&str] = &["client_admin", "client_viewer"];
/// Values `enrichment_status` accepts.
pub const ENRICHMENT_STATUSES: &[&str] = &["pending", "enriched", "not_found", "failed"];

pub const DEFAULT_CONTACT_TYPE: &str = "end_user";
pub const DEFAULT_SOURCE: &str = "manual";
pub const DEFAULT_ENRICHMENT_STATUS: &str = "pending";

/// Fields the server owns; a client that sends them gets a 400 naming them.
pub const READ_ONLY: &[&str] = &["id", "company_name", "created_at", "updated_at", "version"];

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_CHARS: usize = 50;
pub const MAX_ENRICHMENT_DATA_BYTES: usize = 32 * 1024;

/// What a field accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Free text of at most `max` characters.
    Text { max: usize },
    /// An email address (at most 254 characters), unique across contacts ignoring case.
    Email,
    /// An absolute http(s) URL of at most 2,048 characters.
    Url,
    /// One of a fixed set of words.
    OneOf(&'static [&'static str]),
    /// The id of an existing company.
    CompanyId,
    /// Integer 0 or 1.
    Flag,
    /// A number from 0 to 100.
    Score,
    /// An RFC 3339 date-time.
    Timestamp,
    /// Comma-separated tags.
    Tags,
    /// A DNS domain such as `acme.com`, stored lower-cased.
    Domain,
    /// A JSON object of bounded size.
    JsonObject,
}

pub const MAX_EMAIL_CHARS: usize = 254;
pub const MAX_URL_CHARS: usize = 2048;

/// One client-visible field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    /// Accepted by `POST /api/contacts` (every field is accepted by PATCH).
    pub on_create: bool,
    /// Shown in list items (and projected into the list indexes).
    pub in_summary: bool,
    pub description: &'static str,
}

const fn field(
    name: &'static str,
    kind: Kind,
    on_create: bool,
    in_summary: bool,
    description: &'static str,
) -> Field {
    Field {
        name,
        kind,
        on_create,
        in_summary,
        description,
    }
}

const NAME: Kind = Kind::Text { max: 200 };
const SHORT: Kind = Kind::Text { max: 100 };

/// The contact fields, in the order responses list them.
pub const CONTACT_FIELDS: &[Field] = &[
    field(
        "email",
        Kind::Email,
        true,
        true,
        "Email address; unique ignoring case",
    ),
    field(
        "company_id",
        Kind::CompanyId,
        true,
        true,
        "Id of the contact's company",
    ),
    field("first_name", NAME, true, false, "First name"),
    field("last_name", NAME, true, false, "Last name"),
    field(
        "full_name",
        NAME,
        true,
        true,
        "Overrides first_name + last_name",
    ),
    field("title", NAME, true, false, "Job title"),
    field("role", NAME, true, false, "Role type"),
    field("department", NAME, true, false, "Department"),
    field("phone", Kind::Text { max: 50 }, true, false, "Phone number"),
    field(
        "contact_type",
        Kind::OneOf(CONTACT_TYPES),
        true,
        true,
        "Default: end_user",
    ),
    field(
        "source",
        SHORT,
        true,
        true,
        "Where the contact came from. Default: manual",
    ),
    field("pipeline_stage", SHORT, true, false, "CRM pipeline stage"),
    field("funnel_stage", SHORT, true, false, "Marketing funnel stage"),
    field(
        "engagement_score",
        Kind::Score,
        false,
        false,
        "Engagement score, 0 to 100",
    ),
    field(
        "last_engagement_at",
        Kind::Timestamp,
        false,
        false,
        "Last engagement, RFC 3339",
    ),
    field(
        "enrichment_status",
        Kind::OneOf(ENRICHMENT_STATUSES),
        false,
        false,
        "Enrichment state; new contacts start pending",
    ),
    field(
        "enrichment_data",
        Kind::JsonObject,
        false,
        false,
        "Data found by enrichment, a JSON object",
    ),
    field(
        "linkedin_url",
        Kind::Url,
        true,
        false,
        "LinkedIn profile URL",
    ),
    field("photo_url", Kind::Url, false, false, "Photo URL"),
    field("close_lead_id", SHORT, false, false, "Close CRM lead id"),
    field(
        "close_contact_id",
        SHORT,
        false,
        false,
        "Close CRM contact id",
    ),
    field("tags", Kind::Tags, true, false, "Comma-separated tags"),
    field(
        "notes",
        Kind::Text { max: 10_000 },
        true,
        false,
        "Internal notes",
    ),
    field(
        "portal_access",
        Kind::Flag,
        true,
        true,
        "1 = can log in to the portal",
    ),
    field(
        "portal_role",
        Kind::OneOf(PORTAL_ROLES),
        true,
        true,
        "client_admin or client_viewer",
    ),
];

/// Looks a contact field up by name.
pub fn contact_field(name: &str) -> Option<&'static Field> {
    CONTACT_FIELDS.iter().find(|f| f.name == name)
}

/// Company fields: `name` is required on create.
pub const COMPANY_FIELDS: &[Field] = &[
    field("name", NAME, true, true, "Company name"),
    field(
        "domain",
        Kind::Domain,
        true,
        true,
        "Web domain, such as acme.com",
    ),
];

/// Query parameters of the list routes.
pub const DEFAULT_PAGE_SIZE: u32 = 25;
pub const MAX_PAGE_SIZE: u32 = 100;
/// Longest accepted `search` string.
pub const MAX_SEARCH_CHARS: usize = 200;
