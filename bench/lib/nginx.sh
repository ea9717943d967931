# Sourced by the bench scripts: one loopback nginx that answers every request at once, so the
# client under test, not the receiver, is what a benchmark measures.
#
# start_nginx WORK PORT [LOCATION] [EXTRA_HTTP]
#   WORK        the bench's temp directory (pid, logs and the config go there; cleanup kills it)
#   PORT        the loopback port of the main server
#   LOCATION    the body of its `location /` (default: return 200 "ok")
#   EXTRA_HTTP  more nginx config inside http { }, e.g. a second server block
start_nginx() {
    local work=$1 port=$2 location=${3:-'return 200 "ok";'} extra=${4:-}
    cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/body;
    keepalive_requests 10000000;
    server {
        listen 127.0.0.1:$port backlog=4096;
        location / { $location }
    }
$extra
}
NGINX
    nginx -c "$work/nginx.conf" -p "$work"
    sleep 0.3
}

# stop_nginx WORK: for the scripts' EXIT traps.
stop_nginx() {
    [ -f "$1/nginx.pid" ] && kill "$(cat "$1/nginx.pid")" 2> /dev/null
    return 0
}
