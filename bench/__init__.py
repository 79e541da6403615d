"""The end-to-end benchmark of the service: `make bench` (`python -m bench`), one command.

Everything is real and out of process: the Alice emulator (`python -m emulator`, a fixed
latency per API call, the K users' reports pre-generated) and the service (`python -m service
run`) run as subprocesses against the local Kafka and PostgreSQL. Each phase gets fresh topics
and a fresh database (a clone of one migrated template), so no phase sees another's users.

What is measured, and why this way:

- Throughput is measured on a lag drain: the phase's N events are published first, then the
  service starts. The window opens at the first message the service records (the consumer
  group join and imports are not the pipeline's cost) and closes when every message is in the
  inbox and every derived event has left the outbox. events/s = messages recorded in the
  window / window length. The inbox and outbox are polled every 100 ms.
- Service CPU is psutil's user + system seconds of the service process over that window,
  divided by the messages it recorded; peak RSS is polled every 100 ms over the whole phase.
- Latency is measured in a separate paced phase: events are published at ~50 % of the main
  phase's throughput (queueing in a drain says nothing about latency), and for each user's
  first event the latency is the time from its publication to its derived
  `onboarding.user.state_changed` record on the output topic (the record's CreateTime, set by
  the service's producer). The first event of a user is the expensive one (a backend token and
  the report: two API calls), so this is the honest upper side. The drain's per-message
  processing time from the service's own histogram (`ingestor_message_duration_seconds`,
  interpolated within buckets) is recorded too.
- The naive baseline is the same pipeline one message at a time (MAX_IN_FLIGHT=1,
  DB_BATCH_SIZE=1, DB_WRITERS=1). It moves at about 1 / API latency, so it runs on fewer events
  (default 300) with proportionally fewer users (the same events-per-user mix, hence the same
  share of first events with their extra token call): throughput is a rate, so that is fair.
- The ceiling is the concurrent service with an API latency of 0: CPU-bound, all on two cores
  shared by Kafka, PostgreSQL, the emulator and the service.
- The sweep varies MAX_IN_FLIGHT only (other settings at their defaults) on fewer events; its
  point at 1 is the naive phase.

Each phase verifies its own output and the run fails (non-zero exit) otherwise: every message
in the inbox exactly once with outcome stored / unchanged / duplicate (none dead-lettered),
one snapshot per user, nothing quarantined or dead-lettered, every outbox row on the output
topic, no duplicate `ce_id`, and per user exactly one `state_changed`, first in the user's
records, with `ce_time` in offset order.

The final line is `bench: <events/s> events/s, <x> x naive, <y> % of ceiling, p99 <ms> ms`;
the figures go to `bench/results.json` and the sweep to `bench/throughput.png`.
`--profile` runs the main phase only, with py-spy attached to the service over the window.
"""
