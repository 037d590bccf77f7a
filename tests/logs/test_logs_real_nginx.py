"""A real nginx (Debian's nginx-light, installed by scripts/test.sh) proxies to a slow upstream and to a closed
port, and its own logs are read: the error log (which names the upstream by address), an access log in
ingress-nginx's `upstreaminfo` format, and one as `escape=json` JSON of ingress-nginx's variables. Nothing
here is written by hand but the configuration: the lines are what nginx 1.22 writes.

ingress-nginx sets `$proxy_upstream_name` per location (`set $proxy_upstream_name "<ns>-<svc>-<port>"` in the
nginx.conf it renders) and `$req_id` from `$request_id`; plain nginx has neither, so the configuration sets
them the same way.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from diagnose.logs.scan import scan
from tests.servers.ports import free_port, get_each, refusing_port, slow_upstream, wait_listening

pytestmark = pytest.mark.integration
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

# ingress-nginx's default log format (its docs, "Log format"), and a JSON one of its variables.
UPSTREAMINFO = ("'$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" "
                "\"$http_user_agent\" $request_length $request_time [$proxy_upstream_name] "
                "[$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length $upstream_response_time "
                "$upstream_status $req_id'")
JSON_FORMAT = ("escape=json '{\"time\": \"$time_iso8601\", \"status\": $status, \"request_time\": $request_time, "
               "\"proxy_upstream_name\": \"$proxy_upstream_name\", \"upstream_addr\": \"$upstream_addr\", "
               "\"upstream_status\": \"$upstream_status\", \"upstream_response_time\": \"$upstream_response_time\", "
               "\"namespace\": \"team-a\", \"service_name\": \"user-auth\"}'")




@pytest.fixture
def nginx_logs(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (scripts/test.sh installs nginx-light)")
    with slow_upstream(2.5) as up_port, refusing_port() as closed:     # longer than proxy_read_timeout 1s
        port = free_port()
        for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (tmp_path / d).mkdir()
        conf = tmp_path / "nginx.conf"
        conf.write_text(f"""
daemon off; master_process off; worker_processes 1;
pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log warn;
events {{ worker_connections 64; }}
http {{
  client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy; fastcgi_temp_path {tmp_path}/fastcgi;
  uwsgi_temp_path {tmp_path}/uwsgi; scgi_temp_path {tmp_path}/scgi;
  log_format upstreaminfo {UPSTREAMINFO};
  log_format ingressjson {JSON_FORMAT};
  access_log {tmp_path}/access.log upstreaminfo;
  access_log {tmp_path}/access.jsonl ingressjson;
  proxy_read_timeout 1s; proxy_connect_timeout 1s;
  server {{
    listen 127.0.0.1:{port};
    set $proxy_alternative_upstream_name ""; set $req_id $request_id;
    location /slow {{ set $proxy_upstream_name "team-a-user-auth-8080"; proxy_pass http://127.0.0.1:{up_port}; }}
    location /down {{ set $proxy_upstream_name "team-a-user-auth-8080"; proxy_pass http://127.0.0.1:{closed}; }}
  }}
}}
""")
        proc = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp_path)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            wait_listening(port, proc, "nginx")
            get_each(port, ["/slow"] * 3 + ["/down"] * 2, (502, 504))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        yield tmp_path, up_port


def test_nginxs_own_error_log_gives_timeouts_and_refusals_by_upstream_address(nginx_logs) -> None:
    logs, up_port = nginx_logs
    r = scan([str(logs / "error.log")])
    got = sorted((i.signal, i.service, i.upstream, i.events) for i in r.incidents)
    assert ("upstream-timeout", "nginx", f"127.0.0.1:{up_port}", 3) in got
    assert [g for g in got if g[0] == "upstream-unavailable" and g[3] == 2], got
    assert all(v.log == "nginx" for i in r.incidents for v in i.seen_by)


def test_the_same_requests_in_ingress_nginxs_access_formats_name_the_service_and_namespace(nginx_logs) -> None:
    logs, _ = nginx_logs
    text = {i.signal: i for i in scan([str(logs / "access.log")]).incidents}
    # upstreaminfo has no namespace of its own: <namespace>-<service>-<port> is read at its first dash
    assert (text["upstream-timeout"].upstream, text["upstream-timeout"].namespace, text["upstream-timeout"].events) \
        == ("a-user-auth", "team", 3)
    assert text["upstream-timeout"].duration_ms.max is not None and text["upstream-timeout"].duration_ms.max >= 1000
    assert text["upstream-unavailable"].events == 2
    # the JSON line carries $namespace: the dashed namespace is split where it says
    js = {i.signal: i for i in scan([str(logs / "access.jsonl")]).incidents}
    assert (js["upstream-timeout"].service, js["upstream-timeout"].upstream, js["upstream-timeout"].namespace,
            js["upstream-timeout"].events) == ("nginx", "user-auth", "team-a", 3)
    assert [(v.log, dict(v.details)) for v in js["upstream-timeout"].seen_by] == [("nginx", {"504": 3})]
    assert js["upstream-unavailable"].events == 2
    first = json.loads((logs / "access.jsonl").read_text().splitlines()[0])
    assert first["proxy_upstream_name"] == "team-a-user-auth-8080"       # nginx wrote the JSON itself
