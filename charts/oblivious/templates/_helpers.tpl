{{/* The chart name, or nameOverride. */}}
{{- define "oblivious.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of every resource name: fullnameOverride, else the release name when it already contains
the chart name (`oblivious` -> `oblivious-operator`), else `<release>-<chart>`. Kept short enough
that `<prefix>-operator` and `<prefix>-gateway` stay within 63 characters.
*/}}
{{- define "oblivious.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "oblivious.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels of one component (`operator`, `gateway`, `chat`, `relay`, `rag`). Stable: a
Deployment's selector is immutable, so nothing here may depend on the chart version.
Called with (dict "root" $ "component" "gateway").
*/}}
{{- define "oblivious.selectorLabels" -}}
app.kubernetes.io/name: {{ include "oblivious.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Labels on every object of one component. Called like oblivious.selectorLabels. */}}
{{- define "oblivious.labels" -}}
{{ include "oblivious.selectorLabels" . }}
app.kubernetes.io/part-of: oblivious
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "oblivious.chart" .root }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The image of every container: repository@digest, or repository:tag (default appVersion). */}}
{{- define "oblivious.image" -}}
{{- $image := .Values.image }}
{{- if $image.digest }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag) }}
{{- end }}
{{- end }}

{{- define "oblivious.operator.name" -}}
{{- printf "%s-operator" (include "oblivious.fullname" .) }}
{{- end }}

{{/*
This release's operator Service: what its operator tells Tenant fleets to dial
(OBLIVIOUS_CONFIG_SERVER), and what this release's data plane dials unless told otherwise.
*/}}
{{- define "oblivious.configServer" -}}
{{- printf "http://%s.%s.svc:8081" (include "oblivious.operator.name" .) .Release.Namespace }}
{{- end }}

{{/*
Where this release's data-plane pods dial the config stream (`--config-server`):
dataPlane.configServer, else this release's operator Service. Empty when neither exists
(oblivious.validate refuses that: operator.enabled false needs dataPlane.configServer).
*/}}
{{- define "oblivious.dataPlane.configServer" -}}
{{- if .Values.dataPlane.configServer }}
{{- .Values.dataPlane.configServer }}
{{- else if .Values.operator.enabled }}
{{- include "oblivious.configServer" . }}
{{- end }}
{{- end }}

{{/*
The pause between "stop" and SIGTERM's drain, in seconds: the preStop sleep, or without one the
process's own pause (OBLIVIOUS_SHUTDOWN_DELAY, 5 s). Either way it comes out of the termination
grace period, so OBLIVIOUS_SHUTDOWN_GRACE is what is left after it and the 20 s kept for the
checkpoint (5 s), the billing flush (10 s) and a margin (5 s). Never below 1 s.
*/}}
{{- define "oblivious.shutdownPause" -}}
{{- ternary (int .Values.dataPlane.preStopSleepSeconds) 5 (gt (int .Values.dataPlane.preStopSleepSeconds) 0) }}
{{- end }}

{{- define "oblivious.shutdownGrace" -}}
{{- printf "%ds" (max 1 (sub (sub (int .Values.dataPlane.terminationGracePeriodSeconds) (int (include "oblivious.shutdownPause" .))) 20)) }}
{{- end }}

{{/*
Name of the Secret holding DATABASE_URL, REDIS_URL, OBLIVIOUS_JWT_SECRET, OBLIVIOUS_INTERNAL_TOKEN
and OBLIVIOUS_BOOTSTRAP_KEY.
*/}}
{{- define "oblivious.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- printf "%s-secrets" (include "oblivious.fullname" .) }}
{{- end }}
{{- end }}

{{/*
Where gateway, chat and rag pods call the relay (OBLIVIOUS_RELAY_URL; rag embeds through it):
dataPlane.relayUrl, else this release's relay Service. Empty when neither exists
(oblivious.validate refuses that while gateway, chat or rag is enabled).
*/}}
{{- define "oblivious.relayUrl" -}}
{{- if .Values.dataPlane.relayUrl }}
{{- .Values.dataPlane.relayUrl }}
{{- else if .Values.dataPlane.relay.enabled }}
{{- printf "http://%s-relay.%s.svc:8080" (include "oblivious.fullname" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{/*
The Ingress routes, most specific first: (list path pathType role). The relay serves the
OpenAI/Anthropic (`/v1`) and Gemini (`/v1beta`) dialects; a `chat` Deployment takes the chat API
off the gateway; the gateway (product API, chat API, web UI) takes the rest. Called with a host
entry of ingress.hosts as .host.
*/}}
{{- define "oblivious.ingressRoutes" -}}
{{- $dp := .root.Values.dataPlane }}
{{- $routes := list }}
{{- if $dp.relay.enabled }}
{{- range $path := list "/v1" "/v1beta" }}
{{- $routes = append $routes (list $path "Prefix" "relay") }}
{{- end }}
{{- end }}
{{- if $dp.chat.enabled }}
{{- range $path := list "/api/v1/chat" "/api/v1/agents" "/api/v1/models" }}
{{- $routes = append $routes (list $path "Prefix" "chat") }}
{{- end }}
{{- end }}
{{- $taken := list }}
{{- range $routes }}{{ $taken = append $taken (index . 0) }}{{ end }}
{{- range (.host.paths | default (list (dict "path" "/" "pathType" "Prefix"))) }}
{{- /* A path the relay or chat already serves stays theirs (an older values file listing /v1). */}}
{{- if not (has .path $taken) }}
{{- $routes = append $routes (list .path .pathType "gateway") }}
{{- end }}
{{- end }}
{{- toJson $routes }}
{{- end }}

{{/*
The roles the Ingress sends traffic to (they are edges: NetworkPolicy lets clients in): those of
its route table, so never rag, which serves no API.
*/}}
{{- define "oblivious.ingressRoles" -}}
{{- $roles := list }}
{{- if .Values.ingress.enabled }}
{{- range $route := include "oblivious.ingressRoutes" (dict "root" $ "host" dict) | fromJsonArray }}
{{- $roles = append $roles (index $route 2) }}
{{- end }}
{{- end }}
{{- toJson ($roles | uniq) }}
{{- end }}

{{/*
The data-plane roles, in a stable order. `rag` (the knowledge bases' ingestion worker) serves
no API: no Ingress route, and nothing calls it but probes and scrapers.
*/}}
{{- define "oblivious.roles" -}}
{{- toJson (list "gateway" "chat" "relay" "rag") }}
{{- end }}

{{/*
The roles that read users' files from the object store (objectStore.*): the gateway stores
uploads, rag indexes them, chat answers from them. Never the relay.
*/}}
{{- define "oblivious.fileRoles" -}}
{{- toJson (list "gateway" "chat" "rag") }}
{{- end }}

{{/*
Ports of the object store, for NetworkPolicy egress: networkPolicy.objectStore.ports, else the
port objectStore.endpoint names (its scheme's default when it names none), else 443 (AWS S3).
*/}}
{{- define "oblivious.objectStorePorts" -}}
{{- $ports := .Values.networkPolicy.objectStore.ports }}
{{- if not $ports }}
{{- $endpoint := .Values.objectStore.endpoint }}
{{- if $endpoint }}
{{- $url := urlParse $endpoint }}
{{- $port := regexFind ":[0-9]+$" $url.host | trimPrefix ":" }}
{{- $ports = list (ternary (atoi $port) (ternary 80 443 (eq $url.scheme "http")) (ne $port "")) }}
{{- else }}
{{- $ports = list 443 }}
{{- end }}
{{- end }}
{{- toJson $ports }}
{{- end }}

{{/*
Affinity of a component's pods: the given one, else a preferred anti-affinity on the node so
replicas spread where the cluster allows. Called with (dict "root" $ "component" "x" "affinity" map).
*/}}
{{- define "oblivious.affinity" -}}
{{- if .affinity }}
{{- toYaml .affinity }}
{{- else }}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "oblivious.selectorLabels" . | nindent 12 }}
{{- end }}
{{- end }}

{{/* Refuses value combinations the schema cannot express. */}}
{{- define "oblivious.validate" -}}
{{- $s := .Values.secrets }}
{{- if and $s.existingSecret (or $s.databaseUrl $s.redisUrl $s.jwtSecret $s.internalToken $s.bootstrapKey) }}
{{- fail "secrets.existingSecret is set: leave secrets.databaseUrl, redisUrl, jwtSecret, internalToken and bootstrapKey empty and put those keys in the existing Secret" }}
{{- end }}
{{- $dp := .Values.dataPlane }}
{{- if and (or $dp.gateway.enabled $dp.chat.enabled $dp.rag.enabled) (not (include "oblivious.relayUrl" .)) }}
{{- fail "dataPlane.relay.enabled is false: gateway and chat call the relay for every model request and rag for every embedding, so set dataPlane.relayUrl (e.g. http://oblivious-relay.<namespace>.svc:8080) to a relay sharing this release's OBLIVIOUS_INTERNAL_TOKEN" }}
{{- end }}
{{- $o := .Values.objectStore }}
{{- if and (not $o.url) (or $o.existingSecret $o.region $o.endpoint $o.allowHttp) }}
{{- fail "objectStore.url is empty, so objectStore.existingSecret, region, endpoint and allowHttp would be ignored and files kept in each pod's emptyDir: set objectStore.url (s3://bucket/prefix)" }}
{{- end }}
{{- if and (hasPrefix "http://" $o.endpoint) (not $o.allowHttp) }}
{{- fail "objectStore.endpoint is plain http: set objectStore.allowHttp: true (AWS_ALLOW_HTTP), or the S3 client refuses it" }}
{{- end }}
{{- if and (not .Values.operator.enabled) (not .Values.dataPlane.configServer) }}
{{- fail "operator.enabled is false: set dataPlane.configServer to the config stream of the release that runs the operator (e.g. http://oblivious-operator.<namespace>.svc:8081), or the data-plane pods have nothing to dial and never become Ready" }}
{{- end }}
{{- if hasKey .Values.commonLabels "oblivious.dev/lane" }}
{{- fail "commonLabels: oblivious.dev/lane would land on this release's Services, and the Lane controller deletes Services with that label it did not make; set dataPlane.lane (it labels the pods only)" }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.dataPlane.gateway.enabled) }}
{{- fail "ingress.enabled needs dataPlane.gateway.enabled: the Ingress routes to the gateway" }}
{{- end }}
{{- range $role := include "oblivious.roles" . | fromJsonArray }}
{{- $a := (index $.Values.dataPlane $role).autoscaling }}
{{- /* rag scales on its pending jobs (External), the others on in-flight requests (Pods). */}}
{{- $target := ternary "pendingJobsPerPod" "inFlightPerPod" (eq $role "rag") }}
{{- if and $a.enabled (not (index $a $target)) (not $a.cpuUtilization) }}
{{- fail (printf "dataPlane.%s.autoscaling: set %s or cpuUtilization (or both)" $role $target) }}
{{- end }}
{{- if and $a.enabled (gt (int $a.minReplicas) (int $a.maxReplicas)) }}
{{- fail (printf "dataPlane.%s.autoscaling: minReplicas is above maxReplicas" $role) }}
{{- end }}
{{- end }}
{{- end }}
