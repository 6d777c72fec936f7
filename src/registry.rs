//! The registry of services and webhooks, and dispatch: turning "this
//! happened on this call" into the requests to send.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind};
use crate::event::Event;
use crate::field::{Call, CallData, Catalog, Layers, Value};
use crate::request::{debug_record, Preview};
use crate::service::{is_uuid, Config, Service, ServiceConfig};
use crate::signing::Stamp;
use crate::webhook::{WebhookConfig, WebhookRow};

/// One request to send, from a dispatch.
#[derive(Debug)]
pub struct Outgoing {
    /// The webhook that fired.
    pub webhook: String,
    /// The service it invoked.
    pub service: String,
    /// The delivery id: the same for the same webhook, call, agent segment,
    /// event and (for realtime updates) sequence number, so retries and
    /// receivers can de-duplicate.
    pub delivery: String,
    /// The event.
    pub event: Event,
    /// The agent segment, for per-segment events of calls with segments.
    pub segment: Option<usize>,
    /// The request, ready to send.
    pub request: http::Request<Vec<u8>>,
    /// The redacted record to store, for services with the Debug flag.
    pub debug: Option<Preview>,
    /// What signing added, so an envelope stores the request without it.
    pub(crate) stamp: Option<Stamp>,
}

impl Outgoing {
    /// The request as a [`Preview`], with the webhook and delivery ids.
    pub fn preview(&self, show_secrets: bool) -> Preview {
        let mut preview = Preview::of(&self.service, &self.request, show_secrets);
        preview.webhook = Some(self.webhook.clone());
        preview.delivery = Some(self.delivery.clone());
        preview
    }
}

/// Everything one dispatch produced: the requests to send, and the webhooks
/// that could not be rendered for this call (nothing is dropped silently).
#[derive(Debug, Default)]
pub struct Dispatch {
    /// The requests, in webhook creation order (and segment order).
    pub requests: Vec<Outgoing>,
    /// Webhook ids with the error that kept each from rendering.
    pub errors: Vec<(String, Error)>,
}

/// Services and webhooks, indexed for dispatch by event and scope.
///
/// The registry serialises (through [`Config`]) so a host can keep it in its
/// own database and load it back identical. Deserialising checks it against
/// the standard catalog; with a catalog of your own, use
/// [`Registry::to_config`] and [`Registry::from_config`].
#[derive(Debug, Clone)]
pub struct Registry {
    catalog: Catalog,
    services: HashMap<String, Service>,
    webhooks: HashMap<String, WebhookConfig>,
    /// event → scope → webhook ids.
    index: HashMap<Event, HashMap<String, Vec<String>>>,
}

impl PartialEq for Registry {
    fn eq(&self, other: &Registry) -> bool {
        self.catalog == other.catalog
            && self.services == other.services
            && self.webhooks == other.webhooks
    }
}

/// Events that fire once per agent segment when the call has segments.
fn per_segment(event: Event) -> bool {
    matches!(event, Event::AgentConnect | Event::AgentTermination)
}

fn registry_error(message: String) -> Error {
    Error::new(ErrorKind::Registry, message)
}

impl Registry {
    /// An empty registry checking templates against `catalog`.
    pub fn new(catalog: Catalog) -> Registry {
        Registry {
            catalog,
            services: HashMap::new(),
            webhooks: HashMap::new(),
            index: HashMap::new(),
        }
    }

    /// Loads a configuration, reporting every problem of every service and
    /// webhook at once; an invalid configuration never half-loads.
    pub fn from_config(config: &Config, catalog: Catalog) -> Result<Registry, Error> {
        let mut registry = Registry::new(catalog);
        let mut errors = Vec::new();
        let mut collect = |result: Result<(), Error>| {
            if let Err(e) = result {
                errors.extend(e.into_problems());
            }
        };
        let mut broken = Vec::new();
        for service in &config.services {
            let added = registry.add_service(service.clone());
            if added.is_err() {
                broken.push(service.id.as_str());
            }
            collect(added);
        }
        for (i, webhook) in config.webhooks.iter().enumerate() {
            // A service that failed to compile has been reported already.
            if broken.contains(&webhook.service.as_str()) {
                continue;
            }
            collect(
                registry
                    .add_webhook(webhook.clone())
                    .map_err(|e| e.in_field(&format!("webhooks.{i}"))),
            );
        }
        if errors.is_empty() {
            Ok(registry)
        } else {
            Err(Error::many(errors))
        }
    }

    /// The configuration: every service and webhook, sorted by id.
    pub fn to_config(&self) -> Config {
        let services: BTreeMap<_, _> = self.services.iter().collect();
        let webhooks: BTreeMap<_, _> = self.webhooks.iter().collect();
        Config {
            services: services.values().map(|s| s.config().clone()).collect(),
            webhooks: webhooks.values().map(|&w| w.clone()).collect(),
        }
    }

    /// The catalog templates are checked against.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    // Services.

    /// Adds a service; its id must be new.
    pub fn add_service(&mut self, config: ServiceConfig) -> Result<(), Error> {
        if self.services.contains_key(&config.id) {
            return Err(
                registry_error(format!("service `{}` already exists", config.id))
                    .in_service(&config.id),
            );
        }
        let service = config.compile(&self.catalog)?;
        self.services.insert(config.id, service);
        Ok(())
    }

    /// Replaces a service's configuration (the PBX's pencil action). The
    /// new one must compile, and still suit every realtime webhook using
    /// it; otherwise nothing changes.
    pub fn update_service(&mut self, config: ServiceConfig) -> Result<(), Error> {
        if !self.services.contains_key(&config.id) {
            return Err(registry_error(format!("no service `{}`", config.id)));
        }
        let service = config.compile(&self.catalog)?;
        for webhook in self.webhooks.values().filter(|w| w.service == config.id) {
            self.check_realtime(webhook, &service)?;
        }
        self.services.insert(config.id, service);
        Ok(())
    }

    /// Enables or disables a service; a disabled service's webhooks do not
    /// fire.
    pub fn set_service_enabled(&mut self, id: &str, enabled: bool) -> Result<(), Error> {
        let mut config = self
            .service(id)
            .ok_or_else(|| registry_error(format!("no service `{id}`")))?
            .config()
            .clone();
        config.enabled = enabled;
        self.update_service(config)
    }

    /// Deletes a service. Refused while a webhook uses it.
    pub fn remove_service(&mut self, id: &str) -> Result<ServiceConfig, Error> {
        let mut users: Vec<&str> = self
            .webhooks
            .values()
            .filter(|w| w.service == id)
            .map(|w| w.id.as_str())
            .collect();
        if !users.is_empty() {
            users.sort_unstable();
            let users: Vec<String> = users.iter().map(|u| format!("`{u}`")).collect();
            return Err(registry_error(format!(
                "service `{id}` is used by webhook {}; delete or rebind those first",
                users.join(", ")
            ))
            .in_service(id));
        }
        self.services
            .remove(id)
            .map(|s| s.config().clone())
            .ok_or_else(|| registry_error(format!("no service `{id}`")))
    }

    /// The service with this id.
    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.get(id)
    }

    /// Every service, sorted by id.
    pub fn services(&self) -> Vec<&Service> {
        let mut services: Vec<&Service> = self.services.values().collect();
        services.sort_by(|a, b| a.id().cmp(b.id()));
        services
    }

    // Webhooks.

    fn check_realtime(&self, webhook: &WebhookConfig, service: &Service) -> Result<(), Error> {
        if !webhook.is_realtime() {
            return Ok(());
        }
        let mut errors = Vec::new();
        for field in service.fields() {
            let carried = self
                .catalog
                .get(field)
                .is_none_or(|spec| spec.events().contains(Event::CallStatusChange));
            if !carried {
                errors.push(
                    Error::new(
                        ErrorKind::InvalidConfig,
                        format!(
                            "realtime webhook `{}` uses field `{field}`, which is not known \
                             until the call ends; send it from a final webhook instead",
                            webhook.id
                        ),
                    )
                    .in_service(service.id()),
                );
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::many(errors))
        }
    }

    fn check_webhook(&self, webhook: &WebhookConfig) -> Result<(), Error> {
        if !is_uuid(&webhook.id) {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                format!("webhook id `{}` is not a UUID", webhook.id),
            )
            .in_field("id"));
        }
        let service = self.services.get(&webhook.service).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidConfig,
                format!(
                    "webhook `{}` names service `{}`, which does not exist",
                    webhook.id, webhook.service
                ),
            )
            .in_field("service")
        })?;
        self.check_realtime(webhook, service)
    }

    fn index_webhook(&mut self, webhook: &WebhookConfig) {
        let by_scope = self.index.entry(webhook.event).or_default();
        for scope in &webhook.scopes {
            let ids = by_scope.entry(scope.clone()).or_default();
            if !ids.contains(&webhook.id) {
                ids.push(webhook.id.clone());
            }
        }
    }

    fn unindex_webhook(&mut self, webhook: &WebhookConfig) {
        if let Some(by_scope) = self.index.get_mut(&webhook.event) {
            for scope in &webhook.scopes {
                if let Some(ids) = by_scope.get_mut(scope) {
                    ids.retain(|id| *id != webhook.id);
                    if ids.is_empty() {
                        by_scope.remove(scope);
                    }
                }
            }
        }
    }

    /// Adds a webhook; its id must be new and its service must exist.
    pub fn add_webhook(&mut self, webhook: WebhookConfig) -> Result<(), Error> {
        if self.webhooks.contains_key(&webhook.id) {
            return Err(registry_error(format!(
                "webhook `{}` already exists",
                webhook.id
            )));
        }
        self.check_webhook(&webhook)?;
        self.index_webhook(&webhook);
        self.webhooks.insert(webhook.id.clone(), webhook);
        Ok(())
    }

    /// Replaces a webhook (its event, service, scopes, status).
    pub fn update_webhook(&mut self, webhook: WebhookConfig) -> Result<(), Error> {
        let old = self
            .webhooks
            .get(&webhook.id)
            .cloned()
            .ok_or_else(|| registry_error(format!("no webhook `{}`", webhook.id)))?;
        self.check_webhook(&webhook)?;
        self.unindex_webhook(&old);
        self.index_webhook(&webhook);
        self.webhooks.insert(webhook.id.clone(), webhook);
        Ok(())
    }

    /// Enables or disables a webhook.
    pub fn set_webhook_enabled(&mut self, id: &str, enabled: bool) -> Result<(), Error> {
        let webhook = self
            .webhooks
            .get_mut(id)
            .ok_or_else(|| registry_error(format!("no webhook `{id}`")))?;
        webhook.enabled = enabled;
        Ok(())
    }

    /// Deletes a webhook.
    pub fn remove_webhook(&mut self, id: &str) -> Result<WebhookConfig, Error> {
        let webhook = self
            .webhooks
            .remove(id)
            .ok_or_else(|| registry_error(format!("no webhook `{id}`")))?;
        self.unindex_webhook(&webhook);
        Ok(webhook)
    }

    /// The webhook with this id.
    pub fn webhook(&self, id: &str) -> Option<&WebhookConfig> {
        self.webhooks.get(id)
    }

    /// The webhook listing, oldest first: creation time, status, event,
    /// service, URL and method.
    pub fn webhooks(&self) -> Vec<WebhookRow> {
        let mut rows: Vec<WebhookRow> = self
            .webhooks
            .values()
            .map(|w| {
                let service = self.services.get(&w.service);
                WebhookRow {
                    id: w.id.clone(),
                    created_at: w.created_at,
                    enabled: w.enabled,
                    event: w.event,
                    service: w.service.clone(),
                    url: service.map(|s| s.config().url.clone()).unwrap_or_default(),
                    method: service.map(|s| s.method().to_string()).unwrap_or_default(),
                }
            })
            .collect();
        rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        rows
    }

    /// The body template of a webhook's service, as configured (the PBX's
    /// eye action).
    pub fn webhook_body(&self, id: &str) -> Option<String> {
        let webhook = self.webhooks.get(id)?;
        Some(self.services.get(&webhook.service)?.body_text())
    }

    // Dispatch.

    /// Every enabled webhook bound to `event` and subscribed to a scope of
    /// `call`, oldest first; the cost depends on the matches, not on how
    /// many webhooks exist.
    fn matching(&self, event: Event, call: &Call) -> Vec<&WebhookConfig> {
        let Some(by_scope) = self.index.get(&event) else {
            return Vec::new();
        };
        let mut found: Vec<&WebhookConfig> = call
            .scopes
            .iter()
            .filter_map(|scope| by_scope.get(scope))
            .flatten()
            .filter_map(|id| self.webhooks.get(id))
            .filter(|w| w.enabled)
            .collect();
        found.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        found.dedup_by(|a, b| a.id == b.id);
        found
    }

    /// Dispatches `event` for `call` at time `at`: every request to send,
    /// signed with time `at` where the service signs.
    ///
    /// Agent Connect and Agent Termination fire once per agent segment when
    /// the call has segments, each with that segment's data over the
    /// call's. Every request's data also has `event` (the event's name),
    /// `event_time` (`at`) and `delivery_id`.
    pub fn dispatch(&self, event: Event, call: &Call, at: DateTime<Utc>) -> Dispatch {
        let segments: Vec<Option<usize>> = if per_segment(event) && !call.segments.is_empty() {
            (0..call.segments.len()).map(Some).collect()
        } else {
            vec![None]
        };
        let mut dispatch = Dispatch::default();
        for webhook in self.matching(event, call) {
            for &segment in &segments {
                self.fire(webhook, event, call, segment, None, at, &mut dispatch);
            }
        }
        dispatch
    }

    /// Dispatches `event` for one agent segment of `call`, for hosts that
    /// fire as each segment ends.
    pub fn dispatch_segment(
        &self,
        event: Event,
        call: &Call,
        segment: usize,
        at: DateTime<Utc>,
    ) -> Dispatch {
        let mut dispatch = Dispatch::default();
        for webhook in self.matching(event, call) {
            self.fire(webhook, event, call, Some(segment), None, at, &mut dispatch);
        }
        dispatch
    }

    /// Dispatches a realtime update (AVANSER): the call's status changed to
    /// `status`, the `sequence`-th change of this call (from 1). Realtime
    /// webhooks receive `status` and `sequence` as fields, and each update
    /// has its own delivery id.
    pub fn status_change(
        &self,
        call: &Call,
        status: &str,
        sequence: u64,
        at: DateTime<Utc>,
    ) -> Dispatch {
        let mut dispatch = Dispatch::default();
        for webhook in self.matching(Event::CallStatusChange, call) {
            self.fire(
                webhook,
                Event::CallStatusChange,
                call,
                None,
                Some((status, sequence)),
                at,
                &mut dispatch,
            );
        }
        dispatch
    }

    #[allow(clippy::too_many_arguments)]
    fn fire(
        &self,
        webhook: &WebhookConfig,
        event: Event,
        call: &Call,
        segment: Option<usize>,
        realtime: Option<(&str, u64)>,
        at: DateTime<Utc>,
        dispatch: &mut Dispatch,
    ) {
        let Some(service) = self.services.get(&webhook.service) else {
            return;
        };
        if !service.is_enabled() {
            return;
        }
        let delivery = delivery_id(&webhook.id, &call.id, segment, event, realtime.map(|r| r.1));
        let mut own = CallData::new()
            .with("event", event.name())
            .with("event_time", at)
            .with("delivery_id", delivery.as_str());
        if let Some((status, sequence)) = realtime {
            own.insert("status", status);
            own.insert(
                "sequence",
                Value::Integer(i64::try_from(sequence).unwrap_or(i64::MAX)),
            );
        }
        let empty = CallData::new();
        let segment_data = segment.and_then(|i| call.segments.get(i)).unwrap_or(&empty);
        let request = service
            .request_with(&Layers([&own, segment_data, &call.data]))
            .and_then(|mut request| {
                let stamp = service.stamp(&mut request, &delivery, at)?;
                Ok((request, stamp))
            });
        match request {
            Ok((request, stamp)) => dispatch.requests.push(Outgoing {
                stamp,
                webhook: webhook.id.clone(),
                service: service.id().to_owned(),
                delivery,
                event,
                segment,
                debug: debug_record(service, &request),
                request,
            }),
            Err(e) => dispatch.errors.push((webhook.id.clone(), e)),
        }
    }
}

impl Registry {
    /// The request of a stored delivery, signed for an attempt at `at`
    /// (each attempt is signed with its own time). The service must still
    /// exist.
    pub fn request_for(
        &self,
        envelope: &crate::delivery::Envelope,
        at: DateTime<Utc>,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let service = self
            .services
            .get(&envelope.service)
            .ok_or_else(|| registry_error(format!("no service `{}`", envelope.service)))?;
        let mut request = envelope.to_request()?;
        service.sign(&mut request, &envelope.delivery, at)?;
        Ok(request)
    }

    /// The retry policy for a delivery through `service`: the service's
    /// own, or the default.
    pub fn retry_policy(&self, service: &str) -> crate::delivery::RetryPolicy {
        self.services
            .get(service)
            .map(Service::retry_policy)
            .unwrap_or_default()
    }
}

/// A UUID (version 8, from SHA-256) of the delivery's identity.
fn delivery_id(
    webhook: &str,
    call: &str,
    segment: Option<usize>,
    event: Event,
    sequence: Option<u64>,
) -> String {
    let mut hash = Sha256::new();
    for part in [webhook, call, event.name()] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.update(segment.map_or(u64::MAX, |s| s as u64).to_be_bytes());
    hash.update(sequence.unwrap_or(0).to_be_bytes());
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

impl Serialize for Registry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_config().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Registry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Registry, D::Error> {
        let config = Config::deserialize(deserializer)?;
        Registry::from_config(&config, Catalog::standard().clone())
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const S1: &str = "00000000-0000-4000-8000-000000000001";
    const W1: &str = "00000000-0000-4000-8000-0000000000a1";
    const W2: &str = "00000000-0000-4000-8000-0000000000a2";

    fn service(id: &str, body: &str) -> ServiceConfig {
        serde_json::from_value(json!({
            "id": id, "name": "s", "method": "POST", "url": "https://x.example.com/h",
            "body": {"kind": "json", "template": body}
        }))
        .unwrap()
    }

    fn webhook(id: &str, event: Event, scopes: &[&str]) -> WebhookConfig {
        WebhookConfig {
            id: id.into(),
            enabled: true,
            event,
            service: S1.into(),
            created_at: "2024-12-01T00:00:00Z".parse().unwrap(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn at() -> DateTime<Utc> {
        "2024-12-02T21:10:00Z".parse().unwrap()
    }

    fn call(scopes: &[&str]) -> Call {
        Call {
            id: "c1".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            data: CallData::new().with("uuid", "u1"),
            segments: vec![],
        }
    }

    #[test]
    fn fires_only_subscribed_enabled_webhooks_once() {
        let mut r = Registry::new(Catalog::standard().clone());
        r.add_service(service(S1, r##"{"e": "#event#", "u": "#uuid#"}"##))
            .unwrap();
        r.add_webhook(webhook(W1, Event::CallHangup, &["A", "B"]))
            .unwrap();
        r.add_webhook(webhook(W2, Event::CallHangup, &[])).unwrap();
        let d = r.dispatch(Event::CallHangup, &call(&["A", "B"]), at());
        assert_eq!(d.requests.len(), 1);
        assert_eq!(
            d.requests[0].request.body(),
            br#"{"e": "Call:Hangup", "u": "u1"}"#
        );
        assert!(r
            .dispatch(Event::CallAnswer, &call(&["A"]), at())
            .requests
            .is_empty());
        assert!(r
            .dispatch(Event::CallHangup, &call(&["C"]), at())
            .requests
            .is_empty());
        r.set_webhook_enabled(W1, false).unwrap();
        assert!(r
            .dispatch(Event::CallHangup, &call(&["A"]), at())
            .requests
            .is_empty());
        r.set_webhook_enabled(W1, true).unwrap();
        r.set_service_enabled(S1, false).unwrap();
        assert!(r
            .dispatch(Event::CallHangup, &call(&["A"]), at())
            .requests
            .is_empty());
    }

    #[test]
    fn delivery_ids_are_stable_and_distinct() {
        let a = delivery_id(W1, "c1", None, Event::CallHangup, None);
        assert_eq!(a, delivery_id(W1, "c1", None, Event::CallHangup, None));
        assert!(is_uuid(&a));
        assert_ne!(a, delivery_id(W1, "c1", Some(0), Event::CallHangup, None));
        assert_ne!(a, delivery_id(W1, "c2", None, Event::CallHangup, None));
        assert_ne!(a, delivery_id(W2, "c1", None, Event::CallHangup, None));
        assert_ne!(a, delivery_id(W1, "c1", None, Event::CallHangup, Some(1)));
    }

    #[test]
    fn services_in_use_cannot_be_removed() {
        let mut r = Registry::new(Catalog::standard().clone());
        r.add_service(service(S1, "{}")).unwrap();
        r.add_webhook(webhook(W1, Event::CallHangup, &["A"]))
            .unwrap();
        let err = r.remove_service(S1).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Registry);
        assert!(err.message().contains(W1));
        r.remove_webhook(W1).unwrap();
        r.remove_service(S1).unwrap();
        assert!(r
            .add_webhook(webhook(W1, Event::CallHangup, &["A"]))
            .is_err());
    }

    #[test]
    fn realtime_webhooks_cannot_use_end_of_call_fields() {
        let mut r = Registry::new(Catalog::standard().clone());
        r.add_service(service(S1, r##"{"r": "#recording_url#"}"##))
            .unwrap();
        let err = r
            .add_webhook(webhook(W1, Event::CallStatusChange, &["A"]))
            .unwrap_err();
        assert!(err.message().contains("`recording_url`"), "{err}");
        r.add_webhook(webhook(W1, Event::CallReporting, &["A"]))
            .unwrap();
        // Rebinding to realtime is refused too, and changes nothing.
        assert!(r
            .update_webhook(webhook(W1, Event::CallStatusChange, &["A"]))
            .is_err());
        assert_eq!(r.webhook(W1).unwrap().event, Event::CallReporting);
    }

    #[test]
    fn registry_round_trips_through_json() {
        let mut r = Registry::new(Catalog::standard().clone());
        r.add_service(service(S1, "{}")).unwrap();
        r.add_webhook(webhook(W1, Event::CallHangup, &["A"]))
            .unwrap();
        let json = serde_json::to_string(&r).unwrap();
        let back: Registry = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        assert_eq!(
            back.dispatch(Event::CallHangup, &call(&["A"]), at())
                .requests
                .len(),
            1
        );
    }
}
