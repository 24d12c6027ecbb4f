//! Request bodies: Alertmanager's v2 `postableAlerts`, and webhook bodies (a template over
//! the notification, or Alertmanager's webhook JSON without one).

use std::collections::BTreeMap;

use super::Notice;
use crate::rules::template::{Template, Value};

/// The body of `POST /api/v2/alerts`.
pub(super) fn alertmanager(batch: &[Notice]) -> Result<String, String> {
    serde_json::to_string(batch).map_err(|e| e.to_string())
}

/// A webhook's body: `template` rendered over the notification, or Alertmanager's webhook
/// JSON (version 4) when there is none.
pub(super) fn webhook(
    receiver: &str,
    template: Option<&Template>,
    batch: &[Notice],
    external_url: &str,
) -> Result<String, String> {
    let status = if batch.iter().all(|a| a.resolved) {
        "resolved"
    } else {
        "firing"
    };
    let common = |f: fn(&Notice) -> &BTreeMap<String, String>| -> BTreeMap<String, String> {
        let mut it = batch.iter();
        let Some(first) = it.next() else {
            return BTreeMap::new();
        };
        let mut c = f(first).clone();
        for a in it {
            c.retain(|k, v| f(a).get(k) == Some(v));
        }
        c
    };
    let common_labels = common(|a| &a.labels);
    let common_annotations = common(|a| &a.annotations);
    match template {
        Some(t) => {
            let map = |m: &BTreeMap<String, String>| {
                Value::Map(
                    m.iter()
                        .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
                        .collect(),
                )
            };
            let alerts = batch
                .iter()
                .map(|a| {
                    Value::Map(BTreeMap::from([
                        ("Status".to_owned(), Value::Str(alert_status(a).into())),
                        ("Labels".to_owned(), map(&a.labels)),
                        ("Annotations".to_owned(), map(&a.annotations)),
                        ("StartsAt".to_owned(), Value::Str(a.starts_at.clone())),
                        ("EndsAt".to_owned(), Value::Str(a.ends_at.clone())),
                        (
                            "GeneratorURL".to_owned(),
                            Value::Str(a.generator_url.clone()),
                        ),
                    ]))
                })
                .collect();
            let data = Value::Map(BTreeMap::from([
                ("Receiver".to_owned(), Value::Str(receiver.to_owned())),
                ("Status".to_owned(), Value::Str(status.into())),
                ("Alerts".to_owned(), Value::List(alerts)),
                ("CommonLabels".to_owned(), map(&common_labels)),
                ("CommonAnnotations".to_owned(), map(&common_annotations)),
                (
                    "ExternalURL".to_owned(),
                    Value::Str(external_url.to_owned()),
                ),
            ]));
            t.render(&data).map_err(|e| e.to_string())
        }
        None => {
            let alerts: Vec<serde_json::Value> = batch
                .iter()
                .map(|a| {
                    serde_json::json!({
                        "status": alert_status(a),
                        "labels": a.labels,
                        "annotations": a.annotations,
                        "startsAt": a.starts_at,
                        "endsAt": a.ends_at,
                        "generatorURL": a.generator_url,
                    })
                })
                .collect();
            let body = serde_json::json!({
                "version": "4",
                "status": status,
                "receiver": receiver,
                "groupLabels": {},
                "commonLabels": common_labels,
                "commonAnnotations": common_annotations,
                "externalURL": external_url,
                "truncatedAlerts": 0,
                "alerts": alerts,
            });
            serde_json::to_string(&body).map_err(|e| e.to_string())
        }
    }
}

fn alert_status(a: &Notice) -> &'static str {
    if a.resolved { "resolved" } else { "firing" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(name: &str, resolved: bool) -> Notice {
        Notice {
            labels: BTreeMap::from([
                ("alertname".to_owned(), name.to_owned()),
                ("severity".to_owned(), "page".to_owned()),
            ]),
            annotations: BTreeMap::from([("summary".to_owned(), format!("{name} is down"))]),
            starts_at: "2026-11-27T00:00:00Z".into(),
            ends_at: "2026-11-27T00:04:00Z".into(),
            generator_url: "http://strata/graph".into(),
            resolved,
        }
    }

    #[test]
    fn a_template_sees_the_notification() {
        let t = Template::parse(
            "slack",
            r#"{"text": {{ printf "%s: %d alerts, first %s" .Status (len .Alerts) (index .Alerts 0).Annotations.summary | json }}}"#,
        )
        .expect("template");
        let body = webhook(
            "slack",
            Some(&t),
            &[notice("Down", false), notice("Slow", true)],
            "",
        )
        .expect("body");
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["text"], "firing: 2 alerts, first Down is down");
    }

    #[test]
    fn without_a_template_the_body_is_alertmanagers_webhook_json() {
        let body = webhook("hook", None, &[notice("Down", true)], "http://s").expect("body");
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["status"], "resolved");
        assert_eq!(v["commonLabels"]["severity"], "page");
        assert_eq!(v["alerts"][0]["labels"]["alertname"], "Down");
        assert_eq!(v["externalURL"], "http://s");
    }

    #[test]
    fn alertmanager_gets_postable_alerts() {
        let body = alertmanager(&[notice("Down", false)]).expect("body");
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v[0]["labels"]["alertname"], "Down");
        assert_eq!(v[0]["startsAt"], "2026-11-27T00:00:00Z");
        assert!(v[0].get("resolved").is_none());
    }
}
