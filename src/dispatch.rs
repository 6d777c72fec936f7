//! Dispatch: turning "this happened on this call" into the requests to
//! send, and signing each for the attempt that sends it.

use std::fmt;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::call::{Call, CallData, Lookup};
use crate::catalog::{Builtin, FieldKey, Positions};
use crate::error::Error;
use crate::event::Event;
use crate::id::DeliveryId;
use crate::preview::{Preview, Summary};
use crate::registry::{registry_error, Entry, Registry};
use crate::request::Request;
use crate::retry::RetryPolicy;
use crate::service::Service;
use crate::value::Value;
use crate::webhook::WebhookConfig;

/// One request to send, from a dispatch, or from a stored
/// [`Envelope`](crate::Envelope) for a later attempt.
///
/// The request is unsigned: sign it for the attempt that sends it with
/// [`Registry::sign`], the same call for the first attempt and every retry.
/// Its `Debug` shows the request's method, its URL with every query value
/// redacted, its header names and its body's length and SHA-256: never a
/// header value or a body byte, which may hold secrets that an outgoing
/// request, having no call data, cannot tell apart.
#[derive(Clone)]
#[non_exhaustive]
pub struct Outgoing {
    /// The webhook that fired: the registry's own copy of its id, shared.
    pub webhook: Arc<str>,
    /// The service it invoked, shared likewise.
    pub service: Arc<str>,
    /// The delivery id: the same for the same webhook, call, agent segment,
    /// event and (for realtime updates) sequence number, so retries and
    /// receivers can de-duplicate.
    pub delivery: DeliveryId,
    /// The event.
    pub event: Event,
    /// The agent segment, for per-segment events of calls with segments.
    pub segment: Option<usize>,
    /// The request, unsigned.
    pub request: Request,
    /// The redacted record to store, for services with the `debug` flag.
    pub debug: Option<Preview>,
}

impl Outgoing {
    /// The request as a [`Preview`], with the webhook and delivery ids.
    ///
    /// Unless `show_secrets`, the body shows as its length and SHA-256
    /// only, and every query value and every header value as `[redacted]`
    /// but those of the headers callhook sets and knows hold no secret
    /// (`content-type`, `content-length`, `user-agent`, `soapaction`,
    /// `webhook-id`, `webhook-timestamp`): an outgoing request keeps no
    /// call data or service to tell which values are secrets (an `api_key`
    /// header may have any name). [`Registry::preview`] renders the
    /// requests for a person, only secrets redacted.
    #[must_use]
    pub fn preview(&self, show_secrets: bool) -> Preview {
        let mut preview = Preview::of(&self.service, &self.request, show_secrets);
        preview.webhook = Some(self.webhook.to_string());
        preview.delivery = Some(self.delivery.to_string());
        preview
    }
}

impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outgoing")
            .field("webhook", &self.webhook)
            .field("service", &self.service)
            .field("delivery", &self.delivery)
            .field("event", &self.event)
            .field("segment", &self.segment)
            .field(
                "request",
                &Summary {
                    method: self.request.method().as_str(),
                    url: &self.request.uri().to_string(),
                    headers: self
                        .request
                        .headers()
                        .keys()
                        .map(|name| name.as_str())
                        .collect(),
                    body: self.request.body(),
                },
            )
            .finish_non_exhaustive()
    }
}

/// Everything one dispatch produced: the requests to send, and the webhooks
/// that could not be rendered for this call (nothing is dropped silently).
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Dispatch {
    /// The requests, in webhook creation order (and segment order).
    pub requests: Vec<Outgoing>,
    /// Webhook ids with the error that kept each from rendering.
    pub errors: Vec<(String, Error)>,
}

/// Where [`Registry::fire`] puts what it renders: requests to send, or
/// requests shown to a person.
enum Sink<'a> {
    Dispatch(&'a mut Dispatch),
    Preview(&'a mut Vec<(String, Result<Preview, Error>)>),
}

/// The scope a webhook subscribes to to fire for every call.
pub(crate) const ALL_SCOPES: &str = "*";

/// Why a webhook does or does not fire for an event on a call: what
/// [`Registry::explain`] says of each webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// It fires.
    Fires,
    /// It is bound to another event.
    OtherEvent(Event),
    /// It subscribes to none of the call's scopes (it subscribes to these).
    ScopeNotSubscribed(Vec<String>),
    /// It is disabled.
    WebhookDisabled,
    /// Its service is disabled.
    ServiceDisabled,
}

/// One webhook's [`Verdict`] for an event on a call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Explanation {
    /// The webhook.
    pub webhook: String,
    /// Its service.
    pub service: String,
    /// Whether it fires, and if not, why not.
    pub verdict: Verdict,
}

/// The fields dispatch sets on each request, borrowed where they are text
/// so that setting them allocates nothing.
struct Builtins<'a> {
    event: &'a str,
    event_time: Value,
    delivery_id: &'a str,
    status: Option<&'a str>,
    sequence: Option<Value>,
}

/// What a dispatched request renders from: dispatch's own fields over the
/// segment's over the call's, without copying any.
struct Layers<'a> {
    builtins: &'a Builtins<'a>,
    segment: Option<&'a CallData>,
    call: &'a CallData,
}

impl Lookup for Layers<'_> {
    #[inline]
    fn builtin_text(&self, key: &FieldKey) -> Option<&str> {
        match key.builtin? {
            Builtin::Event => Some(self.builtins.event),
            Builtin::DeliveryId => Some(self.builtins.delivery_id),
            Builtin::Status => self.builtins.status,
            Builtin::EventTime | Builtin::Sequence => None,
        }
    }

    #[inline]
    fn lookup(&self, positions: &Positions, key: &FieldKey) -> Option<&Value> {
        let builtin = match key.builtin {
            Some(Builtin::EventTime) => Some(&self.builtins.event_time),
            Some(Builtin::Sequence) => self.builtins.sequence.as_ref(),
            _ => None,
        };
        builtin
            .or_else(|| {
                self.segment
                    .and_then(|segment| segment.lookup(positions, key))
            })
            .or_else(|| self.call.lookup(positions, key))
    }
}

impl Registry {
    /// Every enabled webhook bound to `event` and subscribed to a scope of
    /// `call`, oldest first; the cost depends on the matches, not on how
    /// many webhooks exist.
    fn matching(&self, event: &Event, call: &Call) -> Vec<(&Arc<str>, &WebhookConfig)> {
        let Some(by_scope) = self.index.get(event) else {
            return Vec::new();
        };
        let mut found: Vec<(&Arc<str>, &WebhookConfig)> = call
            .scopes
            .iter()
            .map(String::as_str)
            .chain([ALL_SCOPES])
            .filter_map(|scope| by_scope.get(scope))
            .flat_map(|ids| ids.iter())
            .filter_map(|id| self.webhooks.get_key_value(id))
            .map(|(id, w)| (id, &**w))
            .filter(|(_, w)| w.enabled)
            .collect();
        found.sort_by(|(_, a), (_, b)| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        found.dedup_by(|(a, _), (b, _)| a == b);
        found
    }

    /// The segments `event` fires for on `call`: each segment in turn for a
    /// per-segment event on a call with segments, or the whole call once.
    fn segments(&self, event: &Event, call: &Call) -> impl Iterator<Item = Option<usize>> + Clone {
        let per_segment = self
            .catalog
            .event(event)
            .is_some_and(|spec| spec.per_segment);
        let segments = if per_segment { call.segments.len() } else { 0 };
        (0..segments.max(1)).map(move |i| (segments > 0).then_some(i))
    }

    /// For every webhook, oldest first, whether it fires for `event` on
    /// `call` and, if not, why not: what to look at when a dispatch sends
    /// nothing. It looks at every webhook, so it is for people, not for the
    /// dispatch path.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Call, Catalog, Config, Event, Registry, Verdict};
    ///
    /// let config = Config::from_json(include_str!("../examples/configs/pbx.json"))?;
    /// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    /// let mut call = Call::from_json(include_str!("../examples/calls/pbx-call.json"))?;
    /// call.scopes = vec!["nobody".into()];
    /// let explained = registry.explain(Event::CallHangup, &call);
    /// assert!(explained.iter().all(|e| e.verdict != Verdict::Fires));
    /// assert!(explained
    ///     .iter()
    ///     .any(|e| matches!(e.verdict, Verdict::ScopeNotSubscribed(_))));
    /// # Ok::<(), callhook::Error>(())
    /// ```
    #[must_use]
    pub fn explain(&self, event: Event, call: &Call) -> Vec<Explanation> {
        let mut webhooks: Vec<&WebhookConfig> = self.webhooks.values().map(|w| &**w).collect();
        webhooks.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        webhooks
            .into_iter()
            .map(|webhook| {
                let subscribed = webhook
                    .scopes
                    .iter()
                    .any(|s| s == ALL_SCOPES || call.scopes.contains(s));
                // A disabled webhook fires for no call, so that is what is
                // said of it whatever its scopes; only a webhook bound to
                // another event is explained by that first.
                let verdict = if webhook.event != event {
                    Verdict::OtherEvent(webhook.event.clone())
                } else if !webhook.enabled {
                    Verdict::WebhookDisabled
                } else if !subscribed {
                    Verdict::ScopeNotSubscribed(webhook.scopes.clone())
                } else if !self
                    .service(webhook.service.as_str())
                    .is_some_and(Service::is_enabled)
                {
                    Verdict::ServiceDisabled
                } else {
                    Verdict::Fires
                };
                Explanation {
                    webhook: webhook.id.clone(),
                    service: webhook.service.clone(),
                    verdict,
                }
            })
            .collect()
    }

    /// Dispatches `event` for `call` at time `at`: every request to send,
    /// unsigned.
    ///
    /// Agent Connect and Agent Termination fire once per agent segment when
    /// the call has segments, each with that segment's data over the
    /// call's. Every request's data also has `event` (the event's name),
    /// `event_time` (`at`) and `delivery_id`. A webhook whose request
    /// cannot be built for this call (an unsafe or missing value) is listed
    /// in [`Dispatch::errors`], and the others still go out.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Call, Catalog, Config, Event, Registry};
    ///
    /// let config = Config::from_json(include_str!("../examples/configs/pbx.json"))?;
    /// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    /// let call = Call::from_json(include_str!("../examples/calls/pbx-call.json"))?;
    /// let hangup = registry.dispatch(Event::CallHangup, &call, "2024-12-02T21:11:37Z".parse().unwrap());
    /// assert_eq!(hangup.requests.len(), 1);
    /// assert!(hangup.errors.is_empty());
    /// # Ok::<(), callhook::Error>(())
    /// ```
    #[must_use]
    pub fn dispatch(&self, event: Event, call: &Call, at: DateTime<Utc>) -> Dispatch {
        let each = self.segments(&event, call);
        let mut dispatch = Dispatch::default();
        for webhook in self.matching(&event, call) {
            for segment in each.clone() {
                self.fire(
                    webhook,
                    &event,
                    call,
                    segment,
                    None,
                    at,
                    &mut Sink::Dispatch(&mut dispatch),
                );
            }
        }
        dispatch
    }

    /// Dispatches `event` for one agent segment of `call`, for hosts that
    /// fire as each segment ends; see [`Registry::dispatch`].
    #[must_use]
    pub fn dispatch_segment(
        &self,
        event: Event,
        call: &Call,
        segment: usize,
        at: DateTime<Utc>,
    ) -> Dispatch {
        let mut dispatch = Dispatch::default();
        for webhook in self.matching(&event, call) {
            self.fire(
                webhook,
                &event,
                call,
                Some(segment),
                None,
                at,
                &mut Sink::Dispatch(&mut dispatch),
            );
        }
        dispatch
    }

    /// Dispatches a realtime update on [`Event::CallStatusChange`]: the
    /// call's status changed to `status`, the `sequence`-th change of this
    /// call (from 1), as AVANSER's realtime webhooks report; see
    /// [`Registry::status_update`].
    #[must_use]
    pub fn status_change(
        &self,
        call: &Call,
        status: &str,
        sequence: u64,
        at: DateTime<Utc>,
    ) -> Dispatch {
        self.status_update(Event::CallStatusChange, call, status, sequence, at)
    }

    /// Dispatches a realtime update on `event` (a seed's or one declared
    /// `realtime`): the call's status changed to `status`, the
    /// `sequence`-th change of this call (from 1). Webhooks receive `status`
    /// and `sequence` as fields, and each update has its own delivery id.
    #[must_use]
    pub fn status_update(
        &self,
        event: Event,
        call: &Call,
        status: &str,
        sequence: u64,
        at: DateTime<Utc>,
    ) -> Dispatch {
        let mut dispatch = Dispatch::default();
        for webhook in self.matching(&event, call) {
            self.fire(
                webhook,
                &event,
                call,
                None,
                Some((status, sequence)),
                at,
                &mut Sink::Dispatch(&mut dispatch),
            );
        }
        dispatch
    }

    /// The requests [`Registry::dispatch`] would make for `event` on
    /// `call` at `at`, as a person may see them (an admin screen, the
    /// `preview` example's `--event`): each webhook's id with its request
    /// rendered again through the redacting lookup, so that secret fields,
    /// the values mapped from them, secret pairs, secret headers and secret
    /// query parameters read `[redacted]`, and with the `content-length`
    /// that is sent; or the error that kept it from rendering, as dispatch
    /// would list it. In dispatch's order; nothing is signed.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Call, Catalog, Config, Event, Registry};
    ///
    /// let config = Config::from_json(include_str!("../examples/configs/pbx.json"))?;
    /// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    /// let call = Call::from_json(include_str!("../examples/calls/pbx-call.json"))?;
    /// let at = "2024-12-02T21:11:37Z".parse().unwrap();
    /// let shown = registry.preview(Event::CallHangup, &call, at);
    /// assert_eq!(shown.len(), registry.dispatch(Event::CallHangup, &call, at).requests.len());
    /// assert!(shown.iter().all(|(_, preview)| preview.is_ok()));
    /// # Ok::<(), callhook::Error>(())
    /// ```
    #[must_use]
    pub fn preview(
        &self,
        event: Event,
        call: &Call,
        at: DateTime<Utc>,
    ) -> Vec<(String, Result<Preview, Error>)> {
        let each = self.segments(&event, call);
        let mut previews = Vec::new();
        for webhook in self.matching(&event, call) {
            for segment in each.clone() {
                self.fire(
                    webhook,
                    &event,
                    call,
                    segment,
                    None,
                    at,
                    &mut Sink::Preview(&mut previews),
                );
            }
        }
        previews
    }

    /// [`Registry::preview`] for a realtime update, as
    /// [`Registry::status_update`] would make it.
    #[must_use]
    pub fn preview_status_update(
        &self,
        event: Event,
        call: &Call,
        status: &str,
        sequence: u64,
        at: DateTime<Utc>,
    ) -> Vec<(String, Result<Preview, Error>)> {
        let mut previews = Vec::new();
        for webhook in self.matching(&event, call) {
            self.fire(
                webhook,
                &event,
                call,
                None,
                Some((status, sequence)),
                at,
                &mut Sink::Preview(&mut previews),
            );
        }
        previews
    }

    #[allow(clippy::too_many_arguments)]
    fn fire(
        &self,
        (webhook_id, webhook): (&Arc<str>, &WebhookConfig),
        event: &Event,
        call: &Call,
        segment: Option<usize>,
        realtime: Option<(&str, u64)>,
        at: DateTime<Utc>,
        sink: &mut Sink<'_>,
    ) {
        let Some((service_id, Entry { service, .. })) =
            self.services.get_key_value(webhook.service.as_str())
        else {
            return;
        };
        if !service.is_enabled() {
            return;
        }
        let delivery = delivery_id(&webhook.id, &call.id, segment, event, realtime.map(|r| r.1));
        let builtins = Builtins {
            event: event.name(),
            event_time: Value::from(at),
            delivery_id: delivery.as_str(),
            status: realtime.map(|(status, _)| status),
            // Past `i64::MAX`, the sequence is kept as its digits: never
            // clamped, or receivers would see two updates as one.
            sequence: realtime.map(|(_, sequence)| Value::from(sequence)),
        };
        let layers = Layers {
            builtins: &builtins,
            segment: segment.and_then(|i| call.segments.get(i)),
            call: &call.data,
        };
        let rendered = service.request_with(&layers);
        match sink {
            Sink::Dispatch(dispatch) => match rendered {
                Ok(request) => dispatch.requests.push(Outgoing {
                    webhook: Arc::clone(webhook_id),
                    service: Arc::clone(service_id),
                    debug: service.debug_record_with(&layers, &request),
                    delivery,
                    event: event.clone(),
                    segment,
                    request,
                }),
                Err(e) => dispatch.errors.push((webhook.id.clone(), e)),
            },
            Sink::Preview(previews) => {
                let shown = rendered
                    .and_then(|request| service.shown_with(&layers, &request))
                    .map(|mut preview| {
                        preview.webhook = Some(webhook.id.clone());
                        preview.delivery = Some(delivery.to_string());
                        preview
                    });
                previews.push((webhook.id.clone(), shown));
            }
        }
    }

    /// Signs an outgoing request for the attempt made at `at`, if its
    /// service signs: the one way to sign, for the first attempt and for
    /// every retry of a stored [`Envelope`](crate::Envelope) alike. Signing
    /// again replaces the signature; nothing is ever added twice.
    ///
    /// The request is checked first as if it were being built now, whether
    /// it signs or not, since it may come from storage or have been changed
    /// by the host (see [`Service::sign`]): the service exists and is
    /// enabled, the URL goes to the service's origin as it is now and
    /// passes this registry's address policy, and no header frames or
    /// routes the message. The service's secret headers are marked
    /// sensitive, whatever the request's marks said.
    ///
    /// # Errors
    ///
    /// A service that no longer exists is an error of kind
    /// [`ErrorKind::Registry`](crate::ErrorKind::Registry); one that is
    /// disabled, of kind
    /// [`ErrorKind::ServiceDisabled`](crate::ErrorKind::ServiceDisabled). A
    /// request to another origin or with another method than the service's
    /// now is an error of kind
    /// [`ErrorKind::ServiceChanged`](crate::ErrorKind::ServiceChanged), for
    /// the host to dispatch again, unless its host is an internal address
    /// the registry does not allow, which is one of kind
    /// [`ErrorKind::InvalidUrl`](crate::ErrorKind::InvalidUrl). A request
    /// callhook would not build (see [`Envelope::to_outgoing`]) is refused
    /// with the kinds given there. A delivery id that cannot travel in a
    /// header is an error of kind
    /// [`ErrorKind::Signature`](crate::ErrorKind::Signature).
    ///
    /// [`Envelope::to_outgoing`]: crate::Envelope::to_outgoing
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Call, Catalog, Config, Event, Registry};
    ///
    /// let config = Config::from_json(include_str!("../examples/configs/signed.json"))?;
    /// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    /// let call = Call::from_json(include_str!("../examples/calls/pbx-call.json"))?;
    /// let at = "2024-12-02T21:11:37Z".parse().unwrap();
    /// let mut outgoing = registry.dispatch(Event::CallHangup, &call, at).requests.remove(0);
    /// registry.sign(&mut outgoing, at)?;
    /// assert_eq!(outgoing.request.headers()["webhook-id"], outgoing.delivery.as_str());
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn sign(&self, outgoing: &mut Outgoing, at: DateTime<Utc>) -> Result<(), Error> {
        let service = self
            .service(&outgoing.service)
            .ok_or_else(|| registry_error(format!("no service `{}`", outgoing.service)))?;
        service.sign_with(
            &mut outgoing.request,
            &outgoing.delivery,
            at,
            &self.addresses,
        )
    }

    /// The retry policy for a delivery through `service`: the service's
    /// own, or the default if it configures none.
    ///
    /// # Errors
    ///
    /// A service that does not exist (deleted since the delivery was
    /// stored, say) is an error of kind
    /// [`ErrorKind::Registry`](crate::ErrorKind::Registry), as
    /// [`Registry::sign`] refuses it: no policy is made up for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Catalog, Config, ErrorKind, Registry};
    ///
    /// let config = Config::from_json(include_str!("../examples/configs/pbx.json"))?;
    /// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    /// let policy = registry.retry_policy(&config.services[0].id)?;
    /// assert!(policy.max_attempts > 1);
    /// let gone = registry.retry_policy("deleted").unwrap_err();
    /// assert_eq!(gone.kind(), ErrorKind::Registry);
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn retry_policy(&self, service: &str) -> Result<RetryPolicy, Error> {
        self.service(service)
            .map(Service::retry_policy)
            .ok_or_else(|| registry_error(format!("no service `{service}`")))
    }
}

/// A UUID (version 8, from SHA-256) of the delivery's identity.
fn delivery_id(
    webhook: &str,
    call: &str,
    segment: Option<usize>,
    event: &Event,
    sequence: Option<u64>,
) -> DeliveryId {
    let mut hash = Sha256::new();
    for part in [webhook, call, event.name()] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    // Not fallbacks but encodings of "none", fixed since delivery ids were
    // first stored: no segment is `u64::MAX`, no sequence 0 (sequences
    // count from 1). Changing either changes every stored delivery id.
    hash.update(segment.map_or(u64::MAX, |s| s as u64).to_be_bytes());
    hash.update(sequence.unwrap_or(0).to_be_bytes());
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    DeliveryId::from_bytes(bytes, 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const W1: &str = "00000000-0000-4000-8000-0000000000a1";
    const W2: &str = "00000000-0000-4000-8000-0000000000a2";

    #[test]
    fn delivery_ids_are_stable_and_distinct() {
        let a = delivery_id(W1, "c1", None, &Event::CallHangup, None);
        assert_eq!(a, delivery_id(W1, "c1", None, &Event::CallHangup, None));
        assert!(crate::id::is_uuid(&a));
        assert_ne!(a, delivery_id(W1, "c1", Some(0), &Event::CallHangup, None));
        assert_ne!(a, delivery_id(W1, "c2", None, &Event::CallHangup, None));
        assert_ne!(a, delivery_id(W2, "c1", None, &Event::CallHangup, None));
        assert_ne!(a, delivery_id(W1, "c1", None, &Event::CallHangup, Some(1)));
        // The form every stored delivery id has.
        assert_eq!(
            delivery_id("w", "c", None, &Event::CallHangup, None).len(),
            36
        );
    }
}
