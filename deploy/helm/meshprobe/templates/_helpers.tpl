{{/*
The metadata every object of the chart carries: its name, its namespace (when namespaced), the
labels deploy/install.yaml gives it, Helm's labels and the extra labels and annotations of the
values. Call with (dict "root" $ "name" NAME "namespace" NAMESPACE-or-empty), optionally
"component" (default controller) and "labels" (a map of more labels).
*/}}
{{- define "meshprobe.metadata" -}}
name: {{ .name }}
{{- with .namespace }}
namespace: {{ . }}
{{- end }}
labels:
  app.kubernetes.io/name: meshprobe
  app.kubernetes.io/component: {{ .component | default "controller" }}
  app.kubernetes.io/instance: {{ .root.Release.Name }}
  app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
  app.kubernetes.io/managed-by: {{ .root.Release.Service }}
  helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
  {{- with merge (dict) (.labels | default dict) .root.Values.labels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with .root.Values.annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The labels that select the controller's pods (immutable in a Deployment). */}}
{{- define "meshprobe.selectorLabels" -}}
app.kubernetes.io/name: meshprobe
app.kubernetes.io/component: controller
{{- end }}

{{/* The port of a bind address of the config: ":8080" -> 8080, "[::1]:9090" -> 9090. */}}
{{- define "meshprobe.port" -}}
{{- regexReplaceAll "^.*:" . "" -}}
{{- end }}

{{/* The rules the chart enforces beyond the schema. */}}
{{- define "meshprobe.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.config.leaderElection.enabled) -}}
{{- fail "replicas > 1 needs config.leaderElection.enabled: true (otherwise every replica reconciles)" -}}
{{- end -}}
{{- if and .Values.serviceMonitor.enabled (eq .Values.config.metricsBindAddress "0") -}}
{{- fail "serviceMonitor.enabled needs /metrics: config.metricsBindAddress is 0 (off)" -}}
{{- end -}}
{{- end }}
