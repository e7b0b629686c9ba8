//! Reads `template.yaml`, the one declaration of the tables and routes, so
//! local tooling creates the same tables and serves the same routes as AWS.

use std::path::{Path, PathBuf};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use serde_yaml::Value;
use shared::Config;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The template at the repository root, or `TEMPLATE_PATH`.
pub fn default_path() -> PathBuf {
    std::env::var_os("TEMPLATE_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"))
}

/// A parsed SAM template.
pub struct Template {
    root: Value,
}

/// An HTTP route a function serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteDef {
    pub method: String,
    /// API Gateway path with `{param}` segments.
    pub path: String,
    /// `Metadata.BuildProperties.Binary` of the function.
    pub binary: String,
}

/// A DynamoDB table declared in the template.
#[derive(Debug, Clone)]
pub struct TableDef {
    pub logical_id: String,
    /// The function environment variable that carries its name.
    pub env_var: String,
    props: Value,
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn seq<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_sequence)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The logical id in a `!Ref X` (or `{Ref: X}`) value.
fn ref_target(v: &Value) -> Option<&str> {
    match v {
        Value::Tagged(t) if t.tag == "Ref" => t.value.as_str(),
        Value::Mapping(m) => m.get("Ref").and_then(Value::as_str),
        _ => None,
    }
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, Error> {
        let raw = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        Ok(Template {
            root: serde_yaml::from_str(&raw)?,
        })
    }

    fn resources(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.root
            .get("Resources")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.as_str()?, v)))
    }

    /// Every `HttpApi` event of every function.
    pub fn routes(&self) -> Vec<RouteDef> {
        let mut routes = Vec::new();
        for (_, res) in self
            .resources()
            .filter(|(_, r)| text(r, "Type") == Some("AWS::Serverless::Function"))
        {
            let Some(binary) = res
                .get("Metadata")
                .and_then(|m| m.get("BuildProperties"))
                .and_then(|b| text(b, "Binary"))
            else {
                continue;
            };
            let events = res
                .get("Properties")
                .and_then(|p| p.get("Events"))
                .and_then(Value::as_mapping);
            for event in events.into_iter().flat_map(|m| m.values()) {
                if text(event, "Type") != Some("HttpApi") {
                    continue;
                }
                let props = &event["Properties"];
                if let (Some(method), Some(path)) = (text(props, "Method"), text(props, "Path")) {
                    routes.push(RouteDef {
                        method: method.to_ascii_uppercase(),
                        path: path.into(),
                        binary: binary.into(),
                    });
                }
            }
        }
        routes
    }

    /// Every `AWS::DynamoDB::Table`, with the environment variable that
    /// `Globals.Function.Environment` binds to it.
    pub fn tables(&self) -> Vec<TableDef> {
        let vars = self.root["Globals"]["Function"]["Environment"]["Variables"].as_mapping();
        self.resources()
            .filter(|(_, r)| text(r, "Type") == Some("AWS::DynamoDB::Table"))
            .filter_map(|(id, r)| {
                let env_var = vars?
                    .iter()
                    .find(|(_, v)| ref_target(v) == Some(id))?
                    .0
                    .as_str()?;
                Some(TableDef {
                    logical_id: id.into(),
                    env_var: env_var.into(),
                    props: r["Properties"].clone(),
                })
            })
            .collect()
    }
}

fn key_schema(v: &Value) -> Vec<KeySchemaElement> {
    seq(v, "KeySchema")
        .iter()
        .filter_map(|k| {
            KeySchemaElement::builder()
                .attribute_name(text(k, "AttributeName")?)
                .key_type(KeyType::from(text(k, "KeyType")?))
                .build()
                .ok()
        })
        .collect()
}

impl TableDef {
    /// Creates the table under `name` unless it exists; sets its TTL
    /// attribute when the template declares one. Returns whether it created it.
    pub async fn ensure(&self, client: &Client, name: &str) -> Result<bool, Error> {
        if client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .is_ok()
        {
            return Ok(false);
        }
        let p = &self.props;
        let attrs = seq(p, "AttributeDefinitions").iter().filter_map(|a| {
            AttributeDefinition::builder()
                .attribute_name(text(a, "AttributeName")?)
                .attribute_type(ScalarAttributeType::from(text(a, "AttributeType")?))
                .build()
                .ok()
        });
        let gsis = seq(p, "GlobalSecondaryIndexes").iter().map(|g| {
            let proj = &g["Projection"];
            let projection = Projection::builder()
                .set_projection_type(text(proj, "ProjectionType").map(ProjectionType::from))
                .set_non_key_attributes(proj.get("NonKeyAttributes").map(|_| {
                    seq(proj, "NonKeyAttributes")
                        .iter()
                        .filter_map(|a| a.as_str().map(String::from))
                        .collect()
                }))
                .build();
            GlobalSecondaryIndex::builder()
                .index_name(text(g, "IndexName").unwrap_or_default())
                .set_key_schema(Some(key_schema(g)))
                .projection(projection)
                .build()
        });
        let gsis: Vec<_> = gsis.collect::<Result<_, _>>()?;
        let created = client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(attrs.collect()))
            .set_key_schema(Some(key_schema(p)))
            .set_global_secondary_indexes((!gsis.is_empty()).then_some(gsis))
            .send()
            .await;
        if let Err(e) = created {
            // Another process may have created it between our check and now.
            if client
                .describe_table()
                .table_name(name)
                .send()
                .await
                .is_ok()
            {
                return Ok(false);
            }
            return Err(format!(
                "creating table {name}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            )
            .into());
        }
        if let Some(ttl) = p.get("TimeToLiveSpecification")
            && let Some(attr) = text(ttl, "AttributeName")
        {
            client
                .update_time_to_live()
                .table_name(name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(attr)
                        .enabled(true)
                        .build()?,
                )
                .send()
                .await?;
        }
        Ok(true)
    }
}

/// Creates every table of the template that `config` names and is missing.
/// Returns the names of the tables it created.
pub async fn ensure_tables(
    client: &Client,
    config: &Config,
    template: &Template,
) -> Result<Vec<String>, Error> {
    let mut created = Vec::new();
    for table in template.tables() {
        let name = config.table_for_env(&table.env_var).ok_or_else(|| {
            format!(
                "template binds {} to {}, which the code does not read",
                table.env_var, table.logical_id
            )
        })?;
        if table.ensure(client, name).await? {
            created.push(name.to_string());
        }
    }
    Ok(created)
}
