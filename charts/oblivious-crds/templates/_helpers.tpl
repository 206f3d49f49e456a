{{/*
Metadata every generated CRD carries. `oblivious-operator crdgen` writes the chart's copy of each
CRD with this line right under `metadata:` (see charts/NOTES.md):

  {{- include "oblivious-crds.metadata" . | nindent 2 }}

so the YAML itself stays generated while labels and the keep policy come from values.
*/}}
{{- define "oblivious-crds.metadata" -}}
labels:
  app.kubernetes.io/name: oblivious
  app.kubernetes.io/part-of: oblivious
  app.kubernetes.io/component: crds
  app.kubernetes.io/instance: {{ .Release.Name }}
  app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
  app.kubernetes.io/managed-by: {{ .Release.Service }}
  helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
  {{- with .Values.labels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- if or .Values.keep .Values.annotations }}
annotations:
  {{- if .Values.keep }}
  helm.sh/resource-policy: keep
  {{- end }}
  {{- with .Values.annotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
{{- end }}
