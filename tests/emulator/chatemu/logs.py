"""CloudWatch Logs as `chatctl logs` reads it: FilterLogEvents like AWS answers it.

moto 5.2.5 implements FilterLogEvents and GetLogEvents; what differs from AWS for the calls
chatctl makes is fixed here (selftest.py covers each point):

- Without `interleaved`, moto returns one stream's events after the other's. AWS has ignored
  the parameter since June 17, 2019 and always interleaves the streams of a group in time
  order (FilterLogEvents API reference, `interleaved`: "Starting on June 17, 2019, this
  parameter is ignored and the value is assumed to be true. The response from this operation
  always interleaves events from multiple log streams within a log group."). Events of equal
  timestamp come in the order they were ingested ("sorted by event timestamp, the timestamp
  when the event was ingested by CloudWatch Logs, and the ID of the PutLogEvents request").
- AWS returns "as many log events as can fit in 1 MB (up to 10,000 log events)" per page, so a
  client must follow `nextToken`: the `page_size` knob caps FilterLogEvents pages too, so tests
  exercise that with a handful of events.
"""

from __future__ import annotations

from typing import Any

from moto.logs import models as logs_models

from .control import CONTROL

_applied = False

# AWS's default and maximum page.
MAX_EVENTS = 10000


def _filter_log_events(self: Any, log_group_name: str, log_stream_names: list[str], start_time: int,
                       end_time: int, limit: int | None, next_token: str | None, filter_pattern: str,
                       interleaved: bool) -> tuple[list[dict[str, Any]], str | None, list[dict[str, Any]]]:
    limit = min(limit or MAX_EVENTS, MAX_EVENTS)
    forced = CONTROL.knobs.page_size
    if forced:
        limit = min(limit, forced)
    streams = [s for name, s in self.streams.items() if not log_stream_names or name in log_stream_names]
    events: list[dict[str, Any]] = []
    for stream in streams:
        events += stream.filter_log_events(start_time, end_time, filter_pattern)
    # moto numbers events globally in ingestion order.
    events.sort(key=lambda e: (e["timestamp"], int(e["eventId"])))
    first = 0
    if next_token:
        group, _, event_id = next_token.partition("@")
        positions = [i for i, e in enumerate(events) if e["eventId"] == event_id]
        if group != log_group_name or not positions:
            # AWS answers an empty page to a token it does not know.
            return [], None, []
        first = positions[0] + 1
    page = events[first:first + limit]
    token = None
    if page and first + limit < len(events):
        token = f"{log_group_name}@{page[-1]['eventId']}"
    searched = [{"logStreamName": s.log_stream_name, "searchedCompletely": True} for s in streams]
    return page, token, searched


def apply() -> None:
    global _applied
    if _applied:
        return
    _applied = True
    logs_models.LogGroup.filter_log_events = _filter_log_events
