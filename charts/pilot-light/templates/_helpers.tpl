{{/* Name of the chart's objects. */}}
{{- define "pilot-light.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pilot-light.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "pilot-light.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "pilot-light.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "pilot-light.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pilot-light.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "pilot-light.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "pilot-light.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "pilot-light.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pilot-light.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The leader Lease, named as the operator names it (src/leader.rs). */}}
{{- define "pilot-light.leaseName" -}}
pilot-light
{{- with .Values.watchNamespace }}-{{ . }}{{ end }}
{{- with .Values.pilotLightSelector }}-{{ sha256sum . | trunc 8 }}{{ end }}
{{- end }}

{{/* Whether this release runs the Evacuations: by default unless it is a label shard (src/config.rs). */}}
{{- define "pilot-light.evacuations" -}}
{{- if kindIs "bool" .Values.handleEvacuations }}{{ .Values.handleEvacuations }}{{ else }}{{ empty .Values.pilotLightSelector }}{{ end }}
{{- end }}

{{/*
What the operator does with Kubernetes objects, exactly: tests/exclusive/helm.rs compares these rules with
the verbs the operator used in the API server's audit log.
*/}}
{{- define "pilot-light.rules" -}}
- apiGroups: [pilotlight.dev]
  resources: [pilotlights]
  verbs: [get, list, watch, patch]
# The failover engine reads requests from its watch cache and a list (admission); no get.
# create: the Failover requests of spec.detection and the drills of spec.drills.
- apiGroups: [pilotlight.dev]
  resources: [failoverrequests]
  verbs: [list, watch, patch, create]
- apiGroups: [pilotlight.dev]
  resources: [pilotlights/status, failoverrequests/status]
  verbs: [patch]
# Server-side apply of the endpoints ConfigMap: `create` too when it does not exist yet.
- apiGroups: [""]
  resources: [configmaps]
  verbs: [create, patch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end }}

{{/*
"true" when the creator stamp (a MutatingAdmissionPolicy) is installed: approvalPolicy.stampCreator
true, or auto on a cluster that serves the kind (Kubernetes 1.36 or later); "" otherwise.
*/}}
{{- define "pilot-light.stampCreator" -}}
{{- $stamp := .Values.approvalPolicy.stampCreator | toString -}}
{{- if or (eq $stamp "true") (and (eq $stamp "auto") (.Capabilities.APIVersions.Has "admissionregistration.k8s.io/v1/MutatingAdmissionPolicy")) -}}
true
{{- end -}}
{{- end }}
