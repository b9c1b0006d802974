#!/usr/bin/env bash
# Make sure Postgres (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer; start them if installed but stopped.
set -uo pipefail
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG || (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; }
if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 30); do pg_up && break; sleep 1; done
  fi
fi
if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    for _ in $(seq 30); do redis_up && break; sleep 1; done
  fi
fi
ok=0
pg_up || { echo "Postgres is not reachable on 127.0.0.1:5432 and could not be started (install postgresql, trust auth for 127.0.0.1)." >&2; ok=1; }
redis_up || { echo "Redis is not reachable on 127.0.0.1:6379 and could not be started (install redis-server)." >&2; ok=1; }
exit $ok
