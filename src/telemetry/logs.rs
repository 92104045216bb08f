//! JSON log lines for collectors, one object per line, in the shape of tracing-subscriber's
//! JSON format (`timestamp`, `level`, `target`, the event's own fields under `fields`, the
//! innermost span under `span`) plus, at the top level, the fields of *every* span the event
//! happened in (outermost first). So an event deep inside a handler's `#[instrument]` span
//! still carries the `request_id`, `method` and `path` of the request span around it, where a
//! collector indexes them. (tracing-subscriber's own format shows only the innermost span's
//! fields, which is how errors logged inside handlers lost their request id.)

use std::fmt::Write as _;

use serde_json::{Map, Value};
use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{
    fmt::{
        FmtContext, FormatEvent, FormattedFields,
        format::{JsonFields, Writer},
    },
    registry::LookupSpan,
};

/// Top-level keys of a line that no span field may take.
const RESERVED: &[&str] = &["timestamp", "level", "target", "span", "fields"];

/// The event format of JSON logs (use with [`JsonFields`] as the span field formatter).
pub struct FlatJson;

impl<S> FormatEvent<S, JsonFields> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            // Log lines are stamped with the wall clock, never a test's fixed clock.
            crate::clock::Clock::now(&crate::clock::SystemClock)
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .into(),
        );
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("target".into(), meta.target().into());
        if let Some(scope) = ctx.event_scope() {
            let mut innermost = Map::new();
            for span in scope.from_root() {
                innermost = Map::new();
                innermost.insert("name".into(), span.name().into());
                let extensions = span.extensions();
                let Some(fields) = extensions.get::<FormattedFields<JsonFields>>() else {
                    continue;
                };
                if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(fields) {
                    for (k, v) in map {
                        innermost.insert(k.clone(), v.clone());
                        if !RESERVED.contains(&k.as_str()) {
                            line.insert(k, v);
                        }
                    }
                }
            }
            line.insert("span".into(), Value::Object(innermost));
        }
        let mut fields = Map::new();
        event.record(&mut Fields(&mut fields));
        line.insert("fields".into(), Value::Object(fields));
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Writes an event's fields into the line.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.0.insert(field.name().into(), text.into());
    }
}
