{% if defaulting %}{{ license_header }}//! The {{ kind }} {{ version }} defaulting webhook, called by a real API
//! server over TLS: what the defaulter sets is what gets stored.

mod webhook_server;

use kubeforge::kube::ResourceExt as _;
use kubeforge::kube::api::{Api, PostParams};

use {{ type_path }};
use {{ manager_lib }}::webhook::{{ webhook_module }}_defaulter::NAME_LABEL;

#[tokio::test]
async fn the_api_server_stores_the_defaults() -> anyhow::Result<()> {
    let running = webhook_server::start().await?;
    let client = running.env.client();
    let api: Api<{{ kind }}> = {% if namespaced %}Api::namespaced(client, running.env.namespace().await?){% else %}Api::all(client){% endif %};
    let sample: {{ kind }} = serde_json::from_value(serde_json::json!({
        "apiVersion": "{{ api_version }}",
        "kind": "{{ kind }}",
        "metadata": { "name": "sample" },
        "spec": {},
    }))?;
    let created = api.create(&PostParams::default(), &sample).await?;
    assert_eq!(
        created.labels().get(NAME_LABEL).map(String::as_str),
        Some("sample")
    );
    running.stop().await
}
{% endif %}