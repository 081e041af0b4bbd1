{{/* Names */}}
{{- define "workforce.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "workforce.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "workforce.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels; call with (dict "root" $ "component" "gateway") */}}
{{- define "workforce.selectorLabels" -}}
app.kubernetes.io/name: {{ include "workforce.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "workforce.labels" -}}
{{ include "workforce.selectorLabels" . }}
{{ include "workforce.commonLabels" .root }}
{{- end }}

{{/* The labels every object of the release carries besides its selector labels; call with $ */}}
{{- define "workforce.commonLabels" -}}
helm.sh/chart: {{ include "workforce.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: workforce
{{- end }}

{{/* Release-wide selector (every pod of this release's services) */}}
{{- define "workforce.releaseSelector" -}}
app.kubernetes.io/name: {{ include "workforce.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* An image reference; call with (dict "root" $ "key" "core") */}}
{{- define "workforce.image" -}}
{{- $img := index .root.Values.images .key | required (printf "images.%s is not defined" .key) }}
{{- if $img.digest }}
{{- printf "%s@%s" $img.repository $img.digest }}
{{- else }}
{{- printf "%s:%s" $img.repository (default .root.Chart.AppVersion $img.tag) }}
{{- end }}
{{- end }}

{{- define "workforce.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "workforce.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* NATS: the official subchart's service name (its nats.fullname rule) or the external URL */}}
{{- define "workforce.natsFullname" -}}
{{- if .Values.nats.fullnameOverride }}
{{- .Values.nats.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains "nats" .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-nats" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "workforce.natsUrl" -}}
{{- if and .Values.nats.enabled .Values.nats.external.url }}
{{- fail "nats: set either nats.enabled (the bundled official chart) or nats.external.url, not both" }}
{{- else if .Values.nats.external.url }}
{{- .Values.nats.external.url }}
{{- else if .Values.nats.enabled }}
{{- $port := 4222 }}
{{- with .Values.nats.config }}{{ with .nats }}{{ with .port }}{{ $port = . }}{{ end }}{{ end }}{{ end }}
{{- printf "%s://%s:%v" (ternary "tls" "nats" .Values.natsAuth.tls.enabled) (include "workforce.natsFullname" .) $port }}
{{- else }}
{{- fail "nats.enabled=false needs nats.external.url (nats:// or tls:// URL of a NATS with JetStream); or set nats.enabled=true" }}
{{- end }}
{{- end }}

{{- define "workforce.natsMonitoringEndpoint" -}}
{{- if .Values.nats.external.url }}
{{- .Values.nats.external.monitoringEndpoint | required "nats.external.monitoringEndpoint is required for KEDA autoscaling with an external NATS" }}
{{- else }}
{{- $port := dig "monitor" "port" 8222 (.Values.nats.config | default dict) }}
{{- $nats := include "workforce.natsFullname" . }}
{{- printf "%s-headless.%s.svc.%s:%v" $nats .Release.Namespace .Values.clusterDomain $port }}
{{- end }}
{{- end }}

{{/* vLLM */}}
{{- define "workforce.vllmName" -}}
{{- printf "%s-vllm-%s" (include "workforce.fullname" .root) .server.name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "workforce.llmBaseUrl" -}}
{{- if .Values.llm.baseUrl }}
{{- .Values.llm.baseUrl }}
{{- else if and .Values.vllm.enabled .Values.vllm.servers }}
{{- $server := first .Values.vllm.servers }}
{{- if .Values.llm.server }}
{{- $server = dict }}
{{- range .Values.vllm.servers }}{{ if eq .name $.Values.llm.server }}{{ $server = . }}{{ end }}{{ end }}
{{- if not $server }}{{ fail (printf "llm.server %q is not one of vllm.servers" .Values.llm.server) }}{{ end }}
{{- end }}
{{- printf "http://%s:8000/v1" (include "workforce.vllmName" (dict "root" . "server" $server)) }}
{{- else if include "workforce.modelServerIsEndpoint" . }}
{{- include "workforce.modelServerUrl" . }}
{{- else }}
{{- fail "llm: set llm.baseUrl (an OpenAI-compatible endpoint), vllm.enabled with a server, or modelServer.enabled (the small-footprint CPU model server)" }}
{{- end }}
{{- end }}

{{- define "workforce.llmModels" -}}
{{- $pairs := list }}
{{- range $role, $model := .Values.llm.roleModels }}{{ $pairs = append $pairs (printf "%s=%s" $role $model) }}{{ end }}
{{- join "," $pairs }}
{{- end }}

{{/* Secrets */}}
{{- define "workforce.apiKeysSecret" -}}
{{- default (printf "%s-api-keys" (include "workforce.fullname" .)) .Values.auth.existingSecret }}
{{- end }}
{{- define "workforce.apiKeysSecretKey" -}}
{{- ternary .Values.auth.existingSecretKey "WF_API_KEYS" (not (empty .Values.auth.existingSecret)) }}
{{- end }}
{{- define "workforce.llmSecret" -}}
{{- default (printf "%s-llm" (include "workforce.fullname" .)) .Values.llm.existingSecret }}
{{- end }}
{{- define "workforce.llmSecretKey" -}}
{{- ternary .Values.llm.existingSecretKey "WF_LLM_API_KEY" (not (empty .Values.llm.existingSecret)) }}
{{- end }}
{{- define "workforce.hasLlmKey" -}}
{{- if or .Values.llm.apiKey .Values.llm.existingSecret }}true{{ end }}
{{- end }}

{{/*
Every enabled service Deployment as YAML: name → {component spec merged deeply over `defaults` (maps key by
key, the component's values winning; lists and scalars replaced), plus `command` (the workforce-service
argument) and `workerType` for pools}. Read with fromYaml.
*/}}
{{- define "workforce.components" -}}
{{- $out := dict }}
{{- range $name, $spec := .Values.services }}
{{- if $spec.enabled }}
{{- $c := mergeOverwrite (deepCopy $.Values.defaults) (deepCopy $spec) }}
{{- $_ := set $c "command" $name }}
{{- $_ := set $out $name $c }}
{{- end }}
{{- end }}
{{- range $type, $spec := .Values.workers }}
{{- if $spec.enabled }}
{{- $c := mergeOverwrite (deepCopy $.Values.defaults) (deepCopy $spec) }}
{{- $_ := set $c "command" (printf "worker-%s" $type) }}
{{- $_ := set $c "workerType" $type }}
{{- $_ := set $out (printf "worker-%s" $type) $c }}
{{- end }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/* Which autoscaler a pool gets: "keda", "hpa" or "" */}}
{{- define "workforce.autoscaler" -}}
{{- $c := .component }}
{{- if and $c.workerType $c.autoscaling $c.autoscaling.enabled }}
{{- $mode := .root.Values.autoscaling.mode }}
{{- if or (eq $mode "keda") (and (eq $mode "auto") (.root.Capabilities.APIVersions.Has "keda.sh/v1alpha1/ScaledObject")) }}keda{{ else }}hpa{{ end }}
{{- end }}
{{- end }}

{{/* Shared env of every service: channel, LLM, orchestration (read through workforce.commonEnv, modelserver/_helpers.tpl) */}}
{{- define "workforce.commonEnvBase" -}}
- name: WF_NATS_URL
  value: {{ include "workforce.natsUrl" . | quote }}
{{- if .Values.nats.external.credsSecret }}
- name: WF_NATS_CREDS
  value: /etc/nats-creds/{{ .Values.nats.external.credsKey }}
{{- end }}
{{- if .Values.natsAuth.tls.caSecret }}
- {name: WF_NATS_TLS_CA, value: /etc/nats-tls/ca/ca.crt}
{{- end }}
{{- if .Values.natsAuth.tls.clientSecret }}
- {name: WF_NATS_TLS_CERT, value: /etc/nats-tls/client/tls.crt}
- {name: WF_NATS_TLS_KEY, value: /etc/nats-tls/client/tls.key}
{{- end }}
- name: WF_STREAM_REPLICAS
  value: {{ .Values.channel.streamReplicas | quote }}
- name: WF_ACK_WAIT_S
  value: {{ .Values.channel.ackWaitSeconds | quote }}
- name: WF_MAX_DELIVER
  value: {{ .Values.channel.maxDeliver | quote }}
- name: WF_BACKOFF_S
  value: {{ .Values.channel.backoffSeconds | quote }}
- name: WF_CONTROL_ACK_WAIT_S
  value: {{ .Values.channel.controlAckWaitSeconds | quote }}
- name: WF_EVENT_MAX_AGE_S
  value: {{ .Values.channel.eventMaxAgeSeconds | quote }}
- name: WF_DUPLICATE_WINDOW_S
  value: {{ .Values.channel.duplicateWindowSeconds | quote }}
- name: WF_WORKER_REGISTRY_TTL_S
  value: {{ .Values.channel.workerRegistryTtlSeconds | quote }}
- name: WF_LLM_BASE_URL
  value: {{ include "workforce.llmBaseUrl" . | quote }}
- name: WF_LLM_MODEL
  value: {{ .Values.llm.model | quote }}
- name: WF_LLM_MODELS
  value: {{ include "workforce.llmModels" . | quote }}
- name: WF_LLM_TIMEOUT_S
  value: {{ .Values.llm.timeoutSeconds | quote }}
- name: WF_LLM_MAX_RETRIES
  value: {{ .Values.llm.maxRetries | quote }}
- name: WF_LLM_STRUCTURED_OUTPUT
  value: {{ .Values.llm.structuredOutput | quote }}
- name: WF_LLM_MAX_TOKENS
  value: {{ .Values.llm.maxTokens | quote }}
{{- if include "workforce.hasLlmKey" . }}
- name: WF_LLM_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "workforce.llmSecret" . }}
      key: {{ include "workforce.llmSecretKey" . }}
{{- end }}
- name: WF_REPLAN_THRESHOLD
  value: {{ .Values.orchestration.replanThreshold | quote }}
- name: WF_TASK_TIMEOUT_S
  value: {{ .Values.orchestration.taskTimeoutSeconds | quote }}
- name: WF_SUBTASK_TIMEOUT_S
  value: {{ .Values.orchestration.subtaskTimeoutSeconds | quote }}
- name: WF_MAX_SUBTASKS
  value: {{ .Values.orchestration.maxSubtasks | quote }}
- name: WF_MAX_TOOL_CALLS
  value: {{ .Values.orchestration.maxToolCalls | quote }}
- name: WF_APPROVAL_TIMEOUT_S
  value: {{ .Values.orchestration.approvalTimeoutSeconds | quote }}
- name: WF_APPROVAL_TIMEOUT_POLICY
  value: {{ .Values.orchestration.approvalTimeoutPolicy | quote }}
- name: WF_APPROVERS
  value: {{ .Values.orchestration.approvers | quote }}
- name: WF_APPROVE_TOOLS
  value: {{ .Values.orchestration.approveTools | quote }}
- name: WF_TOOL_APPROVAL_TIMEOUT_S
  value: {{ .Values.orchestration.toolApprovalTimeoutSeconds | quote }}
- name: WF_TOOL_APPROVAL_TIMEOUT_POLICY
  value: {{ .Values.orchestration.toolApprovalTimeoutPolicy | quote }}
- name: WF_TASK_TTL_S
  value: {{ .Values.retention.taskTtlSeconds | int64 | quote }}
- name: WF_PLAN_TTL_S
  value: {{ .Values.retention.planTtlSeconds | int64 | quote }}
- name: WF_FILE_TTL_S
  value: {{ .Values.retention.fileTtlSeconds | int64 | quote }}
- name: WF_IDEMPOTENCY_TTL_S
  value: {{ .Values.retention.idempotencyTtlSeconds | int64 | quote }}
{{- if .Values.otlp.endpoint }}
- name: WF_OTLP_ENDPOINT
  value: {{ .Values.otlp.endpoint | quote }}
- name: WF_TRACE_SAMPLE_RATIO
  value: {{ .Values.otlp.sampleRatio | quote }}
{{- end }}
{{- end }}

{{/* The TCP port of a URL (networkpolicy.yaml): its own, else its scheme's (https 443, http 80, nats/tls 4222, …) */}}
{{- define "workforce.urlPort" -}}
{{- $u := urlParse . }}
{{- $schemes := dict "https" "443" "wss" "443" "http" "80" "ws" "80" "nats" "4222" "tls" "4222" }}
{{- regexFind ":[0-9]+$" $u.host | trimPrefix ":" | default (get $schemes $u.scheme) }}
{{- end }}

{{/* The limits of one sandboxed run (WF_CODE_*): the executor enforces them, worker-code describes them */}}
{{- define "workforce.sandboxLimitsEnv" -}}
{{- $l := .Values.sandbox.limits }}
- {name: WF_CODE_CPU_S, value: {{ $l.cpuSeconds | quote }}}
- {name: WF_CODE_WALL_S, value: {{ $l.wallSeconds | quote }}}
- {name: WF_CODE_MEMORY_MB, value: {{ $l.memoryMb | quote }}}
- {name: WF_CODE_FILE_MB, value: {{ $l.fileMb | quote }}}
- {name: WF_CODE_NPROC, value: {{ $l.processes | quote }}}
- {name: WF_CODE_NOFILE, value: {{ $l.openFiles | quote }}}
- {name: WF_CODE_OUTPUT_BYTES, value: {{ $l.outputBytes | quote }}}
{{- end }}

{{- define "workforce.sandboxUrl" -}}
{{- printf "dns:///%s-sandbox.%s.svc.%s:50051" (include "workforce.fullname" .) .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{/* worker-web's browser server (templates/browser.yaml): its websocket endpoint, and whether it is deployed */}}
{{- define "workforce.browserEnabled" -}}
{{- if and .Values.browser.enabled (.Values.workers.web | default dict).enabled }}true{{ end }}
{{- end }}

{{- define "workforce.browserEndpoint" -}}
{{- printf "ws://%s-browser.%s.svc.%s:%v%s" (include "workforce.fullname" .) .Release.Namespace .Values.clusterDomain .Values.browser.port .Values.browser.wsPath }}
{{- end }}

{{/* NATS identities (core/channel/identities.py): the users, and whether the services connect as them */}}
{{- define "workforce.natsUsers" -}}
{{- $users := list "gateway" "planner" "coordinator" }}
{{- range $t := list "web" "document" "code" "tool" "echo" }}{{ $users = append $users (printf "worker-%s" $t) }}{{ end }}
{{- join "," $users }}
{{- end }}

{{- define "workforce.natsIdentities" -}}
{{- if and .Values.natsAuth.enabled (or .Values.nats.enabled (not .Values.natsAuth.create)) }}true{{ end }}
{{- end }}

{{/* WF_NATS_USER / WF_NATS_PASSWORD of one service; call with (dict "root" $ "name" $name) */}}
{{- define "workforce.natsUserEnv" -}}
{{- if and (include "workforce.natsIdentities" .root) (has .name (splitList "," (include "workforce.natsUsers" .root))) }}
- {name: WF_NATS_USER, value: {{ .name | quote }}}
- name: WF_NATS_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ .root.Values.natsAuth.secretName }}, key: {{ .name | quote }}}
{{- end }}
{{- end }}

{{/* A CPU HorizontalPodAutoscaler of the sandbox or browser Deployment; call with
(dict "root" $ "component" "sandbox" "autoscaling" .Values.sandbox.autoscaling) */}}
{{- define "workforce.cpuHpa" -}}
{{- $a := .autoscaling }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "workforce.fullname" .root }}-{{ .component }}
  labels:
    {{- include "workforce.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "workforce.fullname" .root }}-{{ .component }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target: {type: Utilization, averageUtilization: {{ $a.targetCPUUtilizationPercentage }}}
{{- end }}
