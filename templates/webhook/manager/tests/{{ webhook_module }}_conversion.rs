{% if conversion %}{{ license_header }}//! The {{ kind }} conversion webhook, called by a real API server over TLS:
//! an object written as any spoke is read back as the hub, {{ version }}.

mod webhook_server;

use kubeforge::kube::api::{Api, PostParams};

use {{ type_path }};

#[tokio::test]
async fn objects_written_as_a_spoke_are_read_as_the_hub() -> anyhow::Result<()> {
    let running = webhook_server::start().await?;
    let client = running.env.client();
{% if namespaced %}    let namespace = running.env.namespace().await?;
{% endif %}    let hub: Api<{{ kind }}> = {% if namespaced %}Api::namespaced(client.clone(), namespace){% else %}Api::all(client.clone()){% endif %};
{% for spoke in spokes %}
    {
        use {{ spoke.spoke_type_path }} as Spoke;
        let spoke: Api<Spoke> = {% if namespaced %}Api::namespaced(client.clone(), namespace){% else %}Api::all(client.clone()){% endif %};
        let written: Spoke = serde_json::from_value(serde_json::json!({
            "apiVersion": "{{ api_group }}/{{ spoke.spoke_version }}",
            "kind": "{{ kind }}",
            "metadata": { "name": "written-as-{{ spoke.spoke_version }}" },
            "spec": { "replicas": 3 },
        }))?;
        spoke.create(&PostParams::default(), &written).await?;
        let read = hub.get("written-as-{{ spoke.spoke_version }}").await?;
        assert_eq!(read.spec.replicas, 3);
    }
{% endfor %}
    running.stop().await
}
{% endif %}