"""Which JSON (and logfmt) fields play which role: the table of field rules, as data.

`fields.py` reads a record through this table; nothing else in the log layer names a field. A rule is a
role, its keys in priority order (flattened: `{"service": {"name": x}}` and `"service.name"` are both
`service.name`) and how a value is read. Keys are written as the logging library, collector or cloud
writes them; `source` says where that layout is documented (docs/logs.md "Fields read" lists them).

Besides exact keys, three rules find a field by meaning, decided once per record shape:
  * an envelope (`jsonPayload.`, `attributes.`, `resource.attributes.`, `fields.`, ...) is looked through:
    `jsonPayload.upstream` is read as `upstream`, a little after the key written bare;
  * a key whose last part says what it is (`...duration`, `...latency`, `...elapsed`, `...Timeout`,
    `...url`) plays that role after the exact keys, with the unit its name says (`durationMs`, `took_in_nanos`);
  * a bare number's unit comes from the rule (`event.duration` is nanoseconds), else from the key's name.

Roles: service (the caller), upstream, namespace, time, duration, timeout, text (words that say what
happened), grpc (a gRPC status, name or number), flags and code (an Envoy access log's response flags and
HTTP status), proxy_upstream and upstream_status (an ingress-nginx access log's upstream and its answer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# How a value is read. NAME: a service or upstream name (host:port, FQDN, Envoy cluster, dial target).
# URL: only a value with a scheme ("http://host:port/path") counts; its host is the name.
NAME, URL = "name", "url"
# Milliseconds per unit of a bare number, when the rule knows it (else durations.key_unit_ms decides).
NS, US, MS, S = 1e-6, 1e-3, 1.0, 1000.0


@dataclass(frozen=True)
class Rule:
    role: str
    keys: tuple[str, ...]
    source: str
    read: str = NAME          # for service / upstream: NAME or URL
    unit_ms: float | None = None     # for duration / timeout: ms per unit of a bare number
    requires: tuple[str, ...] = ()   # read only in records that also have these keys (the layout's own)


ECS = "https://www.elastic.co/guide/en/ecs/current/ecs-field-reference.html"
OTEL = "https://opentelemetry.io/docs/specs/semconv/general/attributes/"
OTLP = "https://github.com/open-telemetry/opentelemetry-proto/blob/main/examples/logs.json"
FLUENTBIT = "https://docs.fluentbit.io/manual/pipeline/filters/kubernetes"
VECTOR = "https://vector.dev/docs/reference/configuration/sources/kubernetes_logs/"
FILEBEAT = "https://www.elastic.co/guide/en/beats/filebeat/current/exported-fields-kubernetes-processor.html"
GCP = "https://cloud.google.com/logging/docs/structured-logging"
GCP_ENTRY = "https://cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry"
LAMBDA = "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-advanced.html"
POWERTOOLS = "https://docs.powertools.aws.dev/lambda/python/latest/core/logger/"
AZURE = "https://learn.microsoft.com/en-us/azure/azure-monitor/reference/tables/apptraces"
ENVOY = "https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage"
GRPC_MW = "https://github.com/grpc-ecosystem/go-grpc-middleware/blob/main/interceptors/logging/logging.go"
LOGSTASH = "https://github.com/logfellow/logstash-logback-encoder#standard-fields"
LOG4J2 = "https://logging.apache.org/log4j/2.x/manual/json-template-layout.html"
LOG4J2_JSON = "https://logging.apache.org/log4j/2.x/manual/layouts.html#JSONLayout"
ZAP = "https://pkg.go.dev/go.uber.org/zap#NewProductionEncoderConfig"
ZEROLOG = "https://github.com/rs/zerolog#standard-types"
PYJSON = "https://github.com/nhairs/python-json-logger"
STRUCTLOG = "https://www.structlog.org/en/stable/api.html#structlog.processors.TimeStamper"
PINO = "https://github.com/pinojs/pino-http#pinohttpopts-stream"
BUNYAN = "https://github.com/trentm/node-bunyan#core-fields"
INGRESS_NGINX = "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/log-format/"
INGRESS_JSON = "https://www.journal.petrausch.info/post/2020/05/managing-kubernetes-ingress-json-log-format-with-sanity/"
SEED = "the project's seed format (tests/data/logs/seed.jsonl)"

RULES: tuple[Rule, ...] = (
    # -- the caller ----------------------------------------------------------------------------------------
    Rule("service", ("service", "service.name", "service_name", "serviceName", "app", "application"),
         f"{SEED}; ECS service.name {ECS}; Powertools service {POWERTOOLS}"),
    Rule("service", ("resource.service.name",), f"OTel resource attribute service.name {OTEL}"),
    Rule("service", ("serviceContext.service",), f"GCP Error Reporting serviceContext {GCP}"),
    Rule("service", ("kubernetes.labels.app", "kubernetes.labels.app.kubernetes.io/name",
                     "kubernetes.labels.app_kubernetes_io/name", "kubernetes.pod_labels.app",
                     "kubernetes.pod_labels.app.kubernetes.io/name", "k8s.deployment.name",
                     "kubernetes.deployment.name", "labels.k8s-pod/app"),
         f"Fluent Bit {FLUENTBIT}; Vector {VECTOR}; Filebeat {FILEBEAT}; GKE {GCP_ENTRY}"),
    Rule("service", ("kubernetes.container_name", "kubernetes.container.name", "resource.labels.container_name",
                     "k8s.container.name"),
         f"Fluent Bit / Vector container_name; Filebeat container.name {FILEBEAT}; GKE resource.labels"),
    Rule("service", ("function_name", "cloud_RoleName", "AppRoleName"),
         f"Lambda Powertools function_name {POWERTOOLS}; Azure AppRoleName {AZURE}"),
    # bunyan's required `name` is the app (pino's optional one too); elsewhere `name` is a logger's name, so
    # it is read only in records with bunyan's and pino's own `hostname` and `pid`.
    Rule("service", ("name",), f"bunyan core fields {BUNYAN}; pino {PINO}", requires=("hostname", "pid")),
    # -- the upstream --------------------------------------------------------------------------------------
    Rule("upstream", ("upstream_service", "upstream", "upstream.service", "upstream.name", "upstream_cluster",
                      "upstreamCluster", "upstream_name"), SEED),
    Rule("upstream", ("service.target.name", "destination.service.name", "peer.service", "destination_service",
                      "target_service", "server.address", "net.peer.name", "destination.domain",
                      "destination.address", "upstream.address"),
         f"ECS service.target.name, destination.* {ECS}; OTel peer.service, server.address, net.peer.name {OTEL}"),
    Rule("upstream", ("grpc.target", "rpc.service", "grpc.service", "authority", "upstream_host",
                      "upstream.host"),
         f"gRPC dial target; OTel rpc.service {OTEL}; Envoy %UPSTREAM_HOST%, :authority {ENVOY}"),
    Rule("upstream", ("upstream_url", "upstream.url", "url.full", "http.url", "url.original", "http.target_url",
                      "target_url", "request_url", "url"),
         f"ECS url.full, url.original {ECS}; OTel url.full (was http.url) {OTEL}", read=URL),
    # -- the pod whose log it is (one pod's calls seen by its app and its sidecar are counted once) --------
    Rule("pod", ("kubernetes.pod_name", "kubernetes.pod.name", "k8s.pod.name", "resource.k8s.pod.name",
                 "pod_name", "pod"),
         f"Fluent Bit pod_name {FLUENTBIT}; Filebeat kubernetes.pod.name {FILEBEAT}; OTel k8s.pod.name {OTEL}"),
    # -- the upstream's namespace (when its name does not carry one) ---------------------------------------
    Rule("namespace", ("kubernetes.namespace_name", "namespace", "k8s.namespace.name", "kubernetes.namespace",
                       "kubernetes.pod_namespace", "kubernetes.namespace.name", "resource.k8s.namespace.name",
                       "resource.labels.namespace_name"),
         f"Fluent Bit namespace_name; Vector pod_namespace; Filebeat {FILEBEAT}; OTel k8s.namespace.name; GKE"),
    # -- when ----------------------------------------------------------------------------------------------
    Rule("time", ("timestamp", "time", "ts", "@timestamp", "start_time", "datetime", "date", "time_local", "t"),
         f"logstash-logback @timestamp {LOGSTASH}; zap ts {ZAP}; slog/logrus/zerolog/bunyan/pino time; "
         f"structlog/winston/Lambda timestamp {LAMBDA}"),
    Rule("time", ("timeUnixNano", "observedTimeUnixNano", "timestamp.seconds", "timestampSeconds",
                  "instant.epochSecond", "timeMillis", "asctime", "TimeGenerated"),
         f"OTLP timeUnixNano {OTLP}; GCP timestamp {{seconds, nanos}} {GCP}; log4j2 JsonLayout instant, "
         f"timeMillis {LOG4J2_JSON}; python-json-logger asctime {PYJSON}; Azure TimeGenerated {AZURE}"),
    # -- how long the call took ----------------------------------------------------------------------------
    Rule("duration", ("duration_ms", "latency_ms", "elapsed_ms", "response_time_ms", "took_ms",
                      "request_duration_ms", "durationMs", "elapsedMs", "latencyMs"), SEED, unit_ms=MS),
    Rule("duration", ("event.duration",), f"ECS event.duration, nanoseconds {ECS}", unit_ms=NS),
    Rule("duration", ("grpc.time_ms",), f"go-grpc-middleware grpc.time_ms {GRPC_MW}", unit_ms=MS),
    Rule("duration", ("httpRequest.latency",), f"GCP httpRequest.latency \"1.5s\" {GCP_ENTRY}"),
    Rule("duration", ("responseTime", "response_time", "took", "elapsed", "latency", "duration",
                      "elapsed_time", "http.duration"),
         f"pino-http responseTime (ms) {PINO}; zerolog Dur (ms) {ZEROLOG}; Envoy %DURATION% (ms) {ENVOY}"),
    Rule("duration", ("duration_s", "duration_seconds", "latency_seconds", "elapsed_seconds", "request_time",
                      "upstream_response_time", "duration_ns"), "units in the key's name; nginx $request_time (s)"),
    # -- the caller's own timeout --------------------------------------------------------------------------
    Rule("timeout", ("timeout_ms", "timeout", "deadline_ms", "timeout_seconds", "timeout_s", "request_timeout",
                     "request_timeout_ms", "upstream_timeout_ms", "client_timeout_ms", "timeoutMs", "deadline",
                     "grpc.request.timeout"), SEED),
    # -- what happened (words a signal is recognised by: model/signals.py) ---------------------------------
    Rule("text", ("message", "msg", "error", "err", "error.message", "error.msg", "exception", "event", "log",
                  "reason", "response_code_details", "error.type", "status_message", "err.message",
                  "error.kind", "exception.message", "exception.type", "thrown.message", "thrown.name",
                  "body", "textPayload", "stack_trace", "error.stack_trace", "exc_info", "Message"),
         f"ECS error.* {ECS}; OTel exception.*, OTLP body {OTLP}; log4j2 thrown {LOG4J2_JSON}; "
         f"logstash-logback stack_trace {LOGSTASH}; pino/bunyan err; structlog event {STRUCTLOG}; "
         f"Envoy %RESPONSE_CODE_DETAILS% {ENVOY}"),
    # A gRPC status by name (DeadlineExceeded, DEADLINE_EXCEEDED) or number (4): GRPC_CODES names it.
    Rule("grpc", ("grpc.code", "grpc_code", "grpc.status", "grpc_status", "grpc.status_code",
                  "rpc.grpc.status_code"),
         f"go-grpc-middleware grpc.code {GRPC_MW}; OTel rpc.grpc.status_code {OTEL}; Envoy %GRPC_STATUS%"),
    Rule("flags", ("response_flags", "responseFlags", "flags"), f"Envoy %RESPONSE_FLAGS% {ENVOY}"),
    Rule("peer", ("downstream_remote_address", "downstreamRemoteAddress"),
         f"Envoy %DOWNSTREAM_REMOTE_ADDRESS% {ENVOY}"),
    # ingress-nginx's access log as JSON (log-format-escape-json, log-format-upstream): the upstream is
    # $proxy_upstream_name (`<namespace>-<service>-<port>`), what it answered $upstream_status, and the
    # caller is the ingress (its $service_name / $namespace are the backend's). Keys as its docs' variables
    # and a published ECS-style layout (http.upstream.name / status_code) name them.
    Rule("proxy_upstream", ("proxy_upstream_name", "proxyUpstreamName", "http.upstream.name", "upstream_proxy_name"),
         f"ingress-nginx $proxy_upstream_name {INGRESS_NGINX}; {INGRESS_JSON}"),
    Rule("duration", ("http.upstream.time", "http.response.time"), f"ingress-nginx ECS-style layout {INGRESS_JSON}",
         unit_ms=S),
    Rule("upstream_status", ("upstream_status", "upstreamStatus", "http.upstream.status_code"),
         f"ingress-nginx $upstream_status {INGRESS_NGINX}"),
    Rule("code", ("response_code", "status", "status_code", "http.status_code", "code",
                  "http.response.status_code"), "Envoy %RESPONSE_CODE%; ECS/OTel http.response.status_code"),
)

# Envelopes a layout wraps its fields in; a key inside one is read as the key without it.
ENVELOPES: tuple[tuple[str, str], ...] = (
    ("jsonPayload.", f"GCP LogEntry jsonPayload {GCP_ENTRY}"),
    ("logging.googleapis.com/labels.", f"GCP structured logging special field {GCP}"),
    ("Properties.", f"Azure Application Insights custom dimensions {AZURE}"),
    ("contextMap.", f"log4j2 JsonLayout ThreadContext map {LOG4J2_JSON}"),
    ("resource.attributes.", f"OTLP resource attributes {OTLP}"),
    ("attributes.", f"OTLP log record attributes {OTLP}"),
    ("fields.", "Filebeat custom fields; logrus fields nested by a hook"),
    ("json.", "Filebeat json.* when decoded under a target"),
    ("mdc.", f"log4j2 / logback MDC maps {LOG4J2}"),
    ("labels.", f"ECS labels {ECS}; GCP labels"),
    ("extra.", "python logging `extra` nested by a formatter"),
    ("context.", "Monolog / winston context objects"),
    ("data.", "payloads nested under data"),
    ("message.", f"Lambda JSON: a logged object is the value of `message` {LAMBDA}"),
)

# By meaning: the last part of a key (snake_case of it, unit suffix removed) names its role.
MEANING: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("timeout", re.compile(r"(?:^|_)(?:timeout|deadline)$")),
    ("duration", re.compile(r"(?:^|_)(?:duration|latency|elapsed|took|response_time|request_time|rtt)$")),
    ("upstream", re.compile(r"(?:^|_)ur[li]$")),
)
UNIT_SUFFIX = re.compile(r"_(?:in_)?(ms|millis|milliseconds|us|micros|microseconds|ns|nanos|nanoseconds|"
                         r"s|sec|secs|seconds)$")
SUFFIX_MS = {"ms": MS, "millis": MS, "milliseconds": MS, "us": US, "micros": US, "microseconds": US, "ns": NS,
             "nanos": NS, "nanoseconds": NS, "s": S, "sec": S, "secs": S, "seconds": S}

# zap's production encoder (ts: float epoch seconds, caller) writes durations as float seconds
# (zapcore.SecondsDurationEncoder, ZAP): in such a record a bare number under a key that names no unit is
# seconds, not milliseconds.
SECONDS_LAYOUT: tuple[str, ...] = ("ts", "caller")

# gRPC status codes a signal's words know (https://grpc.github.io/grpc/core/md_doc_statuscodes.html).
GRPC_CODES: dict[int, str] = {4: "DEADLINE_EXCEEDED", 14: "UNAVAILABLE"}

# OTLP JSON wraps every value ({"stringValue": "x"}, {"intValue": "10"}) and writes attributes as a list of
# {"key": k, "value": {...}} (OTLP).
ANY_VALUE = frozenset({"stringValue", "intValue", "doubleValue", "boolValue"})
