# Sourced by the scripts/device/serve-bench-*.sh scripts (GPU machine, repo root, .bundle
# carried): $out (the device tool's $OUT, ./out elsewhere), the bundle on PATH, the
# Llama-3 tokenizer `tok`, `port`, and starting / stopping one `radix serve` on Llama-3-8B
# shapes with dummy weights.
out=${OUT:-out}
mkdir -p "$out"
# shellcheck disable=SC1091
source .bundle/env.sh
tok=.bundle/tok-llama3
port=30000
pid=""

# start_server NAME [flags...]: logs to $out/server-NAME.log, sets $pid, returns once
# /health answers 200 (1 if the server died or is not ready after 300 s). SERVER_ARGS:
# extra flags for every server (e.g. --enable-overlap-schedule).
start_server() {
  local name=$1
  shift
  # shellcheck disable=SC2086
  radix serve --model-path configs/llama-3-8b.json --load-format dummy --tokenizer-path "$tok" --device cuda \
    --port $port ${SERVER_ARGS:-} "$@" > "$out/server-$name.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    if python3 -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=2).status == 200 else 1)" 2> /dev/null; then
      echo "server $name ready"
      return 0
    fi
    kill -0 $pid 2> /dev/null || { echo "server $name died"; tail -20 "$out/server-$name.log"; return 1; }
    sleep 1
  done
  echo "server $name not ready after 300 s"
  return 1
}

stop_server() {
  kill -TERM "$pid" 2> /dev/null
  wait "$pid" 2> /dev/null
}
