{{/* One driver flag's value from driver.flags (nil when unset): include "osd.flag" (list . "workspaceMode") */}}
{{- define "osd.flag" -}}
{{- $root := index . 0 -}}
{{- $value := index $root.Values.driver.flags (index . 1) -}}
{{- if kindIs "float64" $value }}{{ $value | int64 }}{{ else if not (kindIs "invalid" $value) }}{{ $value }}{{ end -}}
{{- end }}

{{- define "osd.workspaceMode" -}}{{ include "osd.flag" (list . "workspaceMode") | default "shared" }}{{- end }}
{{- define "osd.platform" -}}{{ include "osd.flag" (list . "platform") | default "auto" }}{{- end }}
{{- define "osd.gpuCapacityCheck" -}}{{ include "osd.flag" (list . "gpuCapacityCheck") | default "strict" }}{{- end }}
{{- define "osd.openshiftScc" -}}{{ include "osd.flag" (list . "openshiftScc") | default "openshell-sandbox" }}{{- end }}
{{- define "osd.socket" -}}{{ include "osd.flag" (list . "socket") | default "/var/run/openshell-compute/driver/driver.sock" }}{{- end }}
{{- define "osd.healthPort" -}}{{ include "osd.flag" (list . "healthPort") | default "9090" }}{{- end }}
{{- define "osd.gatewayId" -}}{{ include "osd.flag" (list . "gatewayId") | default "openshell" }}{{- end }}

{{/* The namespace of shared-mode sandboxes and of copied Secrets: --namespace, else the release's. */}}
{{- define "osd.driverNamespace" -}}{{ include "osd.flag" (list . "namespace") | default .Release.Namespace }}{{- end }}

{{/* The sandbox pods' ServiceAccount: --service-account-name, else the one the chart creates. */}}
{{- define "osd.sandboxServiceAccount" -}}
{{- $flag := index .Values.driver.flags "serviceAccountName" -}}
{{- if not (kindIs "invalid" $flag) }}{{ $flag }}{{ else if .Values.sandbox.serviceAccount.create }}{{ .Values.sandbox.serviceAccount.name }}{{ end -}}
{{- end }}

{{/* Exposures whose RBAC is granted: driver.flags.expose plus rbac.exposeKinds. */}}
{{- define "osd.exposeKinds" -}}
{{- $kinds := .Values.rbac.exposeKinds | default list -}}
{{- $expose := include "osd.flag" (list . "expose") | default "none" -}}
{{- if ne $expose "none" }}{{ $kinds = append $kinds $expose }}{{ end -}}
{{- $kinds | uniq | join "," -}}
{{- end }}

{{/* metadata.labels, or nothing when chartLabels is off (the plain manifests under deploy/). */}}
{{- define "osd.labels" -}}
{{- if .Values.chartLabels -}}
labels:
  app.kubernetes.io/name: {{ .Chart.Name }}
  app.kubernetes.io/instance: {{ .Release.Name }}
  app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
  app.kubernetes.io/managed-by: {{ .Release.Service }}
  helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}
{{- end }}

{{/* Labels the Deployment selects the release's pod by (immutable once installed, so kept). */}}
{{- define "osd.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The release pod's identity for everything that grants it something (NetworkPolicies, the gateway
Service): keys under openshell.ai/, which the driver's request policy never lets a sandbox set,
whereas a sandbox could wear app.kubernetes.io/name and instance if an operator opened them.
*/}}
{{- define "osd.identityLabels" -}}
openshell.ai/component: driver
openshell.ai/release: {{ .Release.Name }}
{{- end }}

{{- define "osd.image" -}}
{{- if .Values.image.digest }}{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else }}{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}{{ end -}}
{{- end }}

{{/* The pod and container security of both containers: PSA restricted and OpenShift restricted-v2. */}}
{{- define "osd.containerSecurityContext" -}}
runAsNonRoot: true
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "osd.podSecurityContext" -}}
runAsNonRoot: true
seccompProfile:
  type: RuntimeDefault
{{- if ne (include "osd.platform" .) "openshift" }}
{{- with .Values.podSecurityContext.runAsUser }}
runAsUser: {{ . }}
{{- end }}
{{- with .Values.podSecurityContext.runAsGroup }}
runAsGroup: {{ . }}
{{- end }}
{{- with .Values.podSecurityContext.fsGroup }}
fsGroup: {{ . }}
{{- end }}
{{- end }}
{{- end }}

{{/* The Secrets the driver copies from its namespace (--image-pull-secrets, --client-tls-secret-name), as a JSON list; [] when none is set. */}}
{{- define "osd.secretSourceNames" -}}
{{- $names := list -}}
{{- $pull := .Values.driver.flags.imagePullSecrets -}}
{{- if kindIs "slice" $pull }}{{ $names = concat $names $pull }}{{ else if kindIs "string" $pull }}{{ range splitList "," $pull }}{{ if ne (trim .) "" }}{{ $names = append $names (trim .) }}{{ end }}{{ end }}{{ end -}}
{{- with .Values.driver.flags.clientTlsSecretName }}{{ $names = append $names . }}{{ end -}}
{{- $names | uniq | toJson -}}
{{- end }}
