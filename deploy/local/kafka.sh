#!/usr/bin/env bash
# Local Apache Kafka (KRaft, one combined broker+controller node) from Maven Central jars.
#   deploy/local/kafka.sh start   resolve the jars once per machine, format, start, wait, print
#   deploy/local/kafka.sh stop    stop the broker this script started (by PID), remove its data
#   deploy/local/kafka.sh status
# With KAFKA_BOOTSTRAP_SERVERS set, that broker is used and nothing is started. The broker runs as
# the invoking user with its data in $STACK_DIR/kafka. When a default port (19092 for clients,
# 19093 for the KRaft controller) is taken by a process this checkout did not start, free ports are
# drawn instead (a KAFKA_PORT or KAFKA_CONTROLLER_PORT you set is never replaced).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$ROOT_DIR/deploy/local/pom.xml")
KAFKA_PORT_SET=${KAFKA_PORT:-}
KAFKA_CONTROLLER_PORT_SET=${KAFKA_CONTROLLER_PORT:-}
KAFKA_PORT=${KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19093}
LIBS_DIR="$CACHE_DIR/kafka-$KAFKA_VERSION/libs"
DATA_DIR="$STACK_DIR/kafka"
PIDFILE="$STACK_DIR/kafka.pid"
RANDOM_UUID='import base64, uuid
while (cid := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"):
    pass
print(cid)'

need() {
  command -v java >/dev/null || die "java not found: install Java 17 or newer (Debian: apt-get install -y openjdk-17-jre-headless)"
  local major
  major=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/.*java.specification.version = \([0-9]*\).*/\1/p')
  [ "${major:-0}" -ge 17 ] || die "Kafka 4.x needs Java 17 or newer; found Java ${major:-unknown}"
}

resolve() {
  if [ -f "$LIBS_DIR/kafka_2.13-$KAFKA_VERSION.jar" ]; then return; fi
  command -v mvn >/dev/null || die "mvn not found: install Maven (Debian: apt-get install -y maven) to fetch Kafka from Maven Central"
  log "resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION and its runtime dependencies into $LIBS_DIR (once per machine)"
  local tmp="$LIBS_DIR.tmp.$$"
  rm -rf "$tmp"
  mvn -q -B -f "$ROOT_DIR/deploy/local/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" >&2 || die "Maven could not resolve Kafka $KAFKA_VERSION"
  [ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || die "the Kafka jar is missing from the resolved set"
  rm -rf "$LIBS_DIR"; mv "$tmp" "$LIBS_DIR"
}

write_config() {
  mkdir -p "$DATA_DIR/logs"
  cat > "$DATA_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA_DIR/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# The service and the tests create the topics they use; nothing relies on auto-creation.
auto.create.topics.enable=false
log.retention.hours=24
PROPS
  cat > "$DATA_DIR/log4j2.yaml" <<LOG
Configuration:
  Appenders:
    File:
      name: file
      fileName: "$DATA_DIR/logs/server.log"
      PatternLayout: { pattern: "[%d] %p %m (%c)%n" }
  Loggers:
    Root: { level: WARN, AppenderRef: [ { ref: file } ] }
    Logger: [ { name: kafka.server.KafkaRaftServer, level: INFO, AppenderRef: [ { ref: file } ] } ]
LOG
}

# Wait until the broker answers a client. Returns 1 when another process bound one of its ports
# first (the caller retries on others), dies on any other failure.
wait_ready() {
  local pid=$1 python=${PYTHON:-$ROOT_DIR/.venv/bin/python}
  for _ in $(seq 1 120); do
    if ! pid_alive "$pid"; then
      grep -qs 'Address already in use' "$DATA_DIR/logs/server.log" "$DATA_DIR/logs/stdout.log" && return 1
      tail -n 30 "$DATA_DIR/logs/server.log" "$DATA_DIR/logs/stdout.log" >&2 || true
      die "Kafka exited during start-up"
    fi
    if port_open "$KAFKA_PORT"; then
      # Ready means a client's metadata request succeeds, not merely an open port.
      if [ -x "$python" ] && "$python" "$ROOT_DIR/deploy/local/kafka_ready.py" "127.0.0.1:$KAFKA_PORT" 2>/dev/null; then return; fi
      [ -x "$python" ] || return 0
    fi
    sleep 0.5
  done
  die "Kafka did not become ready within 60 s (see $DATA_DIR/logs/server.log)"
}

# Draw free ports for those of the defaults that are taken; a port the user set is never replaced.
choose_ports() {
  local broker_taken='' controller_taken='' drawn
  port_open "$KAFKA_PORT" && broker_taken=$KAFKA_PORT
  port_open "$KAFKA_CONTROLLER_PORT" && controller_taken=$KAFKA_CONTROLLER_PORT
  if [ -n "$broker_taken" ] && [ -n "$KAFKA_PORT_SET" ]; then
    die "port $KAFKA_PORT is taken by a process this script did not start; set KAFKA_BOOTSTRAP_SERVERS to use it, or KAFKA_PORT to pick another"
  fi
  if [ -n "$controller_taken" ] && [ -n "$KAFKA_CONTROLLER_PORT_SET" ]; then
    die "port $KAFKA_CONTROLLER_PORT is taken by a process this script did not start; set KAFKA_CONTROLLER_PORT to pick another"
  fi
  [ -n "$broker_taken$controller_taken" ] || return 0
  drawn=($(free_ports 2))
  [ -n "$broker_taken" ] && KAFKA_PORT=${drawn[0]}
  [ -n "$controller_taken" ] && KAFKA_CONTROLLER_PORT=${drawn[1]}
  local taken="port ${broker_taken:-$controller_taken}"
  [ -n "$broker_taken" ] && [ -n "$controller_taken" ] && taken="ports $broker_taken and $controller_taken"
  log "$taken taken by a process this checkout did not start: using $KAFKA_PORT (clients) and $KAFKA_CONTROLLER_PORT (controller)"
}

start() {
  if [ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
    log "KAFKA_BOOTSTRAP_SERVERS is set: using $KAFKA_BOOTSTRAP_SERVERS, starting nothing"
    echo "export KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS"; return
  fi
  local pid; pid=$(read_pid "$PIDFILE")
  if pid_alive "$pid"; then
    local ports; ports=$(saved_ports kafka); ports=${ports:-$KAFKA_PORT}
    log "Kafka already running (pid $pid), reusing it"
    echo "export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:${ports%% *}"; return
  fi
  need; resolve
  local java=(java -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true
              "-Dlog4j2.configurationFile=$DATA_DIR/log4j2.yaml" -cp "$LIBS_DIR/*")
  local attempt
  for attempt in 1 2 3; do
    choose_ports
    rm -rf "$DATA_DIR"; write_config
    # The cluster id is what `StorageTool random-uuid` prints (16 random bytes, URL-safe base64,
    # not starting with '-'), made here to spare a JVM start; the short-lived format tool starts
    # faster with the client compiler only.
    local cluster_id; cluster_id=$("$(stack_python)" -c "$RANDOM_UUID")
    "${java[@]}" -XX:TieredStopAtLevel=1 kafka.tools.StorageTool format -t "$cluster_id" -c "$DATA_DIR/server.properties" \
        > "$DATA_DIR/logs/format.log" 2>&1 || { cat "$DATA_DIR/logs/format.log" >&2; die "formatting the KRaft storage failed"; }
    log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (data in $DATA_DIR)"
    setsid "${java[@]}" kafka.Kafka "$DATA_DIR/server.properties" </dev/null > "$DATA_DIR/logs/stdout.log" 2>&1 &
    pid=$!
    echo "$pid" > "$PIDFILE"
    echo "$KAFKA_PORT $KAFKA_CONTROLLER_PORT" > "$STACK_DIR/kafka.ports"
    echo "${STACK_OWNER:-manual}" > "$STACK_DIR/kafka.owner"
    start_watchdog kafka "$pid"
    wait_ready "$pid" && break
    stop_by_pidfile kafka TERM
    log "a port of Kafka's was taken while it started (attempt $attempt of 3)"
    [ "$attempt" = 3 ] && die "Kafka lost the race for its ports three times"
  done
  log "Kafka ready on 127.0.0.1:$KAFKA_PORT (pid $pid)"
  echo "export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT"
}

case "${1:-}" in
  start) start ;;
  stop) stop_by_pidfile kafka TERM; rm -rf "$DATA_DIR" ;;
  status)
    pid=$(read_pid "$PIDFILE"); ports=$(saved_ports kafka); ports=${ports:-$KAFKA_PORT}
    if pid_alive "$pid"; then echo "kafka running (pid $pid) on 127.0.0.1:${ports%% *}, data in $DATA_DIR"
    else echo "kafka not running"; fi ;;
  resolve) need; resolve; echo "$LIBS_DIR" ;;
  *) echo "usage: $0 start|stop|status|resolve" >&2; exit 2 ;;
esac
