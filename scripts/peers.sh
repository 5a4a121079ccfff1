#!/usr/bin/env bash
# Real peers for the test suite. Today: maildev, an SMTP server (127.0.0.1:2525) whose HTTP API
# (127.0.0.1:2580/api/email) shows what arrived. It is installed from npm outside the repository,
# into ${BEEBOX_PEERS_DIR:-~/.cache/beebox-peers}, so a fresh machine only needs node and npm.
#
#   scripts/peers.sh start    install if absent, start unless already listening, wait until ready
#   scripts/peers.sh stop     stop the maildev this script started (by its pid file)
#   scripts/peers.sh status
set -euo pipefail

peers_dir="${BEEBOX_PEERS_DIR:-$HOME/.cache/beebox-peers}"
maildev_version="3.0.0"
smtp_port=2525
web_port=2580
maildev_dir="$peers_dir/maildev"
pid_file="$peers_dir/maildev.pid"
log_file="$peers_dir/maildev.log"
mail_dir="$peers_dir/maildev-mail"
api_url="http://127.0.0.1:$web_port/api/email"

need() {
  command -v "$1" >/dev/null 2>&1 || {
    echo "peers.sh: '$1' is not installed; the SMTP test peer (maildev) needs node and npm" >&2
    exit 1
  }
}

# True when something accepts TCP connections on 127.0.0.1:$1 (bash's /dev/tcp, no extra tools).
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

api_ready() {
  curl -fsS --max-time 2 "$api_url" >/dev/null 2>&1
}

install_maildev() {
  local bin="$maildev_dir/node_modules/.bin/maildev"
  if [ -x "$bin" ]; then
    return
  fi
  need node
  need npm
  echo "peers.sh: installing maildev@$maildev_version into $maildev_dir"
  mkdir -p "$maildev_dir"
  # A private package.json keeps npm from walking up into another project.
  [ -f "$maildev_dir/package.json" ] || echo '{"name":"beebox-peers","private":true}' >"$maildev_dir/package.json"
  (cd "$maildev_dir" && npm install --no-audit --no-fund --loglevel=error "maildev@$maildev_version")
}

start() {
  need curl
  if port_open "$smtp_port"; then
    # Another peers.sh may have just started it: give its API a few seconds.
    for _ in $(seq 1 25); do
      if api_ready; then
        echo "peers.sh: maildev already answers on :$smtp_port and $api_url"
        return
      fi
      sleep 0.2
    done
    echo "peers.sh: port $smtp_port is taken by something that is not maildev's API on :$web_port" >&2
    exit 1
  fi
  install_maildev
  # maildev reloads what its directory holds; a fresh start begins with an empty mailbox so the
  # list the tests read does not grow run after run.
  rm -rf "$mail_dir"
  mkdir -p "$mail_dir"
  echo "peers.sh: starting maildev (SMTP 127.0.0.1:$smtp_port, API $api_url, log $log_file)"
  # setsid + nohup: the server outlives this script and the terminal; stop it with `peers.sh stop`.
  setsid nohup "$maildev_dir/node_modules/.bin/maildev" \
    --ip 127.0.0.1 --web-ip 127.0.0.1 -s "$smtp_port" -w "$web_port" \
    --mail-directory "$mail_dir" >"$log_file" 2>&1 </dev/null &
  echo $! >"$pid_file"
  for _ in $(seq 1 100); do
    if api_ready && port_open "$smtp_port"; then
      echo "peers.sh: maildev ready (pid $(cat "$pid_file"))"
      return
    fi
    if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
      echo "peers.sh: maildev exited; its log:" >&2
      cat "$log_file" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "peers.sh: maildev did not answer $api_url within 20 s; its log:" >&2
  cat "$log_file" >&2
  exit 1
}

stop() {
  if [ -f "$pid_file" ]; then
    local pid
    pid=$(cat "$pid_file")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      # Wait for it to let go of its ports, so an immediate `start` finds them free.
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      echo "peers.sh: stopped maildev (pid $pid)"
    fi
    rm -f "$pid_file"
  else
    echo "peers.sh: no pid file at $pid_file; nothing started by this script is running"
  fi
}

status() {
  if api_ready; then
    echo "maildev: up (SMTP 127.0.0.1:$smtp_port, API $api_url)"
  else
    echo "maildev: down"
    return 1
  fi
}

case "${1:-start}" in
  start)
    start
    echo "peers.sh: to run cargo test by hand: export BEEBOX_TEST_SMTP=127.0.0.1:$smtp_port BEEBOX_TEST_MAILDEV=http://127.0.0.1:$web_port"
    ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 [start|stop|status]" >&2
    exit 2
    ;;
esac
