//! The cold-start baseline: the smallest `lambda_runtime` function, built
//! with the same profile as the API's functions.

use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, lambda_runtime::Error>(json!({"statusCode": 200, "body": "hello"}))
    }))
    .await
}
