{% raw %}{{/*
The project's name. Every object is named "<name>-...", as config/default's
namePrefix names them, rather than after the release: the manager finds its
webhook Service and configurations by these names
(manager.webhook_name_prefix in manager/src/main.rs). So one release of the
chart per cluster.
*/}}
{{- define "chart.name" -}}
{% endraw %}{{ project_name }}{% raw %}
{{- end }}

{{/*
"true" when the manager watches only its own namespace (PROJECT's
`namespaced: true`; `kubeforge edit --namespaced` changes it): Roles in the
release's namespace instead of ClusterRoles, and WATCH_NAMESPACE. It follows
PROJECT, not a value, because templates/rbac/role.yaml holds the #[rbac]
rules generated for that scope.
*/}}
{{- define "chart.namespaced" -}}
{% endraw %}{% if namespaced_manager %}true{% endif %}{% raw %}
{{- end }}

{{/* The labels of every object. */}}
{{- define "chart.labels" -}}
app.kubernetes.io/name: {{ include "chart.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* The labels the manager's pods are selected by, as config/'s. */}}
{{- define "chart.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chart.name" . }}
control-plane: controller-manager
{{- end }}

{{/*
"true" when the chart serves webhooks: the project has some (`kubeforge
create webhook` adds `webhook` to values.yaml) and webhook.enable is true.
*/}}
{{- define "chart.webhooks" -}}
{{- if and .Values.webhook .Values.webhook.enable }}true{{ end }}
{{- end }}

{{/* "true" when cert-manager issues the webhook server's certificate. */}}
{{- define "chart.certManager" -}}
{{- if and (include "chart.webhooks" .) .Values.certManager.enable }}true{{ end }}
{{- end }}

{{/*
"true" when the manager makes, renews and injects its own webhook
certificate instead (--webhook-cert-mode=self-managed, as
config/selfmanaged-certs).
*/}}
{{- define "chart.selfManagedCerts" -}}
{{- if and (include "chart.webhooks" .) (not .Values.certManager.enable) }}true{{ end }}
{{- end }}{% endraw %}
