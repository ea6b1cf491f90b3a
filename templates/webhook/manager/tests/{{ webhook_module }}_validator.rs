{% if validation %}{{ license_header }}//! The {{ kind }} {{ version }} validating webhook, called by a real API
//! server over TLS: a denial reaches the client with the field it names.

mod webhook_server;

use kubeforge::kube::api::{Api, PostParams};

use {{ type_path }};

#[tokio::test]
async fn the_api_server_denies_what_the_validator_denies() -> anyhow::Result<()> {
    let running = webhook_server::start().await?;
    let client = running.env.client();
    let api: Api<{{ kind }}> = {% if namespaced %}Api::namespaced(client, running.env.namespace().await?){% else %}Api::all(client){% endif %};
    let too_long: {{ kind }} = serde_json::from_value(serde_json::json!({
        "apiVersion": "{{ api_version }}",
        "kind": "{{ kind }}",
        "metadata": { "name": "a".repeat(64) },
        "spec": {},
    }))?;
    let denied = api
        .create(&PostParams::default(), &too_long)
        .await
        .expect_err("a 64-character name is denied");
    assert!(denied.to_string().contains("metadata.name"), "{denied}");
    running.stop().await
}
{% endif %}