"""SQS event sources: background pollers that feed queue messages to functions.

On AWS, an event source mapping polls each SQS queue a function subscribes to (``Events`` of
``Type: SQS``), invokes the function with batches of messages and deletes the messages the
function handled. Locally, :class:`SqsPoller` does the same against the moto queue:

- one receiver thread per event source long-polls the queue (one-second waits, so stopping
  is quick) and gathers a batch: up to ``BatchSize`` messages, waiting up to
  ``MaximumBatchingWindowInSeconds`` for more once the first one has arrived;
- each batch runs in its own thread, with up to ``concurrency`` batches in flight (the
  server's ``--sqs-concurrency``, at most ``ScalingConfig.MaximumConcurrency``);
- the handler gets the exact event Lambda sends (:func:`sqs_record`) and a Lambda context;
- afterwards the messages that succeeded are deleted. With ``FunctionResponseTypes:
  [ReportBatchItemFailures]`` those are the ones not listed in ``batchItemFailures``; a
  malformed response or an exception fails the whole batch, as on Lambda. Without it, an
  exception fails the whole batch and any result succeeds it;
- failed messages become visible again after ``retry_delay_s`` (instead of the queue's
  ``VisibilityTimeout``, so retries happen quickly locally); the queue's ``RedrivePolicy``
  moves a message to its dead-letter queue once it has been received ``maxReceiveCount``
  times.

:class:`SqsPollers` groups the pollers of a server: it starts and stops them together and
counts the batches in flight, which :meth:`LocalServer.wait_for_queues_idle` uses.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .events import InvalidResponse, serialize_result
from .functions import LocalFunction
from .intrinsics import Resolver, to_string
from .resources import LocalResource
from .template import FunctionSpec, TemplateError

log = logging.getLogger(__name__)
batch_log = logging.getLogger("localserver.sqs")

QUEUE_TYPE = "AWS::SQS::Queue"
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
DEFAULT_CONCURRENCY = 4
"""Batches in flight per event source, unless ``--sqs-concurrency`` says otherwise."""
DEFAULT_RETRY_DELAY_S = 1
"""Seconds before a failed message is visible again (on AWS: the queue's VisibilityTimeout)."""
RECEIVE_WAIT_S = 1
"""Long-poll wait of each ReceiveMessage: the longest a stop waits for a receiver."""
STOP_GRACE_S = 2.0
"""How long stopping waits for running batches before leaving them to finish alone."""
MAX_RECEIVE = 10  # SQS's limit per ReceiveMessage (and per *MessageBatch call)
MAX_BATCH_SIZE = 10_000

_SYSTEM_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
)
# Included in the event only when the queue sets them (FIFO queues, tracing, redrive).
_OPTIONAL_SYSTEM_ATTRIBUTES = (
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)
_VISIBLE = "ApproximateNumberOfMessages"
_NOT_VISIBLE = "ApproximateNumberOfMessagesNotVisible"
_DELAYED = "ApproximateNumberOfMessagesDelayed"
_BACKLOG_READS = (_NOT_VISIBLE, _DELAYED, _VISIBLE, _NOT_VISIBLE)
"""The counts :meth:`SqsPollers.backlog` reads, one request each, in this order.

One GetQueueAttributes request does not count a queue at one instant: moto counts the visible
messages first and the invisible ones after, so a message whose retry delay ends in between is
in neither count. Read one count at a time, invisible first, and nothing slips through: a
message that becomes visible after the first read is in the visible count; one that a poller
receives after the visible read is in the last count, or, if its batch already ended, in the
batch counter that :meth:`LocalServer.wait_for_queues_idle` compares around this read.
"""


class BackgroundWorker(Protocol):
    """Something the server runs alongside the HTTP API (e.g. the queue pollers)."""

    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


# -- configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueSource:
    """One ``SQS`` event of a function, resolved against the local queues."""

    function_id: str
    event_name: str
    queue_id: str  # the queue's logical id
    queue_name: str
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    batching_window_s: float = 0.0
    report_batch_item_failures: bool = False
    concurrency: int = DEFAULT_CONCURRENCY

    def describe(self) -> str:
        window = f", window {self.batching_window_s:g} s" if self.batching_window_s else ""
        failures = ", item failures" if self.report_batch_item_failures else ""
        return (
            f"{self.queue_id} -> {self.function_id} "
            f"(batch {self.batch_size}{window}{failures}, {self.concurrency} concurrent)"
        )


def queue_sources(
    functions: Mapping[str, FunctionSpec],
    resolver: Resolver,
    resources: Mapping[str, LocalResource],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> list[QueueSource]:
    """The SQS event sources of ``functions`` whose queue exists locally.

    A disabled event (``Enabled: false``) or a queue that is not in the template is logged
    and skipped; settings Lambda would reject are a :class:`TemplateError`.
    """
    queues = {
        resource.attributes.get("Arn"): resource
        for resource in resources.values()
        if resource.type == QUEUE_TYPE
    }
    sources: list[QueueSource] = []
    for spec in functions.values():
        for event in spec.queue_events:
            where = f"function {spec.logical_id}: SQS event {event.name}"
            if to_string(resolver.resolve(event.enabled)) == "false":
                log.info("%s is disabled (Enabled: false); not polled", where)
                continue
            arn = resolver.resolve(event.queue)
            queue = queues.get(arn)
            if queue is None:
                log.warning("%s: queue %r is not in the template; not polled", where, arn)
                continue
            types = tuple(resolver.resolve(list(event.function_response_types)))
            unknown = set(types) - {REPORT_BATCH_ITEM_FAILURES}
            if unknown:
                raise TemplateError(f"{where}: unknown FunctionResponseTypes {sorted(unknown)}")
            try:
                batch_size = int(resolver.resolve(event.batch_size))
                window = float(resolver.resolve(event.maximum_batching_window_s) or 0)
                maximum = resolver.resolve(event.maximum_concurrency)
                maximum = int(maximum) if maximum is not None else None
            except (TypeError, ValueError) as error:
                raise TemplateError(f"{where}: {error}") from None
            if not 1 <= batch_size <= MAX_BATCH_SIZE:
                raise TemplateError(f"{where}: BatchSize must be 1 to {MAX_BATCH_SIZE}")
            if not 0 <= window <= 300:
                raise TemplateError(f"{where}: MaximumBatchingWindowInSeconds must be 0 to 300")
            if maximum is not None and maximum < 2:
                raise TemplateError(f"{where}: ScalingConfig.MaximumConcurrency must be >= 2")
            if event.filter_criteria:
                log.warning("%s: FilterCriteria is not emulated; every message is delivered", where)
            sources.append(
                QueueSource(
                    function_id=spec.logical_id,
                    event_name=event.name,
                    queue_id=queue.logical_id,
                    queue_name=queue.name,
                    queue_url=queue.attributes["QueueUrl"],
                    queue_arn=arn,
                    batch_size=batch_size,
                    batching_window_s=window,
                    report_batch_item_failures=REPORT_BATCH_ITEM_FAILURES in types,
                    concurrency=max(1, min(concurrency, maximum) if maximum else concurrency),
                )
            )
    return sources


# -- the event and the response -----------------------------------------------------------


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A message attribute as ReceiveMessage gives it → as the Lambda event has it."""
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    attribute["stringListValues"] = list(value.get("StringListValues") or [])
    attribute["binaryListValues"] = [
        base64.b64encode(item).decode("ascii") for item in value.get("BinaryListValues") or []
    ]
    attribute["dataType"] = value.get("DataType", "String")
    return attribute


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One entry of the event's ``Records``: a received message as Lambda passes it on."""
    attributes = message.get("Attributes") or {}
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            **{name: str(attributes.get(name, "")) for name in _SYSTEM_ATTRIBUTES},
            **{n: attributes[n] for n in _OPTIONAL_SYSTEM_ATTRIBUTES if n in attributes},
        },
        "messageAttributes": {
            name: _message_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record["eventSource"] = "aws:sqs"
    record["eventSourceARN"] = queue_arn
    record["awsRegion"] = region
    return record


class InvalidBatchResponse(Exception):
    """A partial batch response Lambda cannot use: it retries the whole batch."""


def failed_message_ids(payload: Any, message_ids: Sequence[str]) -> set[str]:
    """The ids a ``ReportBatchItemFailures`` response reports as failed.

    As Lambda: ``None``, ``{}``, and a missing, null or empty ``batchItemFailures`` mean all
    succeeded; anything else that is not a list of ``{"itemIdentifier": <an id of this
    batch>}`` raises :class:`InvalidBatchResponse` (the whole batch fails).
    """
    if payload is None:
        return set()
    if not isinstance(payload, dict):
        raise InvalidBatchResponse(
            f"expected an object with batchItemFailures, got {type(payload).__name__}"
        )
    failures = payload.get("batchItemFailures")
    if not failures:
        if failures not in (None, []):
            raise InvalidBatchResponse(f"batchItemFailures must be a list, got {failures!r}")
        return set()
    if not isinstance(failures, list):
        raise InvalidBatchResponse(
            f"batchItemFailures must be a list, got {type(failures).__name__}"
        )
    known = set(message_ids)
    failed: set[str] = set()
    for item in failures:
        if not isinstance(item, dict) or "itemIdentifier" not in item:
            raise InvalidBatchResponse(f"a batch item failure needs an itemIdentifier: {item!r}")
        identifier = item["itemIdentifier"]
        if not isinstance(identifier, str) or not identifier:
            raise InvalidBatchResponse(f"empty or null itemIdentifier: {item!r}")
        if identifier not in known:
            raise InvalidBatchResponse(f"itemIdentifier {identifier!r} is not in the batch")
        failed.add(identifier)
    return failed


def _chunks(items: Sequence[Any], size: int = MAX_RECEIVE) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- the pollers ---------------------------------------------------------------------------


class BatchCounter:
    """Batches started and finished, across all pollers (for waiting until idle)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = 0
        self.finished = 0

    def begin(self) -> None:
        with self._lock:
            self.started += 1

    def end(self) -> None:
        with self._lock:
            self.finished += 1

    def snapshot(self) -> tuple[int, int]:
        with self._lock:
            return self.started, self.finished


class SqsPoller:
    """Polls one queue for one function: receives batches, invokes, deletes or retries."""

    def __init__(
        self,
        source: QueueSource,
        function: LocalFunction,
        client: Any,
        *,
        region: str,
        retry_delay_s: int = DEFAULT_RETRY_DELAY_S,
        counter: BatchCounter | None = None,
    ) -> None:
        self.source = source
        self.function = function
        self.client = client
        self.region = region
        self.retry_delay_s = retry_delay_s
        self.counter = counter or BatchCounter()
        self.name = f"sqs:{source.queue_name}->{source.function_id}"
        self._stopping = threading.Event()
        self._paused = threading.Event()
        self._epoch = 0  # changes on pause/resume: errors from around a reset are expected
        self._slots = threading.BoundedSemaphore(source.concurrency)
        self._receiver: threading.Thread | None = None
        self._batches: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._failing = False
        self._sequence = 0

    # -- lifecycle

    def start(self) -> None:
        self._stopping.clear()
        self._receiver = threading.Thread(
            target=self._receive_loop, name=f"localserver-{self.name}", daemon=True
        )
        self._receiver.start()

    def request_stop(self) -> None:
        """Stop receiving; running batches finish on their own."""
        self._stopping.set()

    def join(self, deadline: float) -> bool:
        """Wait (until ``time.monotonic()`` reaches ``deadline``) for the threads to end."""
        if self._receiver is not None:
            self._receiver.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            batches = list(self._batches)
        for thread in batches:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            running = len(self._batches)
        return running == 0 and not (self._receiver and self._receiver.is_alive())

    def stop(self) -> None:
        self.request_stop()
        if not self.join(time.monotonic() + STOP_GRACE_S):
            log.warning("%s: a batch is still running; it is left to finish", self.name)

    def pause(self) -> None:
        """Receive nothing until :meth:`resume` (while moto is reset); errors are expected."""
        self._epoch += 1
        self._paused.set()

    def resume(self) -> None:
        self._epoch += 1
        self._paused.clear()

    def _expected_error(self, epoch: int) -> bool:
        return self._stopping.is_set() or self._paused.is_set() or epoch != self._epoch

    # -- receiving

    def _receive_loop(self) -> None:
        while not self._stopping.is_set():
            if self._paused.is_set():
                self._stopping.wait(0.05)
                continue
            if not self._slots.acquire(timeout=0.2):
                continue  # every batch slot is busy
            epoch = self._epoch
            try:
                messages = self._collect()
            except Exception as error:
                self._slots.release()
                self._receive_failed(error, epoch)
                self._stopping.wait(0.5)
                continue
            if self._failing:
                self._failing = False
                log.info("%s: receiving again", self.name)
            if not messages:
                self._slots.release()
                continue
            if self._stopping.is_set():
                self._release(messages)
                self._slots.release()
                break
            self.counter.begin()
            self._sequence += 1
            thread = threading.Thread(
                target=self._run_batch,
                args=(messages,),
                name=f"localserver-{self.name}-{self._sequence}",
                daemon=True,
            )
            with self._lock:
                self._batches.add(thread)
            thread.start()

    def _receive(self, count: int, wait_s: int) -> list[dict[str, Any]]:
        answer = self.client.receive_message(
            QueueUrl=self.source.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_s,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(answer.get("Messages") or [])

    def _collect(self) -> list[dict[str, Any]]:
        """One batch: what one long poll brings, topped up during the batching window."""
        source = self.source
        messages: list[dict[str, Any]] = []
        deadline: float | None = None
        while not self._stopping.is_set():
            wait_s = RECEIVE_WAIT_S
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                wait_s = min(RECEIVE_WAIT_S, int(remaining))
            try:
                received = self._receive(
                    min(MAX_RECEIVE, source.batch_size - len(messages)), wait_s
                )
            except Exception as error:
                if not messages:
                    raise
                # Deliver what was received rather than leave it invisible.
                log.debug("%s: cannot receive more for this batch: %s", self.name, error)
                break
            messages.extend(received)
            if not messages:
                return []
            if len(messages) >= source.batch_size or source.batching_window_s <= 0:
                break
            if deadline is None:
                deadline = time.monotonic() + source.batching_window_s
            if not received and wait_s == 0:
                self._stopping.wait(min(0.1, max(0.0, deadline - time.monotonic())))
        return messages

    def _receive_failed(self, error: Exception, epoch: int) -> None:
        if self._expected_error(epoch):
            log.debug("%s: cannot receive messages: %s", self.name, error)
            return
        if not self._failing:
            self._failing = True
            log.warning("%s: cannot receive messages (retrying): %s", self.name, error)
        else:
            log.debug("%s: cannot receive messages: %s", self.name, error)

    def _release(self, messages: Sequence[dict[str, Any]]) -> None:
        """Make received messages visible again (the poller is stopping)."""
        self._change_visibility(messages, 0, self._epoch)

    # -- running a batch

    def _run_batch(self, messages: list[dict[str, Any]]) -> None:
        try:
            self._process(messages)
        except Exception:
            batch_log.exception("%s: unexpected error handling a batch", self.name)
        finally:
            self.counter.end()
            with self._lock:
                self._batches.discard(threading.current_thread())
            self._slots.release()

    def _process(self, messages: list[dict[str, Any]]) -> None:
        source, function = self.source, self.function
        epoch = self._epoch
        ids = [message["MessageId"] for message in messages]
        event = {"Records": [sqs_record(m, source.queue_arn, self.region) for m in messages]}
        context = function.new_context()
        started = time.perf_counter()
        try:
            result = function.handler(event, context)
        except (Exception, SystemExit):
            batch_log.exception(
                "%s raised an exception on a batch of %d from %s; Lambda retries the batch",
                function.logical_id,
                len(messages),
                source.queue_name,
            )
            failed = set(ids)
        else:
            try:
                failed = self._failures(result, ids)
            except InvalidBatchResponse as error:
                batch_log.error(
                    "%s returned an invalid response to a batch from %s; "
                    "Lambda retries the whole batch: %s",
                    function.logical_id,
                    source.queue_name,
                    error,
                )
                failed = set(ids)
        elapsed = time.perf_counter() - started
        if elapsed > function.timeout_s:
            batch_log.warning(
                "%s took %.1f s, longer than its Timeout of %d s: Lambda would have stopped it",
                function.logical_id,
                elapsed,
                function.timeout_s,
            )
        self._settle(messages, failed, epoch)
        batch_log.info(
            "SQS %s -> %d message%s, %d failed in %.1f ms [%s -> %s]",
            source.queue_name,
            len(messages),
            "" if len(messages) == 1 else "s",
            len(failed),
            elapsed * 1000,
            source.event_name,
            function.logical_id,
        )

    def _failures(self, result: Any, ids: Sequence[str]) -> set[str]:
        try:
            payload = json.loads(serialize_result(result))
        except InvalidResponse as error:
            raise InvalidBatchResponse(str(error)) from None
        if not self.source.report_batch_item_failures:
            return set()
        return failed_message_ids(payload, ids)

    def _settle(self, messages: Sequence[dict[str, Any]], failed: set[str], epoch: int) -> None:
        """Delete what succeeded; make what failed visible again after the retry delay."""
        succeeded = [m for m in messages if m["MessageId"] not in failed]
        for chunk in _chunks(succeeded):
            try:
                answer = self.client.delete_message_batch(
                    QueueUrl=self.source.queue_url,
                    Entries=[
                        {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                        for index, message in enumerate(chunk)
                    ],
                )
            except Exception as error:
                level = logging.DEBUG if self._expected_error(epoch) else logging.WARNING
                log.log(level, "%s: cannot delete handled messages: %s", self.name, error)
                continue
            for failure in answer.get("Failed") or []:
                log.debug("%s: cannot delete a handled message: %s", self.name, failure)
        retry = [m for m in messages if m["MessageId"] in failed]
        self._change_visibility(retry, self.retry_delay_s, epoch)

    def _change_visibility(
        self, messages: Sequence[dict[str, Any]], seconds: int, epoch: int
    ) -> None:
        for chunk in _chunks(messages):
            try:
                answer = self.client.change_message_visibility_batch(
                    QueueUrl=self.source.queue_url,
                    Entries=[
                        {
                            "Id": str(index),
                            "ReceiptHandle": message["ReceiptHandle"],
                            "VisibilityTimeout": seconds,
                        }
                        for index, message in enumerate(chunk)
                    ],
                )
            except Exception as error:
                level = logging.DEBUG if self._expected_error(epoch) else logging.WARNING
                log.log(level, "%s: cannot change message visibility: %s", self.name, error)
                continue
            for failure in answer.get("Failed") or []:
                log.debug("%s: cannot change a message's visibility: %s", self.name, failure)


class SqsPollers:
    """All the queue pollers of a server, started and stopped together."""

    name = "sqs-pollers"

    def __init__(self, pollers: Sequence[SqsPoller], counter: BatchCounter) -> None:
        self.pollers = list(pollers)
        self.counter = counter

    @property
    def queue_urls(self) -> list[str]:
        return sorted({poller.source.queue_url for poller in self.pollers})

    def start(self) -> None:
        for poller in self.pollers:
            poller.start()

    def pause(self) -> None:
        for poller in self.pollers:
            poller.pause()

    def resume(self) -> None:
        for poller in self.pollers:
            poller.resume()

    def stop(self) -> None:
        """Stop all pollers at once; waits at most about :data:`STOP_GRACE_S` seconds."""
        for poller in self.pollers:
            poller.request_stop()
        deadline = time.monotonic() + STOP_GRACE_S
        for poller in self.pollers:
            if not poller.join(deadline):
                log.warning(
                    "%s: a batch is still running after %.0f s; it is left to finish on its own",
                    poller.name,
                    STOP_GRACE_S,
                )

    def backlog(self, client: Any) -> dict[str, dict[str, int]]:
        """Messages left in each polled queue: ``{queue_url: {attribute: count}}``."""
        counts: dict[str, dict[str, int]] = {}
        for url in self.queue_urls:
            queue = counts[url] = dict.fromkeys((_VISIBLE, _NOT_VISIBLE, _DELAYED), 0)
            for name in _BACKLOG_READS:
                attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=[name])
                queue[name] = max(queue[name], int(attributes["Attributes"].get(name, 0)))
        return counts


def make_pollers(
    sources: Sequence[QueueSource],
    functions: Mapping[str, LocalFunction],
    client_factory: Callable[[int], Any],
    *,
    region: str,
    retry_delay_s: int = DEFAULT_RETRY_DELAY_S,
) -> SqsPollers:
    """One poller per event source. ``client_factory(pool_size)`` makes an SQS client."""
    counter = BatchCounter()
    pollers = [
        SqsPoller(
            source,
            functions[source.function_id],
            client_factory(source.concurrency + 2),
            region=region,
            retry_delay_s=retry_delay_s,
            counter=counter,
        )
        for source in sources
    ]
    return SqsPollers(pollers, counter)
