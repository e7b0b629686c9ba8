//! An SDK interceptor that meters what a request costs: it asks DynamoDB
//! for `ReturnConsumedCapacity: INDEXES` on every call, sums the capacity
//! units in the answers, and counts round trips. It is added only to the
//! bench's own client, so the production path carries none of it.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
    BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_types::body::SdkBody;
use serde_json::Value;

/// Totals since the last [`Meter::take`].
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Reading {
    pub round_trips: u32,
    pub capacity_units: f64,
}

#[derive(Debug, Default, Clone)]
pub struct Meter(Arc<Mutex<Reading>>);

impl Meter {
    /// The reading so far, resetting it.
    pub fn take(&self) -> Reading {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Sums `CapacityUnits` of a `ConsumedCapacity` object or array.
fn capacity_units(v: &Value) -> f64 {
    match v {
        Value::Array(a) => a.iter().map(capacity_units).sum(),
        Value::Object(o) => o
            .get("CapacityUnits")
            .and_then(Value::as_f64)
            .unwrap_or(0.0),
        _ => 0.0,
    }
}

impl Intercept for Meter {
    fn name(&self) -> &'static str {
        "bench::Meter"
    }

    fn modify_before_signing(
        &self,
        ctx: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = ctx.request_mut();
        let Some(Ok(Value::Object(mut body))) =
            req.body().bytes().map(serde_json::from_slice::<Value>)
        else {
            return Ok(());
        };
        body.insert("ReturnConsumedCapacity".into(), "INDEXES".into());
        let bytes = serde_json::to_vec(&body)?;
        req.headers_mut()
            .insert("content-length", bytes.len().to_string());
        *req.body_mut() = SdkBody::from(bytes);
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.lock().unwrap().round_trips += 1;
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        ctx: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(Ok(body)) = ctx
            .response()
            .body()
            .bytes()
            .map(serde_json::from_slice::<Value>)
            && let Some(cc) = body.get("ConsumedCapacity")
        {
            self.0.lock().unwrap().capacity_units += capacity_units(cc);
        }
        Ok(())
    }
}
