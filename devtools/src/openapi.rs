//! The OpenAPI 3.1 description, generated from the code: paths and methods
//! from `Route`, body and item schemas from the field tables in
//! `shared::fields`, statuses from `ApiError`. `openapi.json` at the
//! repository root is this document; a test fails when they drift.

use serde_json::json;
use shared::Route;
use shared::fields::{
    COMPANY_FIELDS, CONTACT_FIELDS, CONTACT_TYPES, DEFAULT_PAGE_SIZE, Field, Kind, MAX_BODY_BYTES,
    MAX_EMAIL_CHARS, MAX_ENRICHMENT_DATA_BYTES, MAX_PAGE_SIZE, MAX_SEARCH_CHARS, MAX_TAG_CHARS,
    MAX_TAGS, MAX_URL_CHARS,
};
use shared::idempotency::{IDEMPOTENCY_HEADER, MAX_KEY_CHARS};
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, Schema,
    SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, HeaderBuilder, InfoBuilder, OpenApi, OpenApiBuilder,
    PathsBuilder, Ref, RefOr, Required, ResponseBuilder,
};

const ULID: &str = "[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}";
/// Text without control characters (tab and line breaks allowed), as the validator requires.
const NO_CONTROL: &str = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$";
const SECURITY: &str = "api_key";
/// `http(s)://host[:port][/…]` without whitespace or control characters:
/// the rule `shared::validate` applies.
const URL_PATTERN: &str = "^https?://[A-Za-z0-9.-]+(:(0[0-9]{4}|6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?([/?#][^\\s\\u0000-\\u001F\\u007F-\\u009F]*)?$";
/// At least one character that is not whitespace (a required name).
const NOT_BLANK: &str = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$";

fn id_pattern(prefix: &str) -> String {
    format!("^{prefix}{ULID}$")
}

fn nullable(t: Type) -> SchemaType {
    SchemaType::Array(vec![t, Type::Null])
}

/// The schema of one field's values; `null` allowed when `nullable`.
fn field_schema(f: &Field, nullable_: bool) -> Schema {
    let ty = |t: Type| {
        if nullable_ {
            nullable(t)
        } else {
            SchemaType::Type(t)
        }
    };
    let text = ObjectBuilder::new()
        .schema_type(ty(Type::String))
        .description(Some(f.description));
    let b = match f.kind {
        Kind::Text { max } => text.max_length(Some(max)).pattern(Some(NO_CONTROL)),
        Kind::Email => text.max_length(Some(MAX_EMAIL_CHARS)).format(Some(SchemaFormat::KnownFormat(KnownFormat::Email))),
        Kind::Url => text.max_length(Some(MAX_URL_CHARS)).pattern(Some(URL_PATTERN)),
        Kind::OneOf(values) => {
            let mut vals: Vec<serde_json::Value> = values.iter().map(|v| json!(v)).collect();
            if nullable_ {
                vals.push(serde_json::Value::Null);
            }
            text.enum_values(Some(vals))
        }
        Kind::CompanyId => text.pattern(Some(id_pattern("co_"))),
        Kind::Flag => {
            let mut vals = vec![json!(0), json!(1)];
            if nullable_ {
                vals.push(serde_json::Value::Null);
            }
            ObjectBuilder::new().schema_type(ty(Type::Integer)).description(Some(f.description)).enum_values(Some(vals))
        }
        Kind::Score => ObjectBuilder::new()
            .schema_type(ty(Type::Number))
            .description(Some(f.description))
            .minimum(Some(0))
            .maximum(Some(100)),
        Kind::Timestamp => text.format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        Kind::Tags => text
            .max_length(Some(MAX_TAGS * (MAX_TAG_CHARS + 1)))
            .pattern(Some(format!("^[^,]{{0,{MAX_TAG_CHARS}}}(,[^,]{{0,{MAX_TAG_CHARS}}}){{0,{}}}$", MAX_TAGS - 1))),
        Kind::JsonObject => ObjectBuilder::new()
            .schema_type(ty(Type::Object))
            .description(Some(format!("{} (at most {MAX_ENRICHMENT_DATA_BYTES} bytes of JSON)", f.description))),
        Kind::Domain => text.max_length(Some(253)).pattern(Some(
            "^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$",
        )),
    };
    b.build().into()
}

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

fn object() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Object)
}

fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// A stored resource: its id, fields (null when unset) and server attributes.
fn resource_schema(prefix: &str, fields: &[Field], extra: &[(&str, Schema)]) -> Schema {
    let mut b = object()
        .property(
            "id",
            string("Resource id").pattern(Some(id_pattern(prefix))),
        )
        .required("id");
    for f in fields {
        b = b.property(f.name, field_schema(f, true)).required(f.name);
    }
    for (name, schema) in extra {
        b = b.property(*name, schema.clone()).required(*name);
    }
    b.build().into()
}

fn timestamps() -> Vec<(&'static str, Schema)> {
    let ts = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .build()
            .into()
    };
    vec![("created_at", ts()), ("updated_at", ts())]
}

fn company_name() -> Schema {
    ObjectBuilder::new()
        .schema_type(nullable(Type::String))
        .description(Some("Name of the contact's company"))
        .build()
        .into()
}

/// `{items,total,page,limit,hasMore}` of `item`.
fn list_schema(item: &str, with_cursor: bool) -> Schema {
    let count = |d: &str| {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .description(Some(d))
            .build()
    };
    let b = object()
        .property("items", ArrayBuilder::new().items(reference(item)).build())
        .property("total", count("Items matching the filters, in all"))
        .property("page", count("Page number"))
        .property("limit", count("Page size"))
        .property(
            "hasMore",
            ObjectBuilder::new().schema_type(Type::Boolean).build(),
        )
        .required("items")
        .required("total")
        .required("page")
        .required("limit")
        .required("hasMore");
    let b = if with_cursor {
        b.property(
            "next_cursor",
            ObjectBuilder::new()
                .schema_type(nullable(Type::String))
                .description(Some("Pass as ?cursor= for the next page at the cost of a first page; null on the last page")),
        )
        .required("next_cursor")
    } else {
        b
    };
    b.build().into()
}

/// A request body accepting `fields`: no other keys (mass assignment is refused).
fn body_schema(fields: &[&Field], nullable_: bool) -> ObjectBuilder {
    let mut b =
        object().additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)));
    for f in fields {
        b = b.property(f.name, field_schema(f, nullable_));
    }
    b
}

fn envelope_ok(data: RefOr<Schema>) -> Schema {
    object()
        .property(
            "ok",
            ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .enum_values(Some([true]))
                .build(),
        )
        .property("data", data)
        .required("ok")
        .required("data")
        .build()
        .into()
}

fn error_envelope() -> Schema {
    let error = object()
        .property("code", string("Stable machine-readable code, such as validation_failed"))
        .property("message", string("What went wrong, for people"))
        .property("details", ObjectBuilder::new().description(Some("For validation errors: {fields:[{field,message}]}; for duplicates: the existing id")).build())
        .required("code")
        .required("message");
    object()
        .property(
            "ok",
            ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .enum_values(Some([false]))
                .build(),
        )
        .property("error", error)
        .required("ok")
        .required("error")
        .build()
        .into()
}

fn json_content(schema: impl Into<RefOr<Schema>>) -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

fn ok_response(
    description: &str,
    data: RefOr<Schema>,
    headers: &[(&str, &str)],
) -> utoipa::openapi::Response {
    created_response(description, data, headers, &[])
}

/// A success response; its `data.id` feeds the `id` of the `links` routes
/// (which lets stateful testing follow a create with a get or a patch).
fn created_response(
    description: &str,
    data: RefOr<Schema>,
    headers: &[(&str, &str)],
    links: &[Route],
) -> utoipa::openapi::Response {
    let mut b = ResponseBuilder::new()
        .description(description)
        .content("application/json", json_content(envelope_ok(data)));
    for (name, desc) in headers {
        b = b.header(
            *name,
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .description(Some(*desc))
                .build(),
        );
    }
    for route in links {
        let link = LinkBuilder::new()
            .operation_id(route.binary().replace('-', "_"))
            .parameter("id", "$response.body#/data/id")
            .build();
        b = b.link(route.binary(), link);
    }
    b.build()
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", json_content(reference("ErrorEnvelope")))
        .build()
}

fn query(name: &str, description: &str, schema: Schema) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn header_param(name: &str, description: &str, schema: Schema) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn paging_params() -> Vec<utoipa::openapi::path::Parameter> {
    let int = |max: Option<u32>, desc: &str| {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(max)
            .description(Some(desc))
            .build()
            .into()
    };
    vec![
        query(
            "page",
            "Page number, from 1 (default 1)",
            int(Some(u32::MAX), "page"),
        ),
        query(
            "limit",
            &format!(
                "Page size (default {DEFAULT_PAGE_SIZE}; above {MAX_PAGE_SIZE} is clamped to {MAX_PAGE_SIZE})"
            ),
            int(None, "limit"),
        ),
    ]
}

fn contact_filters() -> Vec<utoipa::openapi::path::Parameter> {
    let mut params = vec![
        query(
            "company_id",
            "Only contacts of this company",
            string("company id")
                .pattern(Some(id_pattern("co_")))
                .build()
                .into(),
        ),
        query(
            "type",
            "Only contacts of this contact_type",
            string("contact type")
                .enum_values(Some(CONTACT_TYPES.to_vec()))
                .build()
                .into(),
        ),
        query(
            "source",
            "Only contacts from this source",
            string("source").max_length(Some(100)).build().into(),
        ),
        query(
            "search",
            "Case-insensitive substring of full_name or email",
            string("search text")
                .max_length(Some(MAX_SEARCH_CHARS))
                .build()
                .into(),
        ),
        query(
            "cursor",
            "data.next_cursor of the previous page, with the same filters (instead of page)",
            string("opaque cursor").build().into(),
        ),
    ];
    params.extend(paging_params());
    params
}

fn path_id(prefix: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name("id")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(
            string("Resource id")
                .pattern(Some(id_pattern(prefix)))
                .build(),
        ))
        .build()
}

fn idempotency_header() -> utoipa::openapi::path::Parameter {
    header_param(
        IDEMPOTENCY_HEADER,
        "Makes the create safe to retry: the same key and body replay the first answer for 24 hours",
        string("key")
            .pattern(Some(format!("^[!-~]{{1,{MAX_KEY_CHARS}}}$")))
            .build()
            .into(),
    )
}

/// The operation a route performs.
fn operation(route: Route) -> utoipa::openapi::path::Operation {
    let common_errors = |b: OperationBuilder| {
        b.response(
            "401",
            error_response("Missing, unknown or revoked X-SM-Key"),
        )
        .response(
            "503",
            error_response("DynamoDB is throttling; retry after Retry-After seconds"),
        )
        .response(
            "500",
            error_response("Unexpected error (details are logged, never returned)"),
        )
        .security(SecurityRequirement::new(SECURITY, Vec::<String>::new()))
        .operation_id(Some(route.binary().replace('-', "_")))
    };
    let contact_inputs: Vec<&Field> = CONTACT_FIELDS.iter().filter(|f| f.on_create).collect();
    let all_contact: Vec<&Field> = CONTACT_FIELDS.iter().collect();
    let company_inputs: Vec<&Field> = COMPANY_FIELDS.iter().collect();
    let body = |schema: Schema, description: &str| {
        Some(
            RequestBodyBuilder::new()
                .description(Some(description))
                .required(Some(Required::True))
                .content("application/json", json_content(schema))
                .build(),
        )
    };
    let created_body = |props: &[&str]| {
        let mut b = object();
        for p in props {
            b = b
                .property(
                    *p,
                    ObjectBuilder::new()
                        .schema_type(if *p == "id" {
                            SchemaType::Type(Type::String)
                        } else {
                            nullable(Type::String)
                        })
                        .build(),
                )
                .required(*p);
        }
        RefOr::T(b.build().into())
    };
    let too_large = || error_response(&format!("Body over {MAX_BODY_BYTES} bytes"));
    let b = OperationBuilder::new();
    let b = match route {
        Route::ListContacts => b
            .summary(Some("List contacts, newest first"))
            .parameters(Some(contact_filters()))
            .response("200", ok_response("A page of contact summaries", RefOr::T(list_schema("ContactSummary", true)), &[]))
            .response("400", error_response("A bad filter or paging parameter, named in details.fields")),
        Route::GetContact => b
            .summary(Some("Get one contact with its company name"))
            .parameter(path_id("ct_"))
            .response("200", ok_response("The contact", reference("Contact"), &[("ETag", "The contact's version, for If-Match")]))
            .response("404", error_response("No such contact")),
        Route::CreateContact => b
            .summary(Some("Create a contact"))
            .parameter(idempotency_header())
            .request_body(body(
                AnyOfBuilder::new()
                    .item(body_schema(&contact_inputs, false).required("email").build())
                    .item(body_schema(&contact_inputs, false).required("company_id").build())
                    .build()
                    .into(),
                "The contact; email or company_id is required",
            ))
            .response("201", created_response("Created", created_body(&["id", "full_name", "email"]), &[("Location", "URL of the new contact"), ("ETag", "Its version")], &[Route::GetContact, Route::UpdateContact]))
            .response("400", error_response("Invalid fields (named in details.fields) or a malformed body"))
            .response("409", error_response("Email already used (details.existing_id), or the same Idempotency-Key is in flight (retry after Retry-After seconds)"))
            .response("413", too_large())
            .response("415", error_response("Content-Type is not JSON"))
            .response("422", error_response("Idempotency-Key reused with a different body")),
        Route::UpdateContact => b
            .summary(Some("Update some fields of a contact; null clears a field"))
            .parameter(path_id("ct_"))
            .parameter(header_param("If-Match", "Only update if the contact is still at this version (its ETag; weak tags never match)", string("ETag").pattern(Some("^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")).build().into()))
            .request_body(body(body_schema(&all_contact, true).min_properties(Some(1)).build().into(), "The fields to change"))
            .response("200", ok_response("Updated", created_body(&["id"]), &[]))
            .response("400", error_response("Invalid, unknown or read-only fields (named in details.fields)"))
            .response("404", error_response("No such contact"))
            .response("409", error_response("Email already used by another contact"))
            .response("412", error_response("If-Match is stale"))
            .response("413", too_large())
            .response("415", error_response("Content-Type is not JSON")),
        Route::ListCompanies => b
            .summary(Some("List companies, newest first"))
            .parameters(Some(paging_params()))
            .response("200", ok_response("A page of companies", RefOr::T(list_schema("Company", false)), &[]))
            .response("400", error_response("A bad paging parameter")),
        Route::GetCompany => b
            .summary(Some("Get one company"))
            .parameter(path_id("co_"))
            .response("200", ok_response("The company", reference("Company"), &[]))
            .response("404", error_response("No such company")),
        Route::CreateCompany => b
            .summary(Some("Create a company"))
            .parameter(idempotency_header())
            .request_body(body(
                body_schema(&company_inputs, false)
                    .property("name", string("Company name").max_length(Some(200)).pattern(Some(NOT_BLANK)))
                    .required("name")
                    .build()
                    .into(),
                "The company",
            ))
            .response("201", created_response("Created", created_body(&["id", "name"]), &[("Location", "URL of the new company")], &[Route::GetCompany]))
            .response("400", error_response("Invalid fields (named in details.fields) or a malformed body"))
            .response("409", error_response("The same Idempotency-Key is in flight; retry after Retry-After seconds"))
            .response("413", too_large())
            .response("415", error_response("Content-Type is not JSON"))
            .response("422", error_response("Idempotency-Key reused with a different body")),
    };
    common_errors(b).build()
}

fn http_method(route: Route) -> HttpMethod {
    match route.method().as_str() {
        "POST" => HttpMethod::Post,
        "PATCH" => HttpMethod::Patch,
        _ => HttpMethod::Get,
    }
}

/// The whole description.
pub fn document() -> OpenApi {
    let mut paths = PathsBuilder::new().build();
    for route in Route::ALL {
        paths.merge(
            PathsBuilder::new()
                .path(
                    route.path(),
                    PathItem::new(http_method(route), operation(route)),
                )
                .build(),
        );
    }
    let summary_fields: Vec<Field> = CONTACT_FIELDS
        .iter()
        .filter(|f| f.in_summary)
        .copied()
        .collect();
    let mut contact_extra = vec![("company_name", company_name())];
    contact_extra.extend(timestamps());
    contact_extra.push((
        "version",
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .build()
            .into(),
    ));
    let summary_extra = vec![("company_name", company_name()), timestamps().remove(0)];
    let components = ComponentsBuilder::new()
        .schema(
            "Contact",
            resource_schema("ct_", CONTACT_FIELDS, &contact_extra),
        )
        .schema(
            "ContactSummary",
            resource_schema("ct_", &summary_fields, &summary_extra),
        )
        .schema(
            "Company",
            resource_schema("co_", COMPANY_FIELDS, &timestamps()),
        )
        .schema("ErrorEnvelope", error_envelope())
        .security_scheme(
            SECURITY,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-SM-Key"))),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Contacts API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some("Contacts and companies. Every answer is a JSON envelope: {ok:true,data} or {ok:false,error:{code,message,details}}."))
                .build(),
        )
        .paths(paths)
        .components(Some(components))
        .build()
}

/// The description as the committed `openapi.json` holds it.
pub fn to_json() -> String {
    let mut doc = serde_json::to_value(document()).expect("the description serialises");
    rename_link_operation_ids(&mut doc);
    let mut text = serde_json::to_string_pretty(&doc).expect("JSON serialises");
    text.push('\n');
    text
}

/// utoipa 5 writes a link's `operationId` as `operation_id`; OpenAPI tools
/// then cannot follow the link.
fn rename_link_operation_ids(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            if let Some(links) = map.get_mut("links").and_then(|l| l.as_object_mut()) {
                for link in links.values_mut().filter_map(|l| l.as_object_mut()) {
                    if let Some(id) = link.remove("operation_id") {
                        link.insert("operationId".into(), id);
                    }
                }
            }
            map.values_mut().for_each(rename_link_operation_ids);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(rename_link_operation_ids),
        _ => {}
    }
}
