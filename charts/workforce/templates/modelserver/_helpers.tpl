{{/*
The small-footprint model server (modelServer.*): llama.cpp serving one GGUF model on CPU
(`workforce-service model-server`, image services/Dockerfile.modelserver).
*/}}

{{- define "workforce.modelServerName" -}}
{{- printf "%s-model-server" (include "workforce.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* "true" when the model server is the services' LLM endpoint: enabled, and neither llm.baseUrl nor a vLLM server */}}
{{- define "workforce.modelServerIsEndpoint" -}}
{{- if and .Values.modelServer.enabled (not .Values.llm.baseUrl) (not (and .Values.vllm.enabled .Values.vllm.servers)) }}true{{ end }}
{{- end }}

{{- define "workforce.modelServerUrl" -}}
{{- printf "http://%s:%v/v1" (include "workforce.modelServerName" .) .Values.modelServer.port }}
{{- end }}

{{/* The model name it answers to (WF_MODEL_SERVER_ALIAS); the services send it as WF_LLM_MODEL */}}
{{- define "workforce.modelServerAlias" -}}
{{- $m := .Values.modelServer }}
{{- if $m.alias }}
{{- $m.alias }}
{{- else if not $m.model.existingClaim }}
{{- print "smollm2-135m-instruct" }}
{{- else }}
{{- $base := $m.model.path | trimSuffix "/" | base | trimSuffix ".gguf" | trimSuffix ".GGUF" | lower }}
{{- if or (not $m.model.path) (eq $base ".") }}{{ print "local-model" }}{{ else }}{{ $base }}{{ end }}
{{- end }}
{{- end }}

{{/* WF_LOCAL_MODEL: empty for the image's model, else the file or directory on the model volume */}}
{{- define "workforce.modelServerModelPath" -}}
{{- $m := .Values.modelServer.model }}
{{- if $m.existingClaim }}
{{- if $m.path }}{{ printf "/models/%s" ($m.path | trimPrefix "/" | trimSuffix "/") }}{{ else }}/models{{ end }}
{{- end }}
{{- end }}

{{/* WF_MODEL_SERVER_LORA: name=path,… with paths on the model volume unless absolute */}}
{{- define "workforce.modelServerLora" -}}
{{- $pairs := list }}
{{- range .Values.modelServer.lora }}
{{- $path := ternary .path (printf "/models/%s" .path) (hasPrefix "/" .path) }}
{{- $pairs = append $pairs (printf "%s=%s" .name $path) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{/*
The shared env of every service (workforce.commonEnvBase in _helpers.tpl). With the model server as the LLM
endpoint, modelServer.clientEnv (the small-model settings of local mode) replaces the entries of the same name
and adds the others, and WF_LLM_MODEL becomes the server's model name unless llm.model is set.
*/}}
{{- define "workforce.commonEnv" -}}
{{- if include "workforce.modelServerIsEndpoint" . }}
{{- $over := dict }}
{{- if eq .Values.llm.model "default" }}
{{- $_ := set $over "WF_LLM_MODEL" (include "workforce.modelServerAlias" .) }}
{{- end }}
{{- range $k, $v := .Values.modelServer.clientEnv }}
{{- if not (kindIs "invalid" $v) }}{{ $_ := set $over $k (toString $v) }}{{ end }}
{{- end }}
{{- $out := list }}
{{- range include "workforce.commonEnvBase" . | fromYamlArray }}
{{- if hasKey $over .name }}
{{- $out = append $out (dict "name" .name "value" (get $over .name)) }}
{{- $_ := unset $over .name }}
{{- else }}
{{- $out = append $out . }}
{{- end }}
{{- end }}
{{- range $k := keys $over | sortAlpha }}
{{- $out = append $out (dict "name" $k "value" (get $over $k)) }}
{{- end }}
{{- toYaml $out }}
{{- else }}
{{- include "workforce.commonEnvBase" . }}
{{- end }}
{{- end }}
